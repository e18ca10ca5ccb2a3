// Package probetest provides the loopback network pieces probe tests need:
// an echo server and a middlebox that ends idle flows, with a reset or in
// silence. Everything listens on 127.0.0.1 and is closed by t.Cleanup.
package probetest

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server tracks the connections of a test server or proxy so that its
// Close ends them all and waits for their goroutines.
type Server struct {
	ln    net.Listener
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// Listen listens on a free loopback port; the server is closed when the
// test ends.
func Listen(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{ln: ln, conns: map[net.Conn]struct{}{}}
	t.Cleanup(s.Close)
	return s
}

// Addr is the HOST:PORT the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		c.Close()
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// Close stops listening, closes every connection and waits for their
// goroutines.
func (s *Server) Close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	s.wg.Wait()
}

// Serve accepts connections and runs handle for each in a goroutine.
func (s *Server) Serve(handle func(net.Conn)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			if !s.track(c) {
				continue
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
}

// Echo starts a server that answers every byte with itself and returns
// its address.
func Echo(t testing.TB) string {
	s := Listen(t)
	s.Serve(func(c net.Conn) { io.Copy(c, c) })
	return s.Addr()
}

// Mode is what a Middlebox does to a flow that has been idle too long.
type Mode int

// Modes of a Middlebox.
const (
	// Reset sends the client a reset (RST) at expiry, like an F5 FastL4
	// profile.
	Reset Mode = iota
	// Silent forgets the flow: it reads and discards what the client sends
	// from then on, forwards nothing and never closes, like a firewall
	// whose state entry expired.
	Silent
	// ResetOnUse forgets the flow silently and answers the client's next
	// segment with a reset.
	ResetOnUse
)

// Middlebox starts a TCP proxy in front of backend that ends a flow idle
// for idle (no byte forwarded either way) as mode says. It returns its
// address.
func Middlebox(t testing.TB, backend string, idle time.Duration, mode Mode) string {
	s := Listen(t)
	s.Serve(func(client net.Conn) {
		up, err := net.Dial("tcp", backend)
		if err != nil {
			t.Errorf("middlebox: %v", err)
			return
		}
		if !s.track(up) {
			return
		}
		defer up.Close()
		f := &flow{client: client, up: up, idle: idle, mode: mode}
		f.timer = time.AfterFunc(idle, f.expire)
		defer f.timer.Stop()
		done := make(chan struct{})
		go func() { f.pump(up, client); close(done) }()
		f.pump(client, up)
		<-done
	})
	return s.Addr()
}

type flow struct {
	client, up net.Conn
	idle       time.Duration
	mode       Mode
	mu         sync.Mutex
	timer      *time.Timer
	forgotten  bool
}

func (f *flow) expire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mode == Reset {
		f.reset()
		return
	}
	f.forgotten = true
}

// reset closes the client side with a RST (SO_LINGER 0) and the backend.
func (f *flow) reset() {
	if tc, ok := f.client.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	f.client.Close()
	f.up.Close()
}

// pump copies src to dst while the flow is remembered, restarting the
// idle timer on each segment, and closes both ends when src ends.
func (f *flow) pump(src, dst net.Conn) {
	defer f.client.Close()
	defer f.up.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			f.mu.Lock()
			forgotten := f.forgotten
			if !forgotten {
				f.timer.Reset(f.idle)
			} else if f.mode == ResetOnUse && src == f.client {
				f.reset()
			}
			f.mu.Unlock()
			if !forgotten {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// HTTPS starts a TLS server (a self-signed certificate: probe it with
// Insecure) that serves h, and returns its address. Its handshake-error
// log is dropped: a probe that closes connections early makes plenty.
func HTTPS(t testing.TB, h http.Handler) string {
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return strings.TrimPrefix(ts.URL, "https://")
}

// Healthcheck answers /owa/healthcheck.htm like an Exchange front end, and
// 404 elsewhere.
func Healthcheck(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/owa/healthcheck.htm" {
		http.NotFound(w, r)
		return
	}
	io.WriteString(w, "200 OK")
}
