package beats_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"io"
	"math/big"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	lumberclient "github.com/elastic/go-lumber/client/v2"

	"idletrace/ingest/beats"
)

// collector is a sink that keeps what it gets.
type collector struct {
	mu      sync.Mutex
	batches []beats.Batch
}

func (c *collector) sink(ctx context.Context, b beats.Batch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches = append(c.batches, b)
	return nil
}

func (c *collector) events() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, b := range c.batches {
		n += len(b.Events)
	}
	return n
}

func listen(t testing.TB, cfg beats.Config) *beats.Listener {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	ln, err := beats.Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func event(i int) map[string]any {
	return map[string]any{
		"@timestamp": time.Date(2024, 5, 2, 7, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute).Format(time.RFC3339Nano),
		"message":    "Connection to Microsoft Exchange has been restored.",
		"event":      map[string]any{"code": "26", "provider": "Outlook"},
		"host":       map[string]any{"name": "pc01"},
		"winlog": map[string]any{"channel": "Application", "computer_name": "PC01.corp.example", "event_id": 26,
			"provider_name": "Outlook", "record_id": i + 1},
	}
}

func events(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = event(i)
	}
	return out
}

func send(t testing.TB, addr string, evs []any, opts ...lumberclient.Option) (int, error) {
	t.Helper()
	opts = append([]lumberclient.Option{lumberclient.Timeout(5 * time.Second)}, opts...)
	c, err := lumberclient.SyncDial(addr, opts...)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.Send(evs)
}

func TestListenerDecodesWinlogbeat(t *testing.T) {
	var c collector
	ln := listen(t, beats.Config{Sink: c.sink})
	n, err := send(t, ln.Addr().String(), events(10), lumberclient.CompressionLevel(3))
	if err != nil || n != 10 {
		t.Fatalf("acked %d: %v", n, err)
	}
	b := c.batches[0]
	if len(b.Events) != 10 || b.Format != "json (winlogbeat)" || b.Items != 10 || len(b.Rejected) != 0 {
		t.Fatalf("batch %+v", b)
	}
	if e := b.Events[3]; e.Computer != "PC01.corp.example" || e.EventID != 26 || e.RecordID != 4 || !e.IsConnectivity() ||
		!e.Time.Equal(time.Date(2024, 5, 2, 7, 3, 0, 0, time.UTC)) {
		t.Fatalf("event %+v", e)
	}
}

// rawFrames writes lumberjack frames by hand.
func window(n uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte("2W"), n)
}

func jsonFrame(seq uint32, payload []byte, announce uint32) []byte {
	b := binary.BigEndian.AppendUint32([]byte("2J"), seq)
	b = binary.BigEndian.AppendUint32(b, announce)
	return append(b, payload...)
}

func compressed(inner []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(inner)
	zw.Close()
	b := binary.BigEndian.AppendUint32([]byte("2C"), uint32(z.Len()))
	return append(b, z.Bytes()...)
}

