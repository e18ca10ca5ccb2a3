package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"idletrace/ingest"
)

// Collector ships the Outlook 25/26 events of one computer to idletrace.
//
// Every cycle it first delivers what is spooled, then reads the events
// after the last record id it took, writes them to a spool file, records
// the new last record id, and delivers the file. The spool file is written
// before the state moves on, so a crash in between at worst sends a batch
// twice, which the server's dedup turns into nothing; a batch leaves the
// spool only once the server has stored it. While the server is down the
// spool holds the batches, up to SpoolMax bytes; past that the collector
// stops reading, and the events wait in the event log itself.
type Collector struct {
	Source   Source
	Server   string // base URL, e.g. https://idletrace.corp.example
	Token    string // bearer token of scope ingest
	Client   *http.Client
	StateDir string
	SpoolMax int64 // bytes of spooled batches at most
	BatchMax int   // events per batch at most
	Retry    Retry
	Log      *slog.Logger
	// Sleep waits (tests replace it); nil means a timer honouring ctx.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Retry is how a batch is retried within one cycle.
type Retry struct {
	Attempts int           // tries per batch and cycle
	Base     time.Duration // first backoff, doubling
	Max      time.Duration // longest backoff, and longest Retry-After honoured
}

// Summary says what one cycle did.
type Summary struct {
	Read      int // events read from the log
	Sent      int // batches delivered
	New       int // events the server did not have
	Dups      int // events it had
	Spooled   int // batches left in the spool
	Rejected  int // batches the server refused for good (kept under spool/rejected)
	LastRecID int64
}

// state is what the collector remembers between runs.
type state struct {
	LastRecordID int64     `json:"last_record_id"`
	Updated      time.Time `json:"updated"`
}

func (c *Collector) spoolDir() string    { return filepath.Join(c.StateDir, "spool") }
func (c *Collector) rejectedDir() string { return filepath.Join(c.StateDir, "spool", "rejected") }
func (c *Collector) statePath() string   { return filepath.Join(c.StateDir, "state.json") }

func (c *Collector) loadState() (state, error) {
	var st state
	b, err := os.ReadFile(c.statePath())
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("state file %s: %w (delete it to send the whole log again; the server drops duplicates)", c.statePath(), err)
	}
	return st, nil
}

func (c *Collector) saveState(st state) error {
	st.Updated = time.Now().UTC()
	b, _ := json.MarshalIndent(st, "", "  ")
	return writeFileAtomic(c.statePath(), append(b, '\n'))
}

// writeFileAtomic writes a temp file beside path, syncs it and renames it
// over path, so that a reader (or a restart) sees the old or the new
// content, never a part.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// RunOnce runs one cycle. It returns an error when something could not be
// delivered (it stays spooled for the next cycle) or the log not read.
func (c *Collector) RunOnce(ctx context.Context) (Summary, error) {
	var sum Summary
	for _, d := range []string{c.StateDir, c.spoolDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return sum, err
		}
	}
	st, err := c.loadState()
	if err != nil {
		return sum, err
	}
	sum.LastRecID = st.LastRecordID
	// 1. What an earlier cycle could not deliver goes first.
	deliverErr := c.deliverSpool(ctx, &sum)

	// 2. A cleared log restarts its record ids: start again from 0.
	if st.LastRecordID > 0 {
		if newest, err := c.newestRecordID(ctx); err != nil {
			return c.finish(sum, err)
		} else if newest < st.LastRecordID {
			c.Log.Warn("the Application log was cleared (its newest record id went down): reading it from the start", "newest", newest, "last_sent", st.LastRecordID)
			st.LastRecordID = 0
			if err := c.saveState(st); err != nil {
				return c.finish(sum, err)
			}
		}
	}

	// 3. New events: spool, remember, deliver.
	for {
		size, err := c.spoolSize()
		if err != nil {
			return c.finish(sum, err)
		}
		if size >= c.SpoolMax {
			c.Log.Warn("spool full: new events wait in the event log until the server takes the spooled ones", "spool_bytes", size)
			break
		}
		raw, err := c.Source.Query(ctx, st.LastRecordID, c.BatchMax)
		if err != nil {
			return c.finish(sum, fmt.Errorf("read the event log: %w", err))
		}
		body, n, records, last, err := toNDJSON(ctx, raw)
		if err != nil {
			return c.finish(sum, err)
		}
		if last <= st.LastRecordID { // nothing new
			break
		}
		sum.Read += n
		if n > 0 {
			name := fmt.Sprintf("%020d-%020d.ndjson", time.Now().UnixNano(), last)
			if err := writeFileAtomic(filepath.Join(c.spoolDir(), name), body); err != nil {
				return c.finish(sum, err)
			}
		}
		st.LastRecordID = last
		sum.LastRecID = last
		if err := c.saveState(st); err != nil {
			return c.finish(sum, err)
		}
		if deliverErr == nil {
			deliverErr = c.deliverSpool(ctx, &sum)
		}
		if records < c.BatchMax { // the last page
			break
		}
	}
	return c.finish(sum, deliverErr)
}

