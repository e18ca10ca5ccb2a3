package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"idletrace/ingest"
	"idletrace/store"
	"idletrace/web/live"
)

// apiError is an error with the status and code a client should see.
type apiError struct {
	status int
	code   string
	msg    string
	// retryAfter is the Retry-After of a 503, in seconds (0: 5).
	retryAfter int
	// reload: an HTML page of this error reloads itself after
	// retryAfter (the condition passes without the reader doing anything).
	reload bool
}

func (e *apiError) Error() string { return e.msg }

func errBadRequest(format string, a ...any) error {
	return &apiError{status: http.StatusBadRequest, code: "bad_request", msg: fmt.Sprintf(format, a...)}
}

func errNotFound(msg string) error {
	return &apiError{status: http.StatusNotFound, code: "not_found", msg: msg}
}

// classify maps any error to what the client sees. Unclassified errors are
// internal: their detail is logged, never shown.
func classify(err error) *apiError {
	var ae *apiError
	var fe *ingest.FormatError
	var mbe *http.MaxBytesError
	var ve *store.ValidationError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, live.ErrStopped):
		return &apiError{status: http.StatusServiceUnavailable, code: "shutting_down", msg: "the server is shutting down"}
	case errors.As(err, &ve):
		return &apiError{status: http.StatusUnprocessableEntity, code: "invalid", msg: ve.Msg}
	case errors.As(err, &mbe):
		return &apiError{status: http.StatusRequestEntityTooLarge, code: "too_large", msg: fmt.Sprintf("request body exceeds the limit of %d bytes", mbe.Limit)}
	case errors.As(err, &fe):
		return &apiError{status: http.StatusUnsupportedMediaType, code: "unsupported_format", msg: fe.Error()}
	case errors.Is(err, store.ErrNotFound):
		return &apiError{status: http.StatusNotFound, code: "not_found", msg: "not found"}
	case errors.Is(err, store.ErrConflict):
		return &apiError{status: http.StatusConflict, code: "conflict", msg: "conflict"}
	case errors.Is(err, store.ErrFull):
		return &apiError{status: http.StatusInsufficientStorage, code: "storage_full", msg: "the database is full (disk full or its size limit reached): nothing more was stored; free space or raise -db-max-size, then send the data again"}
	case errors.Is(err, syscall.ENOSPC):
		return &apiError{status: http.StatusInsufficientStorage, code: "storage_full", msg: "no space left for the upload's temporary files: nothing was stored; free space in the server's temporary directory (TMPDIR), then send the data again"}
	case errors.Is(err, store.ErrReadOnly):
		return &apiError{status: http.StatusServiceUnavailable, code: "read_only", msg: "the database cannot be written (read-only file or disk): nothing was stored"}
	case errors.Is(err, store.ErrBusy):
		return &apiError{status: http.StatusServiceUnavailable, code: "busy", msg: "the database is busy: retry shortly"}
	}
	return &apiError{status: http.StatusInternalServerError, code: "internal", msg: "internal error"}
}

// writeError is the one place errors become responses: JSON under /api,
// an HTML page elsewhere.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := classify(err)
	if ae.status == http.StatusServiceUnavailable {
		retry := 5
		if ae.retryAfter > 0 {
			retry = ae.retryAfter
		}
		w.Header().Set("Retry-After", strconv.Itoa(retry))
	}
	if ae.status >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "request_id", middleware.GetReqID(r.Context()), "err", err)
	}
	if wantsJSON(r) {
		writeJSON(w, ae.status, map[string]any{"error": map[string]string{"code": ae.code, "message": ae.msg}})
		return
	}
	page := &errorPage{Status: ae.status, Title: http.StatusText(ae.status), Message: ae.msg}
	if ae.reload {
		page.Reload = max(ae.retryAfter, 1)
	}
	s.render(w, r, ae.status, "error", page)
}

// errorStyleKey is the context key of a request's *style.
type errorStyleKey struct{}

// style is how a request's errors are answered, decided by the route
// group that takes it (jsonErrors) and shared, as a pointer, with the
// middleware outside the router (the recoverer).
type style struct{ json bool }

// errorStyle gives the request a style its route group may set.
func errorStyle(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), errorStyleKey{}, &style{})))
	})
}

// jsonErrors makes the routes it guards (the API, /metrics) answer errors
// in JSON.
func jsonErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st, ok := r.Context().Value(errorStyleKey{}).(*style); ok {
			st.json = true
		}
		next.ServeHTTP(w, r)
	})
}

// wantsJSON reports whether r's errors are JSON: on a JSON route, or for a
// client that asks for JSON and not HTML.
func wantsJSON(r *http.Request) bool {
	if st, ok := r.Context().Value(errorStyleKey{}).(*style); ok && st.json {
		return true
	}
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v) // compact: pollers parse it, people pipe it to jq
	if err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"internal error"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// recoverer turns a panic in a handler into a logged 500.
func recoverer(log *slog.Logger, fail func(http.ResponseWriter, *http.Request, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					log.Error("panic in handler", "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
					fail(w, r, fmt.Errorf("panic: %v", p))
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

func requestLogger(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			start := time.Now()
			next.ServeHTTP(ww, r)
			log.LogAttrs(r.Context(), slog.LevelDebug, "request",
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", ww.Status()), slog.Duration("duration", time.Since(start)),
				slog.String("request_id", middleware.GetReqID(r.Context())))
		})
	}
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if r.TLS != nil {
			// Under TLS, never plain HTTP again for a year: no downgrade on the path.
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}
