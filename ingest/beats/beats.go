// Package beats receives events from Winlogbeat (and any Beat) over the
// lumberjack v2 protocol that Beats' output.logstash speaks, so Winlogbeat
// can send straight to idletrace.
//
// Each event is decoded with the same JSON shape detection as the HTTP
// ingest (ingest.DecodeItem) and handed to a Sink with the rest of its
// batch. The batch is acknowledged only after the sink returns, that is
// after the events are stored: until then Winlogbeat keeps them and resends
// them over a new connection if this one breaks, so nothing is lost, and the
// store's dedup makes the resend harmless. A bad event is rejected alone
// and never holds its batch back.
//
// Lumberjack has no authentication. The listener is off unless configured;
// bind it to loopback or a trusted network, or give it TLS with client
// certificates (Config.TLS with ClientAuth = RequireAndVerifyClientCert).
// Frame sizes, batch sizes and connections are bounded before the protocol
// library allocates anything, so a hostile peer cannot make it reserve
// memory by announcing huge frames.
//
// The package imports neither store nor web: the caller supplies the Sink.
package beats

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	lumberlog "github.com/elastic/go-lumber/log"
	lumber "github.com/elastic/go-lumber/server/v2"

	"idletrace/ingest"
)

// Batch is one lumberjack window, decoded.
type Batch struct {
	// Events are the events that decoded, of every provider; the sink
	// decides which to keep.
	Events []ingest.Event
	// Rejected are the events that did not decode, by index in the window.
	Rejected []Rejected
	// Items is the number of events in the window.
	Items int
	// Bytes is the size of the events' JSON.
	Bytes int64
	// Format names the shapes seen, e.g. "json (winlogbeat)".
	Format string
}

// Rejected is an event that could not be used, and why.
type Rejected struct {
	Index int
	Error string
}

// Sink stores a batch. It must return only once the events are durable; an
// error makes the listener retry the batch (with backoff) until it succeeds
// or the listener closes, in which case the batch is never acknowledged and
// the client sends it again.
type Sink func(ctx context.Context, b Batch) error

// Config configures a Listener. Zero limits take the defaults.
type Config struct {
	// Addr is the TCP address to listen on, e.g. ":5044".
	Addr string
	// TLS, when set, makes the listener speak TLS only.
	TLS *tls.Config
	// Sink receives every batch.
	Sink Sink
	// Logger logs connection problems and retries; nil discards.
	Logger *slog.Logger
	// Location is the zone of event times that carry none (not Winlogbeat's).
	Location *time.Location

	// MaxConns bounds concurrent connections (default 256).
	MaxConns int
	// MaxWindow bounds the events of one batch (default 16384; Winlogbeat
	// sends at most bulk_max_size, 2048 by default).
	MaxWindow int
	// MaxEventBytes bounds one event's JSON (default 1 MiB).
	MaxEventBytes int
	// MaxCompressedBytes bounds one compressed frame (default 32 MiB) and
	// eight times it what the frame may inflate to.
	MaxCompressedBytes int
	// MaxBatchBytes bounds the inflated JSON of one batch's events (default
	// 32 MiB; Winlogbeat's default 2048 events are a few MiB).
	MaxBatchBytes int64
	// MaxMemory bounds the bytes held for batches not yet acknowledged, all
	// connections together: their events' JSON, compressed frames being
	// read and each connection's read buffer (default 64 MiB). A
	// connection that would pass it waits, up to Timeout, then is closed;
	// its client sends the batch again.
	MaxMemory int64
	// Timeout is the network timeout for reading a batch and writing an
	// ACK, and for the TLS handshake (default 30 s).
	Timeout time.Duration
	// Workers is how many batches are decoded and stored at once (default 2).
	Workers int
}