func (c *Collector) finish(sum Summary, err error) (Summary, error) {
	files, lerr := c.spoolFiles()
	if lerr == nil {
		sum.Spooled = len(files)
	}
	return sum, err
}

func (c *Collector) newestRecordID(ctx context.Context) (int64, error) {
	raw, err := c.Source.Newest(ctx)
	if err != nil {
		return 0, fmt.Errorf("read the event log: %w", err)
	}
	var newest int64
	if len(bytes.TrimSpace(raw)) == 0 {
		return 0, nil
	}
	_, err = ingest.Read(ctx, bytes.NewReader(raw), int64(len(raw)), ingest.Options{Name: "wevtutil"}, func(e ingest.Event) error {
		newest = max(newest, e.RecordID)
		return nil
	})
	return newest, err
}

// agentEvent is idletrace's own JSON event schema.
type agentEvent struct {
	Computer   string `json:"computer"`
	Channel    string `json:"channel"`
	Provider   string `json:"provider"`
	EventID    int    `json:"event_id"`
	Qualifiers *int   `json:"qualifiers,omitempty"`
	Level      int    `json:"level,omitempty"`
	RecordID   int64  `json:"record_id,omitempty"`
	Time       string `json:"time"`
	Message    string `json:"message,omitempty"`
}

// toNDJSON parses wevtutil XML and returns the Outlook 25/26 events as
// NDJSON of idletrace's schema, their count, the count of records read and
// the highest record id read.
func toNDJSON(ctx context.Context, raw []byte) (body []byte, n, records int, last int64, err error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, 0, 0, 0, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_, err = ingest.Read(ctx, bytes.NewReader(raw), int64(len(raw)), ingest.Options{Name: "wevtutil"}, func(e ingest.Event) error {
		records++
		last = max(last, e.RecordID)
		if !e.IsConnectivity() {
			return nil
		}
		ae := agentEvent{Computer: e.Computer, Channel: e.Channel, Provider: e.Provider, EventID: e.EventID,
			Level: e.Level, RecordID: e.RecordID, Time: formatTime(e.Time, e.Precision), Message: e.Message}
		if e.Qualifiers >= 0 {
			q := e.Qualifiers
			ae.Qualifiers = &q
		}
		n++
		return enc.Encode(ae)
	})
	if err != nil {
		return nil, 0, 0, 0, fmt.Errorf("parse wevtutil output: %w", err)
	}
	return buf.Bytes(), n, records, last, nil
}

// formatTime writes t in RFC 3339 with as many fraction digits as its
// precision has, so that the server reads the same precision back.
func formatTime(t time.Time, prec time.Duration) string {
	digits := 0
	for p := time.Second; p > prec && p > time.Nanosecond && digits < 9; p /= 10 {
		digits++
	}
	layout := "2006-01-02T15:04:05"
	if digits > 0 {
		layout += "." + strings.Repeat("0", digits)
	}
	return t.UTC().Format(layout + "Z07:00")
}

func (c *Collector) spoolFiles() ([]string, error) {
	ents, err := os.ReadDir(c.spoolDir())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".ndjson") {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out) // by creation time: oldest first
	return out, nil
}

func (c *Collector) spoolSize() (int64, error) {
	files, err := c.spoolFiles()
	if err != nil {
		return 0, err
	}
	var total int64
	for _, f := range files {
		if fi, err := os.Stat(filepath.Join(c.spoolDir(), f)); err == nil {
			total += fi.Size()
		}
	}
	return total, nil
}

