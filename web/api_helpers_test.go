package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"idletrace/ingest"
	"idletrace/store"
)

// hostileMessage is event text made to break naive CSV, CEF and HTML output.
const hostileMessage = "pipe | equals = backslash \\ end\r\nsecond line <script>alert(1)</script> =cmd|' /C calc'!A0"

// seedFleet stores a fleet whose connections die after 900 s idle on
// computers HQ-PC01…HQ-PC12, enough for an idle-timeout diagnosis, plus one
// event with a hostile message. It returns the number of events stored.
func seedFleet(t testing.TB, db *store.DB) int {
	t.Helper()
	t0 := time.Date(2024, 5, 2, 8, 0, 0, 0, time.UTC)
	var evs []ingest.Event
	for c := 1; c <= 12; c++ {
		name := fmt.Sprintf("HQ-PC%02d.corp.example", c)
		at := t0.Add(time.Duration(c) * 37 * time.Second)
		rec := int64(1000)
		add := func(id int, msg string) {
			rec++
			evs = append(evs, ingest.Event{Computer: name, Channel: "Application", Provider: "Outlook", EventID: id,
				Qualifiers: 16384, Level: 4, RecordID: rec, Time: at, Precision: 100 * time.Nanosecond, Message: msg})
		}
		add(26, "Connection to Microsoft Exchange has been restored.")
		for i := 0; i < 15; i++ {
			at = at.Add(900*time.Second + time.Duration(i%3)*time.Second)
			msg := "The connection to Microsoft Exchange is unavailable."
			if c == 1 && i == 0 {
				msg = hostileMessage
			}
			add(25, msg)
			at = at.Add(20 * time.Second)
			add(26, "Connection to Microsoft Exchange has been restored.")
		}
	}
	n, _, err := db.InsertEvents(context.Background(), 0, evs)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// client sends requests with an optional bearer token.
type client struct {
	t     testing.TB
	base  string
	token string
	hc    *http.Client
}

func newClient(t testing.TB, base, token string) *client {
	return &client{t: t, base: base, token: token, hc: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       60 * time.Second,
	}}
}

func (c *client) do(method, path string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, b
}

func (c *client) get(path string) (*http.Response, []byte) { return c.do("GET", path, nil, nil) }

// getJSON GETs path, wants 200 and decodes into v.
func (c *client) getJSON(path string, v any) {
	c.t.Helper()
	resp, b := c.get(path)
	if resp.StatusCode != 200 {
		c.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		c.t.Fatalf("GET %s: %v in %s", path, err, b)
	}
}

// errorCode returns the code of a JSON error body, failing when it is not one.
func errorCode(t testing.TB, b []byte) string {
	t.Helper()
	var e struct {
		Error *struct{ Code, Message string }
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not a JSON error: %s", b)
	}
	return e.Error.Code
}

func mustToken(t testing.TB, db *store.DB, name, scope string) string {
	t.Helper()
	secret, _, err := db.CreateToken(context.Background(), name, scope)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, store.TokenPrefix) {
		t.Fatalf("token %q lacks the prefix", secret)
	}
	return secret
}
