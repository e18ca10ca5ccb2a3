package web

import (
	"bytes"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode"

	"idletrace/store"
)

// sessionTTL is how long a dashboard login lasts.
const sessionTTL = 12 * time.Hour

// maxLoginBody caps the login form: it holds a token and a path.
const maxLoginBody = 8 << 10

// loginTemplate is the login page. It stands alone (no navigation: nothing
// behind it is reachable yet) and is parsed once, at start.
var loginTemplate = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · idletrace</title>
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<header class="top"><span class="brand">idletrace</span></header>
<main id="main">
{{if .LoggedOut}}
<h1>Log out</h1>
<form method="post" action="/logout"><button type="submit">Log out</button></form>
{{else}}
<h1>Log in</h1>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
{{if .Open}}<p class="meta">No token exists yet, so this server is open to local connections: there is no need to log in.
<a href="/">Go to the dashboard</a>.</p>{{end}}
<form method="post" action="/login">
<p><label for="token">API token</label><br>
<input id="token" name="token" type="password" autocomplete="off" required size="60" spellcheck="false"></p>
<input type="hidden" name="next" value="{{.Next}}">
<p><button type="submit">Log in</button></p>
</form>
<p class="meta">Paste a token with scope <code>read</code> or <code>admin</code>. An administrator creates one with
<code>server token create --name NAME --scope read</code>; it is shown only once.</p>
{{end}}
</main>
</body>
</html>
`))

type loginPage struct {
	Title     string
	Error     string
	Next      string
	Open      bool
	LoggedOut bool
}

func renderLogin(w http.ResponseWriter, log *slog.Logger, status int, p *loginPage) {
	var buf bytes.Buffer
	if err := loginTemplate.Execute(&buf, p); err != nil {
		log.Error("render login", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// safeNext keeps a post-login redirect on this site: a local absolute path,
// never "//host" or "/\host" (which browsers treat as another host). The
// check runs once, on the path as http.Redirect will send it (cleaned:
// "/./\host" would become "/\host"), and that cleaned path is returned, so
// what was checked is what the browser gets. A backslash anywhere is
// refused: browsers read it as a slash.
func safeNext(next string) string {
	if len(next) > 2000 || strings.ContainsAny(next, "\\\r\n\t") || strings.ContainsFunc(next, unicode.IsControl) {
		return "/"
	}
	p, query, hasQuery := strings.Cut(next, "?")
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return "/"
	}
	cleaned := path.Clean(p)
	if strings.HasSuffix(p, "/") && !strings.HasSuffix(cleaned, "/") {
		cleaned += "/"
	}
	if hasQuery {
		cleaned += "?" + query
	}
	if strings.HasPrefix(cleaned, "//") {
		return "/"
	}
	if u, err := url.Parse(cleaned); err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" {
		return "/"
	}
	return cleaned
}

func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	n, err := s.db.CountTokens(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	renderLogin(w, s.log, http.StatusOK, &loginPage{Title: "Log in", Next: safeNext(r.URL.Query().Get("next")), Open: n == 0})
}

// handleLogin checks the pasted token and starts a session: the cookie is
// HttpOnly, SameSite=Lax and Secure under TLS. Cross-site posts are refused
// by the CrossOriginProtection middleware before this runs.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		s.writeError(w, r, errBadRequest("bad login form"))
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	t, err := s.db.AuthenticateToken(r.Context(), strings.TrimSpace(r.PostForm.Get("token")))
	if err != nil {
		msg := "That token is not valid."
		if errors.Is(err, store.ErrRevoked) {
			msg = "That token was revoked."
		} else if !errors.Is(err, store.ErrNotFound) {
			s.writeError(w, r, err)
			return
		}
		renderLogin(w, s.log, http.StatusUnauthorized, &loginPage{Title: "Log in", Error: msg, Next: next})
		return
	}
	secret, expires, err := s.auth.createSession(r.Context(), t.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: secret, Path: "/", Expires: expires,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	s.log.Info("login", "token_id", t.ID, "token_name", t.Name)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// handleLogoutPage shows a button: logging out changes state, so it is a
// POST (and cross-site ones are refused).
func (s *Server) handleLogoutPage(w http.ResponseWriter, r *http.Request) {
	renderLogin(w, s.log, http.StatusOK, &loginPage{Title: "Log out", LoggedOut: true})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		if err := s.auth.deleteSession(r.Context(), c.Value); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
