package web

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
)

// DefaultRateLimit is the default number of requests a minute allowed per
// token (or per client address when no token is sent).
const DefaultRateLimit = 1200

// apiState is the server's state for the API and its security: it is
// embedded in Server.
type apiState struct {
	// tokensExist turns true for good once a token is seen: tokens are
	// revoked, never deleted, so authentication stays required.
	tokensExist atomic.Bool
	metrics     *metrics
	rateLimit   func(http.Handler) http.Handler
	// stopPush ends the push goroutine (nil when push is off).
	stopPush context.CancelFunc
}

func (s *Server) initAPI() {
	s.metrics = newMetrics(s.db)
	limit := s.cfg.RateLimit
	if limit == 0 {
		limit = DefaultRateLimit
	}
	s.rateLimit = s.newRateLimiter(limit)
}

// listenTLS wraps ln in TLS when a certificate is configured.
func (s *Server) listenTLS(ln net.Listener) (net.Listener, error) {
	if s.cfg.TLSCert == "" && s.cfg.TLSKey == "" {
		return ln, nil
	}
	cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), nil
}

func (s *Server) scheme() string {
	if s.cfg.TLSCert != "" {
		return "https"
	}
	return "http"
}

// startBackground starts the push goroutine when a target is configured.
func (s *Server) startBackground() {
	if !s.cfg.Push.enabled() {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopPush = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.runPush(ctx)
	}()
}

// stopBackground asks background work to stop; Close then waits for it.
func (s *Server) stopBackground() {
	if s.stopPush != nil {
		s.stopPush()
	}
}
