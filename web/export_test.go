package web

import (
	"io"
	"sync"
)

// SetSpoolCopyForTest replaces how uploads are copied to their temp file
// (to make the disk full) until the returned func is called.
func SetSpoolCopyForTest(copyFn func(io.Writer, io.Reader) (int64, error)) (restore func()) {
	old := spoolCopy
	spoolCopy = copyFn
	return func() { spoolCopy = old }
}

// HoldDashboardRenders makes every dashboard render wait, once begun,
// until release is called; started receives as each one begins. Call it
// before the requests it is to hold.
func (s *Server) HoldDashboardRenders() (started <-chan struct{}, release func()) {
	st, gate := make(chan struct{}, 64), make(chan struct{})
	s.dash.mu.Lock()
	s.dash.hook = func() {
		st <- struct{}{}
		<-gate
	}
	s.dash.mu.Unlock()
	return st, sync.OnceFunc(func() { close(gate) })
}

// DashboardWaiters is how many requests joined the dashboard renders
// running now, waiting for another's body.
func (s *Server) DashboardWaiters() int {
	s.dash.mu.Lock()
	defer s.dash.mu.Unlock()
	n := 0
	for _, f := range s.dash.flights {
		n += f.waiters
	}
	return n
}