// Frames announcing absurd sizes close the connection before anything is
// allocated for them; the listener keeps serving others.
func TestListenerRefusesHostileFrames(t *testing.T) {
	var c collector
	ln := listen(t, beats.Config{Sink: c.sink, MaxCompressedBytes: 1 << 20})
	ok := []byte(`{"a":1}`)
	bomb := make([]byte, 0, 16<<20)
	for len(bomb) < 16<<20 {
		bomb = append(bomb, jsonFrame(1, ok, uint32(len(ok)))...)
	}
	cases := map[string][]byte{
		"huge window":             window(0xffffffff),
		"huge event":              append(window(1), jsonFrame(1, nil, 0xfffffff0)...),
		"huge compressed frame":   append(window(1), binary.BigEndian.AppendUint32([]byte("2C"), 0xfffffff0)...),
		"huge event inside":       append(window(1), compressed(jsonFrame(1, nil, 0xfffffff0))...),
		"compressed bomb":         append(window(1), compressed(bomb)...),
		"window inside":           append(window(1), compressed(window(0xffffffff))...),
		"not lumberjack":          []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"lumberjack v1":           []byte("1W\x00\x00\x00\x01"),
		"unknown frame type":      append(window(1), []byte("2Q\x00\x00")...),
		"truncated event":         append(window(1), jsonFrame(1, ok, 100)...),
		"garbage compressed data": append(window(1), append(binary.BigEndian.AppendUint32([]byte("2C"), 8), "notzlib!"...)...),
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.Write(raw)
			if name == "truncated event" {
				conn.(*net.TCPConn).CloseWrite()
			}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := io.Copy(io.Discard, conn)
			if err != nil || n != 0 {
				t.Fatalf("want the connection closed without an ACK: read %d bytes, %v", n, err)
			}
		})
	}
	if ln.Stats().Refused < int64(len(cases))-2 { // (EOF cases are not counted as refusals)
		t.Errorf("refused %d", ln.Stats().Refused)
	}
	// Still serving.
	if n, err := send(t, ln.Addr().String(), events(3)); err != nil || n != 3 {
		t.Fatalf("after hostile peers: acked %d: %v", n, err)
	}
	if c.events() != 3 {
		t.Fatalf("%d events reached the sink", c.events())
	}
}

// The connection limit holds further clients until a slot frees.
func TestListenerConnectionLimit(t *testing.T) {
	var c collector
	ln := listen(t, beats.Config{Sink: c.sink, MaxConns: 1})
	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := send(t, ln.Addr().String(), events(1))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("second client served while the only slot is taken: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	idle.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// With TLS and required client certificates, only clients holding a
// certificate the CA signed get in.
func TestListenerClientCertificates(t *testing.T) {
	ca, caKey := newCert(t, "idletrace test CA", nil, nil, true)
	srvCert, srvKey := newCert(t, "127.0.0.1", ca, caKey, false)
	cliCert, cliKey := newCert(t, "winlogbeat-hq", ca, caKey, false)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	var c collector
	ln := listen(t, beats.Config{Sink: c.sink, TLS: &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvCert.Raw}, PrivateKey: srvKey}},
		ClientCAs:    pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	}})
	dial := func(certs []tls.Certificate) func(network, addr string) (net.Conn, error) {
		return func(network, addr string) (net.Conn, error) {
			return tls.Dial(network, addr, &tls.Config{RootCAs: pool, Certificates: certs, ServerName: "127.0.0.1"})
		}
	}
	try := func(certs []tls.Certificate) (int, error) {
		cl, err := lumberclient.SyncDialWith(dial(certs), ln.Addr().String(), lumberclient.Timeout(5*time.Second))
		if err != nil {
			return 0, err
		}
		defer cl.Close()
		return cl.Send(events(2))
	}
	if n, err := try(nil); err == nil {
		t.Fatalf("client without a certificate acked %d", n)
	}
	if n, err := try([]tls.Certificate{{Certificate: [][]byte{cliCert.Raw}, PrivateKey: cliKey}}); err != nil || n != 2 {
		t.Fatalf("client with a certificate: acked %d: %v", n, err)
	}
	if c.events() != 2 {
		t.Fatalf("%d events reached the sink", c.events())
	}
}

func newCert(t testing.TB, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:        isCA, BasicConstraintsValid: true,
	}
	if ip := net.ParseIP(cn); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// BenchmarkListener measures the protocol and decoding alone (the sink
// stores nothing): events a second over one connection, windows of 2048.
func BenchmarkListener(b *testing.B) {
	ln := listen(b, beats.Config{Sink: func(ctx context.Context, bt beats.Batch) error { return nil }})
	cl, err := lumberclient.SyncDial(ln.Addr().String(), lumberclient.Timeout(30*time.Second), lumberclient.CompressionLevel(3))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	evs := events(2048)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if n, err := cl.Send(evs); err != nil || n != len(evs) {
			b.Fatalf("acked %d: %v", n, err)
		}
	}
	b.ReportMetric(float64(b.N*len(evs))/time.Since(start).Seconds(), "events/s")
}