func (c *Config) defaults() {
	if c.MaxConns <= 0 {
		c.MaxConns = 256
	}
	if c.MaxWindow <= 0 {
		c.MaxWindow = 16384
	}
	if c.MaxEventBytes <= 0 {
		c.MaxEventBytes = 1 << 20
	}
	if c.MaxCompressedBytes <= 0 {
		c.MaxCompressedBytes = 32 << 20
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.MaxBatchBytes <= 0 {
		c.MaxBatchBytes = 32 << 20
	}
	if c.MaxMemory <= 0 {
		c.MaxMemory = 64 << 20
	}
	c.MaxBatchBytes = min(c.MaxBatchBytes, c.MaxMemory)
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Stats counts what a listener did.
type Stats struct {
	Batches  int64 // batches acknowledged
	Events   int64 // events in them
	Rejected int64 // events that did not decode
	Retries  int64 // failed sink calls
	Refused  int64 // connections closed for a protocol violation
}

// Listener is a running lumberjack v2 server.
type Listener struct {
	cfg    Config
	ln     net.Listener
	srv    *lumber.Server
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	mem    *budget // MaxMemory

	batches, events, rejected, retries, refused atomic.Int64
}

var setLumberLog sync.Once

// Listen starts listening on cfg.Addr and serving in the background.
func Listen(cfg Config) (*Listener, error) {
	if cfg.Sink == nil {
		return nil, errors.New("beats: no sink")
	}
	cfg.defaults()
	setLumberLog.Do(func() { lumberlog.Logger = quietLog{} })
	tcp, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("beats: listen on %s: %w", cfg.Addr, err)
	}
	l := &Listener{cfg: cfg, mem: newBudget(cfg.MaxMemory)}
	var ln net.Listener = &limitListener{Listener: tcp, sem: make(chan struct{}, cfg.MaxConns)}
	if cfg.TLS != nil {
		ln = tls.NewListener(ln, cfg.TLS)
	}
	l.ln = &guardListener{Listener: ln, l: l}
	l.srv, err = lumber.NewWithListener(l.ln,
		lumber.Timeout(cfg.Timeout),
		lumber.JSONDecoder(keepRaw),
	)
	if err != nil {
		tcp.Close()
		return nil, fmt.Errorf("beats: %w", err)
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	for range cfg.Workers {
		l.wg.Add(1)
		go l.work()
	}
	return l, nil
}

// Addr is the address the listener listens on.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Stats returns the listener's counters.
func (l *Listener) Stats() Stats {
	return Stats{Batches: l.batches.Load(), Events: l.events.Load(), Rejected: l.rejected.Load(),
		Retries: l.retries.Load(), Refused: l.refused.Load()}
}

// Close stops listening, closes every connection and waits for the batch
// in hand to finish or give up. Batches not yet acknowledged are sent again
// by their clients once the listener is back.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		l.cancel()
		err = l.srv.Close()
		l.wg.Wait()
	})
	return err
}

// keepRaw is the lumberjack server's JSON decoder: it keeps each event's
// bytes (the library reuses its buffer) and never fails, so that a bad
// event is rejected alone instead of breaking the connection.
func keepRaw(b []byte, v any) error {
	p, ok := v.(*any)
	if !ok {
		return errors.New("beats: unexpected decode target")
	}
	*p = json.RawMessage(bytes.Clone(b))
	return nil
}

func (l *Listener) work() {
	defer l.wg.Done()
	for b := range l.srv.ReceiveChan() {
		if b == nil {
			continue
		}
		batch := l.decode(b.Events)
		stored := l.store(batch)
		l.mem.release(eventBytes(b.Events)) // reserved by the frame guard
		if !stored {
			continue // closing: never acknowledged, the client resends
		}
		b.ACK()
		l.batches.Add(1)
		l.events.Add(int64(batch.Items))
		l.rejected.Add(int64(len(batch.Rejected)))
	}
}

