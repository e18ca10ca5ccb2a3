package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Opener opens the connections of a probe. Run builds one for its Target
// unless Config.Opener gives another.
type Opener interface {
	// Open connects (and, for HTTPS, completes the TLS handshake). It does
	// not exchange anything yet: the first Ask does.
	Open(ctx context.Context) (Conn, error)
}

// Conn is one probe connection. Ask sends one request (bytes, or an HTTP
// request); what comes back arrives on Events.
type Conn interface {
	Ask() error
	// Events delivers, in order, one Event per answer and a last Event
	// with the error that ended the connection (io.EOF, a reset, ...).
	Events() <-chan Event
	// Close ends the connection and waits for its goroutines.
	Close() error
}

// Event is an answer (Err nil) or the end of a connection, stamped with
// the time it was read.
type Event struct {
	At  time.Time
	Err error
}

// ErrNoKeepAlive means an HTTPS target answers with "Connection: close":
// it ends every connection after one response, so none can stay idle.
var ErrNoKeepAlive = errors.New("the server closes the connection after each response (Connection: close)")

// maxBody caps an HTTPS response body; a probe target should be small, such
// as Exchange's /owa/healthcheck.htm.
const maxBody = 1 << 20

// tcpPayload is what a tcp:// probe writes; any bytes back count as an answer.
var tcpPayload = []byte("idletrace probe\r\n")

// socketOpener opens real connections with TCP keep-alive off, so that the
// operating system sends nothing while a connection is idle: a keep-alive
// probe would refresh the device's idle timer and hide its timeout.
type socketOpener struct {
	target   Target
	insecure bool
	clock    Clock
}

func (o *socketOpener) dialer() *net.Dialer {
	return &net.Dialer{KeepAlive: -1, KeepAliveConfig: net.KeepAliveConfig{Enable: false}}
}

// Open dials the target.
func (o *socketOpener) Open(ctx context.Context) (Conn, error) {
	switch o.target.Scheme {
	case SchemeTCP:
		c, err := o.dialer().DialContext(ctx, "tcp", o.target.Addr())
		if err != nil {
			return nil, fmt.Errorf("connect %s: %w", o.target.Addr(), err)
		}
		return newStreamConn(c, tcpPayload, readChunk, o.clock), nil
	case SchemeHTTPS:
		d := &tls.Dialer{NetDialer: o.dialer(), Config: &tls.Config{
			ServerName:         o.target.Host,
			InsecureSkipVerify: o.insecure, // only with --insecure, for test certificates
			NextProtos:         []string{"http/1.1"},
		}}
		c, err := d.DialContext(ctx, "tcp", o.target.Addr())
		if err != nil {
			return nil, fmt.Errorf("connect %s: %w", o.target.Addr(), err)
		}
		return newStreamConn(c, httpRequest(o.target), readResponse, o.clock), nil
	}
	return nil, fmt.Errorf("target %s: unknown scheme", o.target)
}

// httpRequest is the GET an HTTPS probe sends each time it uses a connection.
func httpRequest(t Target) []byte {
	host := t.Host
	if t.Port != "443" {
		host = t.Addr()
	}
	return []byte("GET " + t.Path + " HTTP/1.1\r\nHost: " + host +
		"\r\nUser-Agent: idletrace-probe\r\nAccept: */*\r\n\r\n")
}

// readChunk reads whatever bytes are there: one answer of a tcp:// target.
func readChunk(br *bufio.Reader) error {
	if _, err := br.ReadByte(); err != nil {
		return err
	}
	_, err := br.Discard(br.Buffered())
	return err
}

// readResponse reads one HTTP response and its body.
func readResponse(br *bufio.Reader) error {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("read response body: %w", err)
	}
	if n > maxBody {
		return fmt.Errorf("response body over %d bytes: probe a smaller page", maxBody)
	}
	if resp.Close {
		return ErrNoKeepAlive
	}
	return nil
}

// streamConn is a Conn over a net.Conn with one reader goroutine. The
// reader runs all the time, so a reset that arrives while the connection
// is idle is seen, and timed, when it arrives rather than at the next use.
type streamConn struct {
	c       net.Conn
	request []byte
	clock   Clock
	events  chan Event
	done    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

func newStreamConn(c net.Conn, request []byte, read func(*bufio.Reader) error, clock Clock) *streamConn {
	s := &streamConn{c: c, request: request, clock: clock, events: make(chan Event, 4), done: make(chan struct{})}
	s.wg.Add(1)
	go s.readLoop(read)
	return s
}

func (s *streamConn) readLoop(read func(*bufio.Reader) error) {
	defer s.wg.Done()
	br := bufio.NewReader(s.c)
	for {
		err := read(br)
		select {
		case s.events <- Event{At: s.clock.Now(), Err: err}:
		case <-s.done:
			return
		}
		if err != nil {
			return
		}
	}
}

// writeTimeout bounds a write; a few bytes into an idle socket's buffer
// should never take long.
const writeTimeout = 10 * time.Second

// Ask writes one request.
func (s *streamConn) Ask() error {
	if err := s.c.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return fmt.Errorf("set write deadline: %w", err)
	}
	if _, err := s.c.Write(s.request); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// Events delivers answers and the end of the connection.
func (s *streamConn) Events() <-chan Event { return s.events }

// Close closes the socket and waits for the reader goroutine.
func (s *streamConn) Close() error {
	var err error
	s.once.Do(func() {
		close(s.done)
		err = s.c.Close()
	})
	s.wg.Wait()
	return err
}