// amplifierFrame is the amplification: a window of n events of
// size bytes each in one zlib frame (tiny on the wire).
func amplifierFrame(n, size int) []byte {
	ev := append(append([]byte(`{"message":"`), bytes.Repeat([]byte("a"), size-16)...), `"}`...)
	var inner []byte
	for i := range n {
		inner = append(inner, jsonFrame(uint32(i+1), ev, uint32(len(ev)))...)
	}
	return append(window(uint32(n)), compressed(inner)...)
}

// amplifier sends frame, then waits for the connection to end or the ACK
// of its last event; it reports whether the batch was acknowledged.
func amplifier(t testing.TB, addr string, frame []byte) bool {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return false
	}
	defer conn.Close()
	conn.Write(frame)
	conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	want := binary.BigEndian.Uint32(frame[2:6])
	for {
		var ack [6]byte
		if _, err := io.ReadFull(conn, ack[:]); err != nil {
			return false
		}
		if binary.BigEndian.Uint32(ack[2:]) == want {
			return true
		}
	}
}

// heapPeak runs f and returns how far the heap grew above its level before.
func heapPeak(f func()) int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	idle := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	f()
	close(stop)
	<-sampled
	return int64(peak.Load()) - int64(idle)
}

// TestListenerMemoryBudget (issue 17 row 2): frames were bounded, a batch
// was not: 240 events of 1 MiB in one zlib frame (250 KB on the wire) grew
// the server by ~500 MB, and 256 connections were allowed. A batch's
// inflated events now count against a per-batch limit and, until
// acknowledged, against a budget shared by all connections; the heap stays
// within 256 MiB of the idle listener's while 8 such clients send at once.
// A frame of events outside any window is refused too (the protocol
// library would read its sequence number as a window size).
func TestListenerMemoryBudget(t *testing.T) {
	var c collector
	ln := listen(t, beats.Config{Sink: c.sink, Timeout: 30 * time.Second})
	addr := ln.Addr().String()
	frame := amplifierFrame(240, 1<<20)
	t.Logf("amplifying frame: %d KiB on the wire for 240 MiB of events", len(frame)>>10)

	flood := func(frame []byte, clients int) (acked int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if amplifier(t, addr, frame) {
					mu.Lock()
					acked++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return acked
	}
	grew := heapPeak(func() { flood(frame, 8) })
	t.Logf("heap grew by %d MiB under 8 clients each sending 240 × 1 MiB events in one frame", grew>>20)
	if grew > 256<<20 {
		t.Errorf("the heap grew by %d MiB under 8 amplifying clients, want at most 256", grew>>20)
	}
	if c.events() != 0 {
		t.Errorf("%d events of over-budget batches reached the sink", c.events())
	}

	// Events outside a window.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write(jsonFrame(0x7fffffff, []byte(`{"a":1}`), 7))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := io.Copy(io.Discard, conn); err != nil || n != 0 {
		t.Fatalf("an event outside a window: read %d, %v", n, err)
	}

	// Batches each within the per-batch limit, together past the budget:
	// they wait for it, and memory stays bounded.
	big := amplifierFrame(30, 1<<20)
	acked := 0
	grew = heapPeak(func() { acked = flood(big, 8) })
	t.Logf("heap grew by %d MiB under 8 clients each sending 30 × 1 MiB events (%d batches acknowledged)", grew>>20, acked)
	if grew > 256<<20 {
		t.Errorf("the heap grew by %d MiB under 8 clients of 30 MiB batches, want at most 256", grew>>20)
	}
	if acked != 8 {
		t.Errorf("%d of 8 batches within the limits acknowledged", acked)
	}

	// Batches within the budget still go through, also many at once.
	var ok sync.WaitGroup
	for range 8 {
		ok.Add(1)
		go func() {
			defer ok.Done()
			if n, err := send(t, addr, events(500)); err != nil || n != 500 {
				t.Errorf("a normal batch after the flood: acked %d: %v", n, err)
			}
		}()
	}
	ok.Wait()
}