func (l *Listener) decode(raw []any) Batch {
	b := Batch{Items: len(raw), Events: make([]ingest.Event, 0, len(raw))}
	opts := ingest.Options{Location: l.cfg.Location}
	var formats []string
	for i, v := range raw {
		r, _ := v.(json.RawMessage)
		b.Bytes += int64(len(r))
		ev, format, err := ingest.DecodeItem(r, opts)
		if err != nil {
			b.Rejected = append(b.Rejected, Rejected{Index: i, Error: err.Error()})
			continue
		}
		b.Events = append(b.Events, ev)
		if len(formats) == 0 || formats[len(formats)-1] != format {
			formats = appendNew(formats, format)
		}
	}
	switch len(formats) {
	case 0:
		b.Format = ingest.FormatJSON
	case 1:
		b.Format = formats[0]
	default:
		b.Format = fmt.Sprint(formats)
	}
	return b
}

// eventBytes is what the frame guard reserved for a batch's events: the
// length of each one's JSON.
func eventBytes(raw []any) int64 {
	var n int64
	for _, v := range raw {
		r, _ := v.(json.RawMessage)
		n += int64(len(r))
	}
	return n
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// store hands the batch to the sink until it takes it; false means the
// listener is closing.
func (l *Listener) store(b Batch) bool {
	for attempt := 0; ; attempt++ {
		err := l.cfg.Sink(l.ctx, b)
		if err == nil {
			return true
		}
		if l.ctx.Err() != nil {
			return false
		}
		l.retries.Add(1)
		wait := backoff(attempt)
		l.cfg.Logger.Warn("beats: storing a batch failed; retrying (the client keeps it until then)",
			"events", b.Items, "attempt", attempt+1, "retry_in", wait, "err", err)
		select {
		case <-time.After(wait):
		case <-l.ctx.Done():
			return false
		}
	}
}

// backoff is 100 ms doubling to 30 s, with ±25 % jitter.
func backoff(attempt int) time.Duration {
	d := 30 * time.Second
	if attempt < 9 {
		d = min(d, 100*time.Millisecond<<attempt)
	}
	return time.Duration(float64(d) * (0.75 + rand.Float64()/2))
}

// limitListener bounds concurrent connections: Accept waits for a slot.
type limitListener struct {
	net.Listener
	sem chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &releaseConn{Conn: c, release: func() { <-l.sem }}, nil
}

type releaseConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *releaseConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// guardListener wraps each connection in a frameGuard.
type guardListener struct {
	net.Listener
	l *Listener
}

func (g *guardListener) Accept() (net.Conn, error) {
	c, err := g.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &frameGuard{Conn: c, in: bufio.NewReaderSize(c, 16<<10), l: g.l}, nil
}

// errOverBudget closes a connection whose batch would pass MaxMemory for
// longer than the timeout (the client sends it again later).
var errOverBudget = errors.New("memory budget for unacknowledged batches exhausted")

// Lumberjack v2 frames a client sends.
const (
	frameVersion    = '2'
	frameWindow     = 'W'
	frameJSON       = 'J'
	frameCompressed = 'C'
)

var errTooLarge = errors.New("frame too large")

// frameGuard checks each lumberjack frame's announced sizes before passing
// it on to the protocol library, which allocates what a frame announces: a
// window of 2³² events or a 4 GiB event would otherwise cost that much
// memory before a byte of it arrived. It passes on whole, checked frames.
type frameGuard struct {
	net.Conn
	in        *bufio.Reader
	l         *Listener
	pending   []byte
	handshook bool
	err       error

	// Memory accounting (see reserve): left is how many events the
	// current window still expects, batch the bytes reserved for its
	// events so far (handed to the worker once the window is complete),
	// frame those of the compressed frame in pending, readBuf the
	// protocol library's read buffer (as large as the largest event yet).
	mu                    sync.Mutex
	left                  int
	batch, frame, readBuf int64
	closed                bool
}

// reserve takes n bytes of the listener's memory budget for this
// connection, waiting up to the timeout for them.
func (g *frameGuard) reserve(n int64) error {
	if n <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(g.l.ctx, g.l.cfg.Timeout)
	defer cancel()
	if !g.l.mem.acquire(ctx, n) {
		return fmt.Errorf("%w (limit %d bytes)", errOverBudget, g.l.cfg.MaxMemory)
	}
	return nil
}

// countEvents reserves k events of the current window, of bytes bytes in
// all and largest at most biggest: their JSON, and the growth of the
// library's read buffer. A compressed frame (Winlogbeat's whole batch)
// reserves all its events at once, so connections never sit on half a
// batch each while waiting for the rest.
func (g *frameGuard) countEvents(k int, bytes, biggest int64) error {
	if k == 0 {
		return nil
	}
	grow := max(biggest-g.readBuf, 0)
	if err := g.reserve(bytes + grow); err != nil {
		return err
	}
	g.mu.Lock()
	g.batch += bytes
	g.readBuf += grow
	g.left -= k
	if g.left == 0 {
		g.batch = 0 // complete: the worker releases it after the ACK
	}
	g.mu.Unlock()
	return nil
}

// checkBatch refuses a window whose events would pass MaxBatchBytes.
func (g *frameGuard) checkBatch(bytes int64) error {
	if limit := g.l.cfg.MaxBatchBytes; g.batch+bytes > limit {
		return fmt.Errorf("batch of more than %d bytes of events: %w (limit %d)", g.batch+bytes, errTooLarge, limit)
	}
	return nil
}

// Close closes the connection and gives back what it held: the events of
// an incomplete batch (the library drops them), its compressed frame and
// read buffer.
func (g *frameGuard) Close() error {
	err := g.Conn.Close()
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		g.l.mem.release(g.batch + g.frame + g.readBuf)
		g.batch, g.frame, g.readBuf = 0, 0, 0
	}
	g.mu.Unlock()
	return err
}

