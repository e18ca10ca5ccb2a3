package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"idletrace/web"
)

// TestIntervalsPage: the drill-down by length lists exactly the pairs of
// the API whose uptime lies in [lo, hi), of the computers whose names
// start with the prefix.
func TestIntervalsPage(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	start := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	storeUpload(t, ts.db, "hq", timeoutFleet("HQ-PC", 5, 2, start, 900*time.Second, start.AddDate(0, 0, 1)))
	storeUpload(t, ts.db, "br", timeoutFleet("BR-LT", 3, 2, start, 600*time.Second, time.Time{}))
	type pair struct {
		Computer      string   `json:"computer"`
		UptimeSeconds *float64 `json:"uptime_seconds"`
	}
	var all []pair
	for after := ""; ; {
		var page struct {
			Items []pair
			Next  string
		}
		u := ts.URL + "/api/v1/pairs?limit=1000"
		if after != "" {
			u += "&after=" + url.QueryEscape(after)
		}
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", u, resp.StatusCode)
		}
		json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		all = append(all, page.Items...)
		if after = page.Next; after == "" {
			break
		}
	}
	count := func(prefix string, lo, hi float64) int {
		n := 0
		for _, p := range all {
			if p.UptimeSeconds != nil && *p.UptimeSeconds > 0 && *p.UptimeSeconds >= lo && *p.UptimeSeconds < hi && strings.HasPrefix(strings.ToLower(p.Computer), prefix) {
				n++
			}
		}
		return n
	}
	re := regexp.MustCompile(`<strong>(\d+)</strong> intervals? of <strong>(\d+)</strong>`)
	for _, c := range []struct {
		q          string
		prefix     string
		lo, hi     float64
		computers  int
		atLeastOne bool
	}{
		{"lo=890&hi=920", "", 890, 920, 5, true},
		{"lo=590&hi=620", "", 590, 620, 3, true},
		{"lo=590&hi=620&computer=br-", "br-", 590, 620, 3, true},
		{"lo=590&hi=620&computer=HQ-", "hq-", 590, 620, 0, false},
		{"lo=3000&hi=36000", "", 3000, 36000, 5, true}, // after the fix: outside any diagnosis
	} {
		code, page := getPage(t, ts.URL+"/intervals?"+c.q)
		m := re.FindStringSubmatch(page)
		want := count(c.prefix, c.lo, c.hi)
		if code != 200 || m == nil || m[1] != fmt.Sprint(want) || m[2] != fmt.Sprint(c.computers) || (c.atLeastOne && want == 0) {
			t.Errorf("/intervals?%s: %d %v, want %d intervals of %d computers", c.q, code, m, want, c.computers)
		}
	}
	if code, _ := getPage(t, ts.URL+"/intervals?lo=abc"); code != http.StatusBadRequest {
		t.Errorf("/intervals?lo=abc: %d, want 400", code)
	}
}

// TestDisplayZoneCookie: the zone a browser chooses is remembered in a
// cookie and the pages show times in it; a bad zone is refused, and the
// form returns only to a page of this server.
func TestDisplayZoneCookie(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	start := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	storeUpload(t, ts.db, "hq", timeoutFleet("HQ-PC", 4, 1, start, 900*time.Second, time.Time{}))
	post := func(form url.Values) *http.Response {
		t.Helper()
		resp, err := noRedirect.PostForm(ts.URL+"/display-zone", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := post(url.Values{"tz": {"Europe/Berlin"}, "back": {"/events?order=asc"}})
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "idletrace_tz" {
			cookie = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/events?order=asc" || cookie == nil || cookie.Value != "Europe/Berlin" || !cookie.HttpOnly {
		t.Fatalf("set zone: %d Location %q cookie %+v", resp.StatusCode, resp.Header.Get("Location"), cookie)
	}
	for _, back := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example"} {
		if loc := post(url.Values{"tz": {"UTC"}, "back": {back}}).Header.Get("Location"); loc != "/" {
			t.Errorf("back %q redirected to %q, want /", back, loc)
		}
	}
	for _, bad := range []string{"Local", "../../etc/passwd", "Mars/Olympus", strings.Repeat("A", 80)} {
		if code := post(url.Values{"tz": {bad}}).StatusCode; code != http.StatusBadRequest {
			t.Errorf("zone %q: %d, want 400", bad, code)
		}
	}
	get := func(path string, c *http.Cookie) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		if c != nil {
			req.AddCookie(c)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 1<<16)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return b.String()
	}
	for _, p := range []string{"/", "/events", "/computers", "/computers/HQ-PC01.corp.example"} {
		berlin, plain := get(p, cookie), get(p, nil)
		if !strings.Contains(berlin, " CEST") || strings.Contains(berlin, ":00 UTC") || !strings.Contains(berlin, "Times shown in Europe/Berlin") {
			t.Errorf("%s with the cookie is not in Europe/Berlin", p)
		}
		if strings.Contains(plain, " CEST") || !strings.Contains(plain, "Times shown in UTC") {
			t.Errorf("%s without the cookie is not in the server's UTC", p)
		}
	}
}
