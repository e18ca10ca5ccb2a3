package web

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"idletrace/store"
)

// handleAPITokens serves GET /api/v1/tokens (admin): every token, never a
// secret.
func (s *Server) handleAPITokens(w http.ResponseWriter, r *http.Request) {
	if _, err := parseQuery(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	ts, err := s.db.FindTokens(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page[*store.Token]{Items: nonNil(ts)})
}

// tokenCreateRequest is the body of POST /api/v1/tokens.
type tokenCreateRequest struct {
	Name  string `json:"name"`
	Scope string `json:"scope"`
}

// handleAPITokenCreate serves POST /api/v1/tokens (admin). The response is
// the only time the secret is shown. The store validates the name and the
// scope (*store.ValidationError: 422).
func (s *Server) handleAPITokenCreate(w http.ResponseWriter, r *http.Request) {
	var req tokenCreateRequest
	if err := decodeJSONBody(w, r, &req, maxJSONBody, maxJSONDepth); err != nil {
		s.writeError(w, r, err)
		return
	}
	secret, t, err := s.db.CreateToken(r.Context(), req.Name, req.Scope)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.auth.tokensExist.Store(true)
	s.log.Info("token created", "token_id", t.ID, "name", t.Name, "scope", t.Scope, "by", principalFrom(r.Context()).name())
	writeJSON(w, http.StatusCreated, map[string]any{"token": t, "secret": secret})
}

// handleAPITokenRevoke serves DELETE /api/v1/tokens/{id} (admin).
func (s *Server) handleAPITokenRevoke(w http.ResponseWriter, r *http.Request) {
	t, err := s.db.RevokeToken(r.Context(), chi.URLParam(r, "tokenID"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.auth.tokens.forget() // at once here; other nodes within tokenCacheTTL
	s.log.Info("token revoked", "token_id", t.ID, "name", t.Name, "by", principalFrom(r.Context()).name())
	writeJSON(w, http.StatusOK, t)
}

// name names the principal in logs.
func (p *principal) name() string {
	if p == nil || p.token == nil {
		return "open access"
	}
	return p.token.Name
}

// handleReadyz serves GET /readyz: 200 when the database answers.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": map[string]string{"code": "not_ready", "message": "the database does not answer"}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
