package web

import (
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultReadQueueTimeout is how long a read request may wait for its
// turn before it is answered 503 (Config.ReadQueueTimeout).
const DefaultReadQueueTimeout = 10 * time.Second

// DefaultMaxConcurrentReads is the default bound on read requests run at
// once: twice the CPUs Go schedules on, enough to keep them busy while a
// request waits on the database, few enough that the live analysis and
// agent ingests still get a fair share of the CPU under load.
func DefaultMaxConcurrentReads() int { return 2 * runtime.GOMAXPROCS(0) }

// statusClientClosed is what the metrics record for a request whose
// client went away while it waited (nginx's "client closed request"): no
// one reads it, but it keeps abandoned waits out of the 200s.
const statusClientClosed = 499

// admission bounds the read requests whose handlers run at once; the
// others wait their turn in arrival order. Under load every runnable
// handler goroutine takes an equal share of the CPU, so without a bound
// 50 readers leave the analysis worker and the agents' ingests 1/50 of
// it; bounded, the waiting readers cost nothing and the background work
// keeps its pace. Requests wait inside the instrument middleware, so the
// latency histogram counts the wait.
type admission struct {
	slots   chan struct{} // a token per running request; nil: unbounded
	timeout time.Duration
	waiting prometheus.Gauge
	running prometheus.Gauge
	fail    func(http.ResponseWriter, *http.Request, error)
}

// newAdmission bounds reads to n at once (n <= 0: no bound), each waiting
// at most timeout.
func newAdmission(n int, timeout time.Duration, m *metrics, fail func(http.ResponseWriter, *http.Request, error)) *admission {
	a := &admission{timeout: timeout, waiting: m.readsWaiting, running: m.readsRunning, fail: fail}
	if n > 0 {
		a.slots = make(chan struct{}, n)
	}
	return a
}

// errReadQueueTimeout answers a read that waited too long for its turn:
// the server is overloaded, and a client retrying soon likely gets in.
var errReadQueueTimeout = &apiError{status: http.StatusServiceUnavailable, code: "overloaded",
	msg: "the server is busy: the request waited too long for its turn; retry shortly", retryAfter: 1}

// admit is the middleware: it runs next once a slot is free.
func (a *admission) admit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.slots != nil && !a.acquire(w, r) {
			return
		}
		a.running.Inc()
		defer func() {
			a.running.Dec()
			if a.slots != nil {
				<-a.slots
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// acquire takes a slot, waiting for one in FIFO order: senders blocked on
// a full buffered channel are queued, and a freed slot goes to the first
// of them, never to a newcomer. It reports false, with the response
// written, when the request gave up.
func (a *admission) acquire(w http.ResponseWriter, r *http.Request) bool {
	select {
	case a.slots <- struct{}{}:
		return true
	default:
	}
	a.waiting.Inc()
	defer a.waiting.Dec()
	t := time.NewTimer(a.timeout)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}:
		return true
	case <-t.C:
		a.fail(w, r, errReadQueueTimeout)
	case <-r.Context().Done():
		// The client went away (or shutdown gave up waiting): leave the
		// queue without running the handler.
		w.WriteHeader(statusClientClosed)
	}
	return false
}