func (g *frameGuard) Read(p []byte) (int, error) {
	if len(g.pending) == 0 {
		if g.err != nil {
			return 0, g.err
		}
		if err := g.next(); err != nil {
			g.err = err
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isTimeout(err) {
				g.l.refused.Add(1)
				g.l.cfg.Logger.Warn("beats: closing connection", "remote", g.RemoteAddr().String(), "err", err)
			}
			return 0, err
		}
	}
	n := copy(p, g.pending)
	g.pending = g.pending[n:]
	if len(g.pending) == 0 {
		g.mu.Lock()
		g.l.mem.release(g.frame) // the library has the frame's bytes now
		g.frame = 0
		g.mu.Unlock()
	}
	return n, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// next reads and checks the next frame into g.pending.
func (g *frameGuard) next() error {
	if tc, ok := g.Conn.(*tls.Conn); ok && !g.handshook {
		ctx, cancel := context.WithTimeout(context.Background(), g.l.cfg.Timeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		g.handshook = true
	}
	cfg := &g.l.cfg
	var hdr [2]byte
	if _, err := io.ReadFull(g.in, hdr[:]); err != nil {
		return err
	}
	if hdr[0] != frameVersion {
		return fmt.Errorf("not lumberjack v2 (frame starts %q)", hdr[:])
	}
	if cap(g.pending) > 1<<20 {
		g.pending = nil // do not keep a big frame's buffer for the connection's life
	}
	frame := append(g.pending[:0], hdr[:]...)
	switch hdr[1] {
	case frameWindow:
		frame, n, err := readUint32(g.in, frame)
		if err != nil {
			return err
		}
		if n > uint32(cfg.MaxWindow) {
			return fmt.Errorf("window of %d events: %w (limit %d)", n, errTooLarge, cfg.MaxWindow)
		}
		if g.left > 0 {
			return fmt.Errorf("window inside a window (%d events still expected)", g.left)
		}
		g.left = int(n)
		g.pending = frame
	case frameJSON:
		frame, _, err := readUint32(g.in, frame) // sequence number
		if err != nil {
			return err
		}
		frame, n, err := readUint32(g.in, frame)
		if err != nil {
			return err
		}
		if n > uint32(cfg.MaxEventBytes) {
			return fmt.Errorf("event of %d bytes: %w (limit %d)", n, errTooLarge, cfg.MaxEventBytes)
		}
		if g.left == 0 {
			return errors.New("event outside a window")
		}
		if err := g.checkBatch(int64(n)); err != nil {
			return err
		}
		if err := g.countEvents(1, int64(n), int64(n)); err != nil {
			return err
		}
		g.pending, err = readN(g.in, frame, int(n))
		return err
	case frameCompressed:
		frame, n, err := readUint32(g.in, frame)
		if err != nil {
			return err
		}
		if n > uint32(cfg.MaxCompressedBytes) {
			return fmt.Errorf("compressed frame of %d bytes: %w (limit %d)", n, errTooLarge, cfg.MaxCompressedBytes)
		}
		if g.left == 0 {
			return errors.New("compressed frame outside a window")
		}
		if err := g.reserve(int64(n)); err != nil {
			return err
		}
		g.mu.Lock()
		g.frame = int64(n)
		g.mu.Unlock()
		start := len(frame)
		if frame, err = readN(g.in, frame, int(n)); err != nil {
			return err
		}
		if err := g.checkCompressed(frame[start:]); err != nil {
			return err
		}
		g.pending = frame
	default:
		return fmt.Errorf("unexpected lumberjack frame type %q", hdr[1])
	}
	return nil
}

// checkCompressed inflates a compressed frame's payload, within a bound,
// and checks the frames inside: JSON events of bounded size only.
func (g *frameGuard) checkCompressed(payload []byte) error {
	cfg := &g.l.cfg
	zr, err := zlib.NewReader(bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("compressed frame: %w", err)
	}
	defer zr.Close()
	limit := int64(cfg.MaxCompressedBytes) * 8
	in := bufio.NewReader(&io.LimitedReader{R: zr, N: limit + 1})
	var total int64
	// The events the library will keep: up to the window's end (it drops
	// the rest of the frame).
	var kept int
	var keptBytes, biggest int64
	for {
		var hdr [10]byte
		_, err := io.ReadFull(in, hdr[:2])
		if err == io.EOF {
			return g.countEvents(kept, keptBytes, biggest)
		}
		if err == nil && (hdr[0] != frameVersion || hdr[1] != frameJSON) {
			return fmt.Errorf("compressed frame holds a frame of type %q; only JSON events are accepted", hdr[1])
		}
		if err == nil {
			_, err = io.ReadFull(in, hdr[2:])
		}
		if err != nil {
			return fmt.Errorf("compressed frame: %w", err)
		}
		n := binary.BigEndian.Uint32(hdr[6:])
		if n > uint32(cfg.MaxEventBytes) {
			return fmt.Errorf("event of %d bytes: %w (limit %d)", n, errTooLarge, cfg.MaxEventBytes)
		}
		if kept < g.left {
			kept++
			keptBytes += int64(n)
			biggest = max(biggest, int64(n))
			if err := g.checkBatch(keptBytes); err != nil {
				return err
			}
		}
		if _, err := in.Discard(int(n)); err != nil {
			return fmt.Errorf("compressed frame: %w", err)
		}
		if total += 10 + int64(n); total > limit {
			return fmt.Errorf("compressed frame inflates past %d bytes: %w", limit, errTooLarge)
		}
	}
}

func readUint32(r io.Reader, frame []byte) ([]byte, uint32, error) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return frame, 0, err
	}
	return append(frame, b[:]...), binary.BigEndian.Uint32(b[:]), nil
}

// readN appends n bytes of r to frame, growing it as the bytes arrive (never
// by what the peer announced).
func readN(r io.Reader, frame []byte, n int) ([]byte, error) {
	want := len(frame) + n
	_, err := io.Copy(&appendWriter{&frame}, io.LimitReader(r, int64(n)))
	if err == nil && len(frame) < want {
		err = io.ErrUnexpectedEOF
	}
	return frame, err
}

type appendWriter struct{ b *[]byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}

// quietLog drops go-lumber's chatter (a line per connection and ACK loop);
// the guard logs what matters.
type quietLog struct{}

func (quietLog) Printf(string, ...any) {}
func (quietLog) Println(...any)        {}
func (quietLog) Print(...any)          {}
