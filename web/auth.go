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
	"sync/atomic"
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

// access decides who a request acts as and whether it may go on.
type access struct {
	db     store.Store
	noAuth bool
	fail   func(http.ResponseWriter, *http.Request, error) // writeError
	// unauth limits, per address, requests that fail to authenticate (nil:
	// no limit): they never reach the per-token limiter, which runs after
	// authentication.
	unauth *httprate.RateLimiter
	// mem holds the sessions of a database that cannot store them.
	mem memSessions
	// tokens reuses bearer tokens' authentications for a second.
	tokens tokenCache
	// tokensExist turns true for good once a token is seen: tokens are
	// revoked, never deleted, so authentication stays required.
	tokensExist atomic.Bool
}

// authRequired reports whether requests must authenticate. The server is
// open only while no token has ever been created, and then only to
// connections that arrived on a loopback address (or everyone, under
// -no-auth). Tokens are never deleted, so once required, always required.
func (s *access) authRequired(r *http.Request) (bool, error) {
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
	return !(s.noAuth || arrivedOnLoopback(r)), nil
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

// authorize authenticates r and checks that its token has one of scopes
// (none: whatever the method needs, see requireScope). It returns the
// request with its principal in the context, or writes the refusal and
// returns nil.
func (s *access) authorize(w http.ResponseWriter, r *http.Request, scopes []string) *http.Request {
	required, err := s.authRequired(r)
	if err != nil {
		s.fail(w, r, err)
		return nil
	}
	if !required {
		return r.WithContext(context.WithValue(r.Context(), principalKey{}, &principal{}))
	}
	p, err := s.identify(r)
	if err != nil {
		if s.overUnauthLimit(w, r) {
			return nil
		}
		s.denyUnauthenticated(w, r, err)
		return nil
	}
	if len(scopes) == 0 {
		scopes = methodScopes(r.Method)
	}
	if !slices.ContainsFunc(scopes, p.token.Allows) {
		s.fail(w, r, errScope(p.token.Scope, scopes[0]))
		return nil
	}
	return r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
}

// methodScopes is the default policy, for what no route claims (a 404 or
// 405 is given only to who could have used the path): reading needs
// read, anything that changes data ingest.
func methodScopes(method string) []string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return []string{store.ScopeRead}
	}
	return []string{store.ScopeIngest}
}

// identify finds the request's token: a Bearer header wins over the
// session cookie.
func (s *access) identify(r *http.Request) (*principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, cred, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(cred) == "" {
			return nil, errBadToken
		}
		cred = strings.TrimSpace(cred)
		if t, ok := s.tokens.get(cred); ok {
			return &principal{token: t}, nil
		}
		t, err := s.db.AuthenticateToken(r.Context(), cred)
		switch {
		case errors.Is(err, store.ErrRevoked):
			return nil, errRevokedToken
		case errors.Is(err, store.ErrNotFound):
			return nil, errBadToken
		case err != nil:
			return nil, err
		}
		s.tokens.put(cred, t)
		return &principal{token: t}, nil
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, errNoCredentials
	}
	t, err := s.authenticateSession(r.Context(), c.Value)
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
func (s *access) denyUnauthenticated(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if errors.As(err, &ae) && ae.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="idletrace"`)
		if !wantsJSON(r) && (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.Header.Get("Authorization") == "" {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
	}
	s.fail(w, r, err)
}

// overUnauthLimit counts a request that failed to authenticate against
// its address and, past the limit, answers 429 instead of 401 (a flood of
// bad or missing tokens is limited like any client).
func (s *access) overUnauthLimit(w http.ResponseWriter, r *http.Request) bool {
	if s.unauth == nil {
		return false
	}
	key, _ := rateKey(r.WithContext(context.WithValue(r.Context(), principalKey{}, (*principal)(nil))))
	if !s.unauth.OnLimit(w, r, key) {
		return false
	}
	s.fail(w, r, errRateLimited)
	return true
}

// errRateLimited answers a client over its rate limit.
var errRateLimited = &apiError{status: http.StatusTooManyRequests, code: "rate_limited",
	msg: "too many requests: wait for the number of seconds in Retry-After"}

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
func newRateLimiter(perMinute int, fail func(http.ResponseWriter, *http.Request, error)) func(http.Handler) http.Handler {
	if perMinute <= 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	return httprate.LimitBy(perMinute, time.Minute, rateKey,
		httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
			fail(w, r, errRateLimited)
		}))
}

// newUnauthLimiter limits each address's failed authentications to
// perMinute a minute (nil: no limit).
func newUnauthLimiter(perMinute int) *httprate.RateLimiter {
	if perMinute <= 0 {
		return nil
	}
	return httprate.NewRateLimiter(perMinute, time.Minute)
}
