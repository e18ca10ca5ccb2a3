package web_test

import (
	"strings"
	"testing"

	"idletrace/web"
)

// TestTokenCreateInvalid: a name the store refuses (blank, only spaces, too
// long, control characters) or an unknown scope is a 422 "invalid", never
// a 500: *store.ValidationError is mapped in one place.
func TestTokenCreateInvalid(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	c := newClient(t, ts.URL, mustToken(t, ts.db, "admin", "admin"))
	for _, body := range []string{
		`{"name":"","scope":"read"}`,
		`{"name":"   ","scope":"read"}`,
		`{"name":"a\u0007b","scope":"read"}`,
		`{"name":"` + strings.Repeat("x", 101) + `","scope":"read"}`,
		`{"name":"x","scope":"root"}`,
	} {
		resp, b := c.do("POST", "/api/v1/tokens", strings.NewReader(body), map[string]string{"Content-Type": "application/json"})
		if resp.StatusCode != 422 || errorCode(t, b) != "invalid" {
			t.Errorf("%s: %d %s", body, resp.StatusCode, b)
		}
	}
}
