package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/httprate"

	"idletrace/store"
)

// sessionCookie is the dashboard session cookie's name.
const sessionCookie = "idletrace_session"

// principal is who a request acts as: a token (sent as a Bearer header or
// through a session cookie), or nobody while the server is open.
type principal struct {
	token   *store.Token // nil when open
	session bool         // authenticated by the session cookie
}

type principalKey struct{}

func principalFrom(ctx context.Context) *principal {
	p, _ := ctx.Value(principalKey{}).(*principal)
	return p
}

// Authentication errors. 401 says "who are you?", 403 "not with this token".
var (
	errNoCredentials = &apiError{status: http.StatusUnauthorized, code: "unauthorized", msg: "authentication required: send \"Authorization: Bearer <token>\" (create one with: server token create --name NAME --scope read)"}
	errBadToken      = &apiError{status: http.StatusUnauthorized, code: "invalid_token", msg: "the token is not valid"}
	errRevokedToken  = &apiError{status: http.StatusUnauthorized, code: "token_revoked", msg: "the token was revoked"}
)

func errScope(have, need string) error {
	return &apiError{status: http.StatusForbidden, code: "forbidden", msg: "a token with scope " + have + " may not do this: it needs scope " + need + " (or admin)"}
}

// isPublic reports paths anyone may reach: probes, static assets and the
// login and logout pages.
func isPublic(path string) bool {
	switch path {
	case "/healthz", "/readyz", "/login", "/logout":
		return true
	}
	return strings.HasPrefix(path, "/static/")
}

// requiredScopes are the scopes of which a request needs one. The default
// follows the method, so routes added later are protected without being
// listed here: reading needs read, anything that changes data needs
// ingest, token management needs admin. Admin tokens pass everywhere.
func requiredScopes(r *http.Request) []string {
	p := r.URL.Path
	switch {
	case p == "/api/v1/tokens" || strings.HasPrefix(p, "/api/v1/tokens/"):
		return []string{store.ScopeAdmin}
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/api/v1/uploads/"):
		// An agent that uploads with ?async=1 may follow its upload.
		return []string{store.ScopeIngest, store.ScopeRead}
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return []string{store.ScopeRead}
	}
	return []string{store.ScopeIngest}
}

// authRequired reports whether requests must authenticate. The server is
// open only while no token has ever been created, and then only to
// connections that arrived on a loopback address (or everyone, under
// -no-auth). Tokens are never deleted, so once required, always required.
func (s *Server) authRequired(r *http.Request) (bool, error) {
	if s.tokensExist.Load() {
		return true, nil
	}
	n, err := s.db.CountTokens(r.Context())
	if err != nil {
		return true, err
	}
	if n > 0 {
		s.tokensExist.Store(true)
		return true, nil
	}
	return !(s.cfg.NoAuth || arrivedOnLoopback(r)), nil
}

// arrivedOnLoopback reports whether the request's connection was accepted
// on a loopback address.
func arrivedOnLoopback(r *http.Request) bool {
	a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// authenticate enforces authentication and scopes on every request but the
// public ones, and puts the principal in the request's context.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isPublic(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		required, err := s.authRequired(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !required {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, &principal{})))
			return
		}
		p, err := s.identify(r)
		if err != nil {
			s.denyUnauthenticated(w, r, err)
			return
		}
		if need := requiredScopes(r); !slices.ContainsFunc(need, p.token.Allows) {
			s.writeError(w, r, errScope(p.token.Scope, need[0]))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// identify finds the request's token: a Bearer header wins over the
// session cookie.
func (s *Server) identify(r *http.Request) (*principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, cred, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(cred) == "" {
			return nil, errBadToken
		}
		t, err := s.db.AuthenticateToken(r.Context(), strings.TrimSpace(cred))
		switch {
		case errors.Is(err, store.ErrRevoked):
			return nil, errRevokedToken
		case errors.Is(err, store.ErrNotFound):
			return nil, errBadToken
		case err != nil:
			return nil, err
		}
		return &principal{token: t}, nil
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, errNoCredentials
	}
	t, err := s.db.AuthenticateSession(r.Context(), c.Value)
	switch {
	case errors.Is(err, store.ErrRevoked), errors.Is(err, store.ErrNotFound):
		return nil, errNoCredentials // an expired or ended session: log in again
	case err != nil:
		return nil, err
	}
	return &principal{token: t, session: true}, nil
}

// denyUnauthenticated answers a request without valid credentials: API
// clients get a 401 JSON error, a browser asking for a page is sent to the
// login page and back.
func (s *Server) denyUnauthenticated(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if errors.As(err, &ae) && ae.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="idletrace"`)
		if !isAPI(r) && (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.Header.Get("Authorization") == "" {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
	}
	s.writeError(w, r, err)
}

// rateKey is what the rate limit counts by: the token, or the client's
// address when the request carries none (open server, public pages).
func rateKey(r *http.Request) (string, error) {
	if p := principalFrom(r.Context()); p != nil && p.token != nil {
		return "token:" + strconv.FormatInt(p.token.ID, 10), nil
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "ip:" + httprate.CanonicalizeIP(host), nil
}

// newRateLimiter limits each token (or address) to perMinute requests a
// minute; over it, a 429 JSON error with Retry-After.
func (s *Server) newRateLimiter(perMinute int) func(http.Handler) http.Handler {
	if perMinute <= 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	return httprate.LimitBy(perMinute, time.Minute, rateKey,
		httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
			s.writeError(w, r, &apiError{status: http.StatusTooManyRequests, code: "rate_limited",
				msg: "too many requests: wait for the number of seconds in Retry-After"})
		}))
}
