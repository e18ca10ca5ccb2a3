package web_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"idletrace/store"
	"idletrace/web"
)

// routeList walks the server's router: every method and pattern.
func routeList(t testing.TB, db *store.DB) [][2]string {
	t.Helper()
	srv, err := web.NewServer(web.Config{TempDir: t.TempDir()}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	err = chi.Walk(srv.Handler().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		out = append(out, [2]string{method, route})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// publicRoutes need no token.
var publicRoutes = map[string]bool{
	"GET /healthz": true, "GET /readyz": true, "GET /static/*": true,
	"GET /login": true, "POST /login": true, "GET /logout": true, "POST /logout": true,
}

// apiScopes is the scope policy of the API, written out: the scopes of
// which a token needs one.
var apiScopes = map[string][]string{
	"POST /api/v1/uploads":                {"ingest"},
	"POST /api/v1/events":                 {"ingest"},
	"GET /api/v1/uploads/{uploadID}":      {"ingest", "read"},
	"POST /display-zone":                  {"read", "ingest"}, // a preference of whoever is signed in
	"GET /api/v1/report":                  {"read"},
	"GET /api/v1/events":                  {"read"},
	"GET /api/v1/computers":               {"read"},
	"GET /api/v1/computers/{name}":        {"read"},
	"GET /api/v1/pairs":                   {"read"},
	"GET /api/v1/diagnoses":               {"read"},
	"GET /api/v1/diagnoses/{diagnosisID}": {"read"},
	"GET /api/v1/export":                  {"read"},
	"GET /api/v1/openapi.json":            {"read"},
	"GET /api/v1/tokens":                  {"admin"},
	"POST /api/v1/tokens":                 {"admin"},
	"DELETE /api/v1/tokens/{tokenID}":     {"admin"},
	"GET /metrics":                        {"read"},
	"POST /demo":                          {"admin"},
}

// scopesFor is the policy for a route: the API's as listed, pages by
// method (reading needs read, anything else ingest).
func scopesFor(method, route string) []string {
	if s, ok := apiScopes[method+" "+route]; ok {
		return s
	}
	if method == "GET" || method == "HEAD" {
		return []string{"read"}
	}
	return []string{"ingest"}
}

func wrongScope(allowed []string) string {
	for _, s := range []string{"read", "ingest"} {
		ok := true
		for _, a := range allowed {
			ok = ok && a != s
		}
		if ok {
			return s
		}
	}
	return "" // every non-admin scope is allowed
}

// TestAuthMatrix: every route × (no token, wrong scope, right scope,
// revoked token) gives the right status.
func TestAuthMatrix(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	seedFleet(t, ts.db)
	var diagID string
	{
		c := newClient(t, ts.URL, mustToken(t, ts.db, "setup", "admin"))
		var p struct{ Items []struct{ ID string } }
		c.getJSON("/api/v1/diagnoses", &p)
		if len(p.Items) == 0 {
			t.Fatal("the seeded fleet has no diagnosis")
		}
		diagID = p.Items[0].ID
	}
	tokens := map[string]string{}
	for _, s := range []string{"read", "ingest", "admin"} {
		tokens[s] = mustToken(t, ts.db, "matrix-"+s, s)
	}
	revoked := mustToken(t, ts.db, "matrix-revoked", "admin")
	if _, err := ts.db.RevokeToken(context.Background(), "matrix-revoked"); err != nil {
		t.Fatal(err)
	}

	cases := 0
	for _, rt := range routeList(t, ts.db) {
		method, route := rt[0], rt[1]
		key := method + " " + route
		path := strings.NewReplacer("{uploadID}", "1", "{name}", "HQ-PC01.corp.example", "{diagnosisID}", diagID, "/*", "/style.css").Replace(route)
		if route == "/api/v1/export" {
			path += "?kind=events&format=ndjson"
		}
		isAPI := strings.HasPrefix(route, "/api/") || route == "/metrics"
		send := func(token string) (*http.Response, []byte) {
			p := path
			if strings.Contains(route, "{tokenID}") {
				_, victim, err := ts.db.CreateToken(context.Background(), "victim", "read")
				if err != nil {
					t.Fatal(err)
				}
				p = strings.Replace(route, "{tokenID}", strconv.FormatInt(victim.ID, 10), 1)
			}
			body, ctype := strings.NewReader("not a log"), "application/octet-stream"
			switch route {
			case "/api/v1/tokens":
				body, ctype = strings.NewReader(`{"name":"from-matrix","scope":"read"}`), "application/json"
			case "/api/v1/events":
				body, ctype = strings.NewReader(`[]`), "application/json"
			}
			cases++
			return newClient(t, ts.URL, token).do(method, p, body, map[string]string{"Content-Type": ctype})
		}
		if route == "/static/*" && method != "GET" {
			continue // the file server answers any method; GET is the one that matters
		}
		t.Run(strings.ReplaceAll(key, "/", "_"), func(t *testing.T) {
			if publicRoutes[key] {
				for _, tok := range []string{"", tokens["read"], revoked} {
					resp, b := send(tok)
					if key == "POST /login" && resp.StatusCode == 401 {
						continue // "not a log" is no token: a failed login, not a closed door
					}
					if resp.StatusCode == 401 || resp.StatusCode == 403 || resp.StatusCode >= 500 {
						t.Errorf("public route: %d %s", resp.StatusCode, b)
					}
				}
				return
			}
			allowed := scopesFor(method, route)

			resp, b := send("")
			switch {
			case isAPI:
				if resp.StatusCode != 401 || errorCode(t, b) != "unauthorized" || resp.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("no token: %d %s", resp.StatusCode, b)
				}
			case method == "GET":
				if loc := resp.Header.Get("Location"); resp.StatusCode != 303 || !strings.HasPrefix(loc, "/login?next=") {
					t.Errorf("no token, page: %d to %q", resp.StatusCode, loc)
				}
			default:
				if resp.StatusCode != 401 {
					t.Errorf("no token, page %s: %d", method, resp.StatusCode)
				}
			}

			if wrong := wrongScope(allowed); wrong != "" {
				resp, b := send(tokens[wrong])
				if resp.StatusCode != 403 {
					t.Errorf("scope %s: %d %s", wrong, resp.StatusCode, b)
				} else if isAPI && errorCode(t, b) != "forbidden" {
					t.Errorf("scope %s: code %s", wrong, b)
				}
			}

			for _, scope := range append(allowed, "admin") {
				resp, b := send(tokens[scope])
				if resp.StatusCode == 401 || resp.StatusCode == 403 || resp.StatusCode >= 500 {
					t.Errorf("scope %s: %d %s", scope, resp.StatusCode, b)
				}
			}

			resp, b = send(revoked)
			if resp.StatusCode != 401 {
				t.Errorf("revoked: %d %s", resp.StatusCode, b)
			} else if isAPI && errorCode(t, b) != "token_revoked" {
				t.Errorf("revoked: %s", b)
			}
		})
	}
	t.Logf("auth matrix: %d requests", cases)
	if cases < 100 {
		t.Errorf("only %d requests: routes missing?", cases)
	}
}

// TestOpenOnlyOnLoopback: with no token the server is open to loopback
// connections only (unless NoAuth); once a token exists it never is.
func TestOpenOnlyOnLoopback(t *testing.T) {
	ts := newTestServer(t, web.Config{})
	anon := newClient(t, ts.URL, "")
	if resp, b := anon.get("/api/v1/events"); resp.StatusCode != 200 {
		t.Fatalf("open on loopback: %d %s", resp.StatusCode, b)
	}

	// A connection that arrived on another address.
	srv, err := web.NewServer(web.Config{TempDir: t.TempDir()}, ts.db, nil)
	if err != nil {
		t.Fatal(err)
	}
	remote := func(h http.Handler) int {
		req := httptest.NewRequest("GET", "http://192.0.2.10:8080/api/v1/events", nil)
		req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.ParseIP("192.0.2.10"), Port: 8080}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := remote(srv.Handler()); code != 401 {
		t.Errorf("off loopback, no token, no -no-auth: %d, want 401", code)
	}
	open, err := web.NewServer(web.Config{TempDir: t.TempDir(), NoAuth: true}, ts.db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code := remote(open.Handler()); code != 200 {
		t.Errorf("off loopback under NoAuth: %d, want 200", code)
	}

	mustToken(t, ts.db, "first", "read")
	if resp, _ := anon.get("/api/v1/events"); resp.StatusCode != 401 {
		t.Errorf("loopback after a token exists: %d, want 401", resp.StatusCode)
	}
	if code := remote(open.Handler()); code != 401 {
		t.Errorf("NoAuth after a token exists: %d, want 401", code)
	}
}

// TestLoginSession: a page without a session goes to /login; a pasted
// token gives an HttpOnly SameSite cookie that works for pages and the
// page's own API calls; logout ends it; revoking the token ends it too.
func TestLoginSession(t *testing.T) {
	ts := newTestServer(t, web.Config{})
	token := mustToken(t, ts.db, "analyst", "read")
	c := newClient(t, ts.URL, "")
	resp, _ := c.get("/uploads")
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/login?next=%2Fuploads" {
		t.Fatalf("no session: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, b := c.get("/login?next=%2Fuploads"); resp.StatusCode != 200 || !strings.Contains(string(b), `name="token"`) {
		t.Fatalf("login page: %d", resp.StatusCode)
	}
	form := func(tok, next string) string { return url.Values{"token": {tok}, "next": {next}}.Encode() }
	formHdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}

	if resp, _ := c.do("POST", "/login", strings.NewReader(form("itk_wrong", "/")), formHdr); resp.StatusCode != 401 || len(resp.Cookies()) != 0 {
		t.Fatalf("bad token: %d %v", resp.StatusCode, resp.Cookies())
	}
	// A cross-site login post is refused (CSRF).
	xs := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
	if resp, _ := c.do("POST", "/login", strings.NewReader(form(token, "/")), xs); resp.StatusCode != 403 {
		t.Fatalf("cross-site login: %d", resp.StatusCode)
	}
	// An open redirect is not followed.
	resp, _ = c.do("POST", "/login", strings.NewReader(form(token, "//evil.example/")), formHdr)
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "idletrace_session" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Secure {
		t.Fatalf("session cookie: %+v", session)
	}
	if strings.Contains(session.Value, token) {
		t.Fatal("the cookie carries the token")
	}
	withCookie := func(path string) int {
		resp, _ := c.do("GET", path, nil, map[string]string{"Cookie": "idletrace_session=" + session.Value})
		return resp.StatusCode
	}
	if code := withCookie("/uploads"); code != 200 {
		t.Fatalf("page with session: %d", code)
	}
	if code := withCookie("/api/v1/events"); code != 200 {
		t.Fatalf("API with session: %d", code)
	}
	if code := withCookie("/api/v1/tokens"); code != 403 {
		t.Fatalf("admin API with a read session: %d", code)
	}
	resp, _ = c.do("POST", "/logout", nil, map[string]string{"Cookie": "idletrace_session=" + session.Value})
	if resp.StatusCode != 303 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if code := withCookie("/api/v1/events"); code != 401 {
		t.Fatalf("after logout: %d", code)
	}

	// Revoking the token ends its sessions.
	resp, _ = c.do("POST", "/login", strings.NewReader(form(token, "/")), formHdr)
	session = resp.Cookies()[0]
	if code := withCookie("/api/v1/events"); code != 200 {
		t.Fatalf("second session: %d", code)
	}
	if _, err := ts.db.RevokeToken(context.Background(), "analyst"); err != nil {
		t.Fatal(err)
	}
	if code := withCookie("/api/v1/events"); code != 401 {
		t.Fatalf("session of a revoked token: %d", code)
	}
}

// TestSecureCookieUnderTLS: the session cookie is Secure over HTTPS.
func TestSecureCookieUnderTLS(t *testing.T) {
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "tls.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	token := mustToken(t, db, "tls", "read")
	srv, err := web.NewServer(web.Config{TempDir: t.TempDir()}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	startServer(t, srv)
	ts := httptest.NewTLSServer(srv.Handler())
	defer ts.Close()
	c := newClient(t, ts.URL, "")
	c.hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	resp, _ := c.do("POST", "/login", strings.NewReader("token="+token), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if resp.StatusCode != 303 || len(resp.Cookies()) != 1 || !resp.Cookies()[0].Secure {
		t.Fatalf("TLS login: %d %+v", resp.StatusCode, resp.Cookies())
	}
	// Issue 17 row 12: HSTS under TLS, so a browser never falls back to
	// plain HTTP on the path.
	if h := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(h, "max-age=") {
		t.Errorf("no HSTS under TLS: %q", h)
	}
}

// TestRateLimit: past the limit a token gets 429 JSON with Retry-After;
// another token is not affected.
func TestRateLimit(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: 3})
	a := newClient(t, ts.URL, mustToken(t, ts.db, "a", "read"))
	b := newClient(t, ts.URL, mustToken(t, ts.db, "b", "read"))
	for i := 0; i < 3; i++ {
		if resp, body := a.get("/api/v1/events"); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
	}
	resp, body := a.get("/api/v1/events")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || errorCode(t, body) != "rate_limited" {
		t.Fatalf("over the limit: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if resp, _ := b.get("/api/v1/events"); resp.StatusCode != 200 {
		t.Fatalf("other token: %d", resp.StatusCode)
	}
}

// TestBodyLimits: JSON too deep is a 400, a body over the limit a 413.
func TestBodyLimits(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	c := newClient(t, ts.URL, mustToken(t, ts.db, "admin", "admin"))
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	resp, b := c.do("POST", "/api/v1/tokens", strings.NewReader(`{"name":`+deep+`}`), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 400 || errorCode(t, b) != "too_deep" {
		t.Errorf("deep JSON: %d %s", resp.StatusCode, b)
	}
	big := `{"name":"` + strings.Repeat("x", 2<<20) + `","scope":"read"}`
	resp, b = c.do("POST", "/api/v1/tokens", strings.NewReader(big), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 413 {
		t.Errorf("big JSON: %d %s", resp.StatusCode, b)
	}
	resp, b = c.do("POST", "/api/v1/tokens", strings.NewReader(`{"name":"x","scope":"read","extra":1}`), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 400 {
		t.Errorf("unknown field: %d %s", resp.StatusCode, b)
	}
	resp, b = c.do("POST", "/api/v1/tokens", strings.NewReader(`{"name":"x","scope":"root"}`), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 422 {
		t.Errorf("bad scope: %d %s", resp.StatusCode, b)
	}
	resp, b = c.do("POST", "/login", strings.NewReader("token="+strings.Repeat("a", 20000)), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if resp.StatusCode != 400 && resp.StatusCode != 413 {
		t.Errorf("big login form: %d %s", resp.StatusCode, b)
	}
}

// TestLoginNextStaysOnSite (issue 17 row 4): the redirect after login is
// checked on the path the browser will be sent to, after cleaning:
// "/./\evil.example" cleans to "/\evil.example", which browsers read as
// "//evil.example".
func TestLoginNextStaysOnSite(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	token := mustToken(t, ts.db, "analyst", "read")
	c := newClient(t, ts.URL, "")
	formHdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for next, want := range map[string]string{
		`/./\evil.example`:      "/",
		`/.//evil.example`:      "/evil.example",
		`/a/../\evil.example`:   "/",
		`/%2e/%5cevil.example`:  "/%2e/%5cevil.example", // escaped: a path on this site
		`/x/..//evil.example/`:  "/evil.example/",
		"/\\evil.example":       "/",
		`/uploads/../computers`: "/computers",
		"/events?computer=a/b":  "/events?computer=a/b",
		"https://evil.example/": "/",
	} {
		body := url.Values{"token": {token}, "next": {next}}.Encode()
		resp, _ := c.do("POST", "/login", strings.NewReader(body), formHdr)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != 303 || loc != want {
			t.Errorf("next=%q: %d to %q, want %q", next, resp.StatusCode, loc, want)
		}
		if u, err := url.Parse(loc); err != nil || u.Host != "" || strings.HasPrefix(loc, "//") || strings.Contains(loc, `\`) {
			t.Errorf("next=%q: redirect %q leaves the site", next, loc)
		}
	}
}

// TestHostAllowList (issue 17 row 1): DNS rebinding. While the server is
// open (no token, loopback), a page of another site whose name was
// rebound to 127.0.0.1 looks same-origin to the CSRF layer; only the Host
// header tells it apart. Such a Host is refused, so the page can neither
// read nor create the admin token that would lock the owner out.
func TestHostAllowList(t *testing.T) {
	send := func(ts *testServer, method, host, path, body, token string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		req.Header.Set("Origin", "http://"+host)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	ts := newTestServer(t, web.Config{RateLimit: -1})
	port := ts.URL[strings.LastIndex(ts.URL, ":"):]
	const rebound = "rebind.attacker.example"
	if code, b := send(ts, "POST", rebound+port, "/api/v1/tokens", `{"name":"x","scope":"admin"}`, ""); code != http.StatusMisdirectedRequest {
		t.Fatalf("rebound host creating a token: %d %s", code, b)
	}
	if code, _ := send(ts, "GET", rebound+port, "/api/v1/events", "", ""); code != http.StatusMisdirectedRequest {
		t.Fatalf("rebound host reading: %d", code)
	}
	if code, _ := send(ts, "GET", rebound, "/", "", ""); code != http.StatusMisdirectedRequest {
		t.Fatalf("rebound host, dashboard: %d", code)
	}
	if n, _ := ts.db.CountTokens(context.Background()); n != 0 {
		t.Fatalf("%d tokens created through a rebound host", n)
	}
	for _, h := range []string{"localhost" + port, "127.0.0.1" + port, "[::1]" + port, "app.localhost" + port, "LOCALHOST."} {
		if code, b := send(ts, "GET", h, "/api/v1/events", "", ""); code != 200 {
			t.Errorf("Host %q while open: %d %s", h, code, b)
		}
	}

	// A name the operator allowed (-allowed-hosts, -public-url).
	named := newTestServer(t, web.Config{RateLimit: -1, AllowedHosts: []string{"idletrace.corp.example"}})
	if code, _ := send(named, "GET", "idletrace.corp.example", "/api/v1/events", "", ""); code != 200 {
		t.Errorf("allowed host: %d", code)
	}
	if code, _ := send(named, "GET", rebound, "/api/v1/events", "", ""); code != http.StatusMisdirectedRequest {
		t.Errorf("other host with an allow-list: %d", code)
	}
	// With tokens, the list still holds when given; without one any name
	// is accepted (a token is needed anyway, and a rebound page has none).
	tok := mustToken(t, named.db, "r", "read")
	if code, _ := send(named, "GET", rebound, "/api/v1/events", "", tok); code != http.StatusMisdirectedRequest {
		t.Errorf("other host with an allow-list and a token: %d", code)
	}
	mustToken(t, ts.db, "r", "read")
	if code, _ := send(ts, "GET", rebound, "/api/v1/events", "", ""); code != 401 {
		t.Errorf("any host once tokens exist: %d, want 401", code)
	}
}

// TestRateLimitUnauthenticated (issue 17 row 6): requests with a missing or
// bad token count against their address's limit too; past it they get 429,
// not another 401. A client with a good token from elsewhere is unaffected.
func TestRateLimitUnauthenticated(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: 5})
	good := newClient(t, ts.URL, mustToken(t, ts.db, "a", "read"))
	for _, tok := range []string{"itk_bad", ""} {
		bad := newClient(t, ts.URL, tok)
		codes := map[int]int{}
		for range 20 {
			resp, _ := bad.do("GET", "/api/v1/events", nil, map[string]string{"Accept": "application/json"})
			codes[resp.StatusCode]++
		}
		if codes[429] == 0 || codes[401] > 5 {
			t.Errorf("token %q: 20 requests answered %v, want at most 5 × 401 then 429s", tok, codes)
		}
	}
	if resp, b := good.get("/api/v1/events"); resp.StatusCode != 200 {
		t.Errorf("a good token after the flood: %d %s", resp.StatusCode, b)
	}
}

// TestIngestTokenSeesOnlyItsUploads (issue 17 row 7): a token of scope
// ingest may follow its own upload, not read another's details (its file
// name, its warnings).
func TestIngestTokenSeesOnlyItsUploads(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	a := newClient(t, ts.URL, mustToken(t, ts.db, "agent-a", "ingest"))
	b := newClient(t, ts.URL, mustToken(t, ts.db, "agent-b", "ingest"))
	reader := newClient(t, ts.URL, mustToken(t, ts.db, "analyst", "read"))
	const line = `{"computer":"PC1.corp.example","channel":"Application","provider":"Outlook","event_id":25,"record_id":1,"time":"2024-05-02T07:41:12Z","message":"x"}` + "\n"
	resp, body := a.do("POST", "/api/v1/uploads?name=CONFIDENTIAL-ceo-laptop.ndjson", strings.NewReader(line), map[string]string{"Content-Type": "application/x-ndjson"})
	if resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	var created struct {
		Items []struct {
			Upload struct{ ID int64 }
		}
	}
	if err := json.Unmarshal(body, &created); err != nil || len(created.Items) != 1 || created.Items[0].Upload.ID == 0 {
		t.Fatalf("upload answer: %v %s", err, body)
	}
	path := "/api/v1/uploads/" + strconv.FormatInt(created.Items[0].Upload.ID, 10)
	if resp, b := a.get(path); resp.StatusCode != 200 || !strings.Contains(string(b), "CONFIDENTIAL") {
		t.Errorf("its own upload: %d %s", resp.StatusCode, b)
	}
	if resp, body := b.get(path); resp.StatusCode != 404 || strings.Contains(string(body), "CONFIDENTIAL") {
		t.Errorf("another ingest token reads the upload: %d %s", resp.StatusCode, body)
	}
	if resp, _ := reader.get(path); resp.StatusCode != 200 {
		t.Errorf("a read token: %d", resp.StatusCode)
	}
}

// TestDemoNeedsAdminAndAnEmptyDatabase (issue 17 row 8): the demo fleet is
// generated data; loading it needs scope admin and is refused once the
// database holds real uploads.
func TestDemoNeedsAdminAndAnEmptyDatabase(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	ingest := newClient(t, ts.URL, mustToken(t, ts.db, "agent", "ingest"))
	admin := newClient(t, ts.URL, mustToken(t, ts.db, "root", "admin"))
	if resp, b := ingest.do("POST", "/demo", nil, nil); resp.StatusCode != 403 {
		t.Fatalf("ingest token loads the demo: %d %s", resp.StatusCode, b)
	}
	const line = `{"computer":"PC1.corp.example","channel":"Application","provider":"Outlook","event_id":25,"record_id":1,"time":"2024-05-02T07:41:12Z","message":"x"}` + "\n"
	if resp, b := ingest.do("POST", "/api/v1/uploads?name=real.ndjson", strings.NewReader(line), map[string]string{"Content-Type": "application/x-ndjson"}); resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	if resp, b := admin.do("POST", "/demo", nil, map[string]string{"Accept": "application/json"}); resp.StatusCode != 409 || errorCode(t, b) != "has_data" {
		t.Fatalf("demo into real data: %d %s", resp.StatusCode, b)
	}
	if n, _ := ts.db.UploadCount(context.Background()); n != 1 {
		t.Fatalf("%d uploads after a refused demo", n)
	}
}

// TestLoginOnReadOnlyDatabase (issue 17 row 11): under -db-read-only a
// session cannot be written to the database; it is kept in memory, so
// people can still log in, use the pages and log out.
func TestLoginOnReadOnlyDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "archive.db")
	rw, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	token := mustToken(t, rw, "analyst", "read")
	rw.Close()
	db, err := store.OpenWithOptions(ctx, path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	srv, err := web.NewServer(web.Config{TempDir: t.TempDir(), RateLimit: -1}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, newHTTPTest(t, srv).URL, "")
	form := url.Values{"token": {token}, "next": {"/uploads"}}.Encode()
	resp, b := c.do("POST", "/login", strings.NewReader(form), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if resp.StatusCode != 303 || len(resp.Cookies()) != 1 {
		t.Fatalf("login on a read-only database: %d %s", resp.StatusCode, b)
	}
	cookie := map[string]string{"Cookie": "idletrace_session=" + resp.Cookies()[0].Value}
	if resp, _ := c.do("GET", "/uploads", nil, cookie); resp.StatusCode != 200 {
		t.Fatalf("page with the session: %d", resp.StatusCode)
	}
	if resp, _ := c.do("GET", "/api/v1/events", nil, cookie); resp.StatusCode != 200 {
		t.Fatalf("API with the session: %d", resp.StatusCode)
	}
	if resp, b := c.do("POST", "/logout", nil, cookie); resp.StatusCode != 303 {
		t.Fatalf("logout: %d %s", resp.StatusCode, b)
	}
	if resp, _ := c.do("GET", "/api/v1/events", nil, cookie); resp.StatusCode != 401 {
		t.Fatalf("after logout: %d", resp.StatusCode)
	}
}