// deliverSpool sends the spooled batches, oldest first, and stops at the
// first that cannot be delivered now.
func (c *Collector) deliverSpool(ctx context.Context, sum *Summary) error {
	files, err := c.spoolFiles()
	if err != nil {
		return err
	}
	for _, name := range files {
		path := filepath.Join(c.spoolDir(), name)
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		res, err := c.send(ctx, body)
		var perm *permanentError
		switch {
		case errors.As(err, &perm):
			// The server will never take this batch: keep it aside for a
			// person to look at, and go on with the others.
			c.Log.Error("the server refused a batch for good; it is kept under spool/rejected", "file", name, "err", err)
			if err := c.reject(path, name); err != nil {
				return err
			}
			sum.Rejected++
			continue
		case err != nil:
			return err
		}
		if err := os.Remove(path); err != nil {
			return err
		}
		sum.Sent++
		sum.New += res.New
		sum.Dups += res.Duplicates
		c.Log.Info("batch delivered", "file", name, "new", res.New, "duplicates", res.Duplicates, "rejected_items", res.RejectedCount)
	}
	return nil
}

// reject moves a refused batch under spool/rejected, keeping the newest 20.
func (c *Collector) reject(path, name string) error {
	if err := os.MkdirAll(c.rejectedDir(), 0o700); err != nil {
		return err
	}
	if err := os.Rename(path, filepath.Join(c.rejectedDir(), name)); err != nil {
		return err
	}
	ents, _ := os.ReadDir(c.rejectedDir())
	for len(ents) > 20 {
		os.Remove(filepath.Join(c.rejectedDir(), ents[0].Name()))
		ents = ents[1:]
	}
	return nil
}

type sendResult struct {
	New           int `json:"new"`
	Duplicates    int `json:"duplicates"`
	RejectedCount int `json:"rejected_count"`
}

// permanentError is a refusal that sending again cannot change (400, 413,
// 415, 422).
type permanentError struct{ msg string }

func (e *permanentError) Error() string { return e.msg }

// send posts one batch, retrying with exponential backoff and jitter, and
// honouring Retry-After on 429 and 503.
func (c *Collector) send(ctx context.Context, body []byte) (sendResult, error) {
	var lastErr error
	for attempt := 0; attempt < max(c.Retry.Attempts, 1); attempt++ {
		if attempt > 0 {
			wait := c.backoff(attempt - 1)
			var ra *retryAfterError
			if errors.As(lastErr, &ra) && ra.after > 0 {
				wait = min(ra.after, c.Retry.Max)
			}
			c.Log.Info("retrying", "attempt", attempt+1, "in", wait, "err", lastErr)
			if err := c.sleep(ctx, wait); err != nil {
				return sendResult{}, err
			}
		}
		res, err := c.post(ctx, body)
		if err == nil {
			return res, nil
		}
		var perm *permanentError
		var auth *authError
		if errors.As(err, &perm) || errors.As(err, &auth) || ctx.Err() != nil {
			return res, err
		}
		lastErr = err
	}
	return sendResult{}, lastErr
}

func (c *Collector) backoff(n int) time.Duration {
	d := c.Retry.Max
	if n < 30 {
		d = min(d, c.Retry.Base<<n)
	}
	return time.Duration(float64(d) * (0.5 + rand.Float64()/2)) // jitter: 50–100 %
}

func (c *Collector) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type retryAfterError struct {
	status int
	after  time.Duration
	msg    string
}

func (e *retryAfterError) Error() string { return e.msg }

func (c *Collector) post(ctx context.Context, body []byte) (sendResult, error) {
	var res sendResult
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.Server, "/")+"/api/v1/events", bytes.NewReader(body))
	if err != nil {
		return res, &permanentError{err.Error()}
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("User-Agent", "idletrace-collector/1")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		return res, fmt.Errorf("post batch: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var eb struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	json.Unmarshal(raw, &eb)
	msg := fmt.Sprintf("server answered %s", resp.Status)
	if eb.Error.Message != "" {
		msg += ": " + eb.Error.Message
	}
	switch s := resp.StatusCode; {
	case s == http.StatusOK:
		if err := json.Unmarshal(raw, &res); err != nil {
			return res, fmt.Errorf("post batch: bad response: %w", err)
		}
		return res, nil
	case s == http.StatusTooManyRequests || s == http.StatusServiceUnavailable:
		return res, &retryAfterError{status: s, after: parseRetryAfter(resp.Header.Get("Retry-After")), msg: msg}
	case s == http.StatusBadRequest || s == http.StatusRequestEntityTooLarge || s == http.StatusUnsupportedMediaType || s == http.StatusUnprocessableEntity:
		return res, &permanentError{msg}
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		// Not retried in this cycle; the batch stays spooled until the token
		// is fixed.
		return res, &authError{msg + " (check -token / -token-file: it needs scope ingest)"}
	}
	return res, errors.New(msg)
}

// authError is a refusal of the token: no use retrying now, but the batch
// is kept.
type authError struct{ msg string }

func (e *authError) Error() string { return e.msg }

// parseRetryAfter reads seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
