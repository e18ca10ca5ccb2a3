package web

import (
	"net/http"
	"time"
)

// defaultMaxBody caps the body of every route that does not take uploads
// (forms, small JSON; handlers may set tighter limits of their own).
const defaultMaxBody = 1 << 20

// policy is what a group of routes demands, applied as the group's
// middleware: who may call them (a token with one of scopes; a public
// policy lets anyone in), how large a body they take and whether they
// wait for a read slot. Past the policy come the rate limit, read-your-
// writes tracking and the read queue, so that refused requests cost none
// of them and never hold a place in the queue.
type policy struct {
	s       *Server
	public  bool
	scopes  []string // nil with public false: by method (methodScopes)
	maxBody int64
	queue   bool // the handler runs once a read slot is free (admission.go)
}

// requireScope is the policy of routes a token with one of scopes may
// call (admin may call anything); with no scope, reading needs read and
// anything else ingest. Tokens are needed only once one exists, or off
// loopback (authRequired).
func (s *Server) requireScope(scopes ...string) policy {
	return policy{s: s, scopes: scopes, maxBody: defaultMaxBody}
}

// public is the policy of routes anyone may reach: probes, static files,
// login and logout.
func (s *Server) public() policy { return policy{s: s, public: true, maxBody: defaultMaxBody} }

// withBody is p with a body limit of n bytes.
func (p policy) withBody(n int64) policy {
	p.maxBody = n
	return p
}

// queued is p with its requests run only when a read slot is free: for
// reads that take CPU (pages, analysis JSON). Not for probes, writes or
// streams, which would hold a slot as long as a slow client reads.
func (p policy) queued() policy {
	p.queue = true
	return p
}

// Handler is the policy as chi middleware.
func (p policy) Handler(next http.Handler) http.Handler {
	if p.queue {
		next = p.s.reads.admit(next)
	}
	inner := p.s.rateLimit(trackWrites(p.s.live, p.s.life)(p.s.forgetOnWrite(next)))
	timeout := p.s.cfg.BodyTimeout
	if p.maxBody > defaultMaxBody {
		timeout = p.s.cfg.UploadTimeout
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, p.maxBody)
			// A small body is read in seconds: a client trickling one holds
			// its connection no longer (HTTP/2 streams: not supported, and
			// bounded by the server's ReadTimeout).
			http.NewResponseController(w).SetReadDeadline(time.Now().Add(timeout))
		}
		if !p.public {
			if r = p.s.auth.authorize(w, r, p.scopes); r == nil {
				return
			}
		}
		inner.ServeHTTP(w, r)
	})
}
