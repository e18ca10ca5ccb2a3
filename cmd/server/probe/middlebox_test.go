package probe_test

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// server tracks the connections of a test server or proxy so that its
// Close ends them all and waits for their goroutines.
type server struct {
	ln    net.Listener
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func listen(t *testing.T) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln, conns: map[net.Conn]struct{}{}}
	t.Cleanup(s.close)
	return s
}

func (s *server) addr() string { return s.ln.Addr().String() }

func (s *server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		c.Close()
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *server) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	s.wg.Wait()
}

// serve accepts connections and runs handle for each in a goroutine.
func (s *server) serve(handle func(net.Conn)) {
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

// echoServer answers every byte with itself.
func echoServer(t *testing.T) string {
	s := listen(t)
	s.serve(func(c net.Conn) { io.Copy(c, c) })
	return s.addr()
}

// middlebox is a TCP proxy in front of backend that ends a flow idle for
// idle (no byte forwarded either way): with a reset to the client
// (SO_LINGER 0) or, when silent, by forgetting it: from then on it reads
// and discards what the client sends, forwards nothing and never closes,
// like a firewall whose state entry expired.
func middlebox(t *testing.T, backend string, idle time.Duration, silent bool) string {
	s := listen(t)
	s.serve(func(client net.Conn) {
		up, err := net.Dial("tcp", backend)
		if err != nil {
			t.Errorf("middlebox: %v", err)
			return
		}
		if !s.track(up) {
			return
		}
		defer up.Close()
		f := &flow{client: client, up: up, idle: idle, silent: silent}
		f.timer = time.AfterFunc(idle, f.expire)
		defer f.timer.Stop()
		done := make(chan struct{})
		go func() { f.pump(up, client); close(done) }()
		f.pump(client, up)
		<-done
	})
	return s.addr()
}

type flow struct {
	client, up net.Conn
	idle       time.Duration
	silent     bool
	mu         sync.Mutex
	timer      *time.Timer
	forgotten  bool
}

func (f *flow) expire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.silent {
		f.forgotten = true
		return
	}
	if tc, ok := f.client.(*net.TCPConn); ok {
		tc.SetLinger(0) // Close sends RST
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
