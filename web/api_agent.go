package web

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"idletrace/ingest"
	"idletrace/ingest/beats"
	"idletrace/store"
)

// Agent ingest: POST /api/v1/events takes a batch of events from an agent or
// a log shipper (the bundled collector, NXLog om_http, Fluent Bit http, a
// script) as a JSON array or NDJSON of any JSON shape ingest recognises.
// Each item stands alone: a bad one is rejected with its index and reason,
// the others are stored. Storing is idempotent (the store dedups on the
// event's identity, SPEC §4), so a shipper that resends a batch after a
// timeout adds nothing.

// Limits of one agent batch.
const (
	// MaxAgentBody is the largest request body, after decompression.
	MaxAgentBody = 16 << 20
	// MaxAgentItems is the most items one batch may hold.
	MaxAgentItems = 50000
	// maxAgentItemBytes is the longest single item (JSON nesting is bounded
	// by encoding/json's own depth limit of 10000).
	maxAgentItemBytes = 1 << 20
	// maxRejectedListed is how many rejected items a response lists.
	maxRejectedListed = 1000
	// maxAgentWarnings is how many rejections an agent's upload row keeps.
	maxAgentWarnings = 200
)

// Upload sources of agent batches.
const (
	SourceAgent = "agent" // POST /api/v1/events
	SourceBeats = "beats" // the Beats (lumberjack) listener
)

// agentContentTypes are the media types POST /api/v1/events accepts.
var agentContentTypes = map[string]bool{
	"application/json":          true,
	"application/x-ndjson":      true,
	"application/ndjson":        true,
	"application/jsonl":         true,
	"application/x-jsonlines":   true,
	"application/jsonlines":     true,
	"application/stream+json":   true, // Fluent Bit's json_stream
	"application/x-json-stream": true,
}

// RejectedItem is one batch item that could not be used.
type RejectedItem struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

// AgentResult is the outcome of one agent batch.
type AgentResult struct {
	Format string `json:"format"`
	// Accepted counts the valid items, relevant or not.
	Accepted int `json:"accepted"`
	// New and Duplicates split the accepted Outlook 25/26 events.
	New        int `json:"new"`
	Duplicates int `json:"duplicates"`
	// Ignored counts valid items that are not Outlook 25/26 events.
	Ignored int `json:"ignored"`
	// Rejected lists the bad items (the first maxRejectedListed of them);
	// RejectedCount counts them all.
	Rejected      []RejectedItem `json:"rejected"`
	RejectedCount int            `json:"rejected_count"`
	// UploadID is the upload row the batch is counted on (one per agent and
	// UTC day).
	UploadID int64 `json:"upload_id"`
}

// errTooManyItems stops decoding a batch with more than MaxAgentItems items.
var errTooManyItems = &apiError{status: http.StatusRequestEntityTooLarge, code: "too_many_items",
	msg: fmt.Sprintf("the batch holds more than %d items: send smaller batches", MaxAgentItems)}

// handleAPIAgentEvents handles POST /api/v1/events.
func (s *Server) handleAPIAgentEvents(w http.ResponseWriter, r *http.Request) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !(agentContentTypes[mt] || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		s.writeError(w, r, &apiError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type",
			msg: "send the events as Content-Type application/json (a JSON array) or application/x-ndjson (one JSON object a line)"})
		return
	}
	opts := ingest.Options{Limits: ingest.Limits{MaxLine: maxAgentItemBytes}}
	q := r.URL.Query()
	if tz := q.Get("tz"); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			s.writeError(w, r, errBadRequest("unknown time zone %q (want an IANA name such as Europe/Berlin)", tz))
			return
		}
		opts.Location = loc
	}
	if c := strings.TrimSpace(q.Get("computer")); c != "" {
		if len(c) > 255 {
			s.writeError(w, r, errBadRequest("computer name too long"))
			return
		}
		opts.Computer = c // for items that carry no computer name
	}

	body := io.Reader(http.MaxBytesReader(w, r.Body, MaxAgentBody))
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			s.writeError(w, r, agentBodyError(err))
			return
		}
		defer zr.Close()
		body = &limitReader{r: zr, n: MaxAgentBody}
	default:
		s.writeError(w, r, &apiError{status: http.StatusUnsupportedMediaType, code: "unsupported_encoding",
			msg: fmt.Sprintf("unsupported Content-Encoding %q: send gzip or no encoding", enc)})
		return
	}
	counted := &countReader{r: body}

	var (
		items    int
		events   []ingest.Event
		rejected []RejectedItem
		res      AgentResult
	)
	res.Format, err = ingest.DecodeItems(r.Context(), counted, opts, func(i int, ev ingest.Event, err error) error {
		if i >= MaxAgentItems {
			return errTooManyItems
		}
		items = i + 1
		switch {
		case err != nil:
			rejected = append(rejected, RejectedItem{Index: i, Error: err.Error()})
		case ev.IsConnectivity():
			res.Accepted++
			events = append(events, ev)
		default:
			res.Accepted++
			res.Ignored++
		}
		return nil
	})
	if err != nil {
		s.writeError(w, r, agentBodyError(err))
		return
	}
	if items == 0 {
		s.writeError(w, r, errBadRequest("no events in the body: send a JSON array or NDJSON of events"))
		return
	}

	batch := AgentBatch{
		Source: SourceAgent, Agent: agentName(r), Format: res.Format, Bytes: counted.n,
		Items: items, Events: events, Rejected: rejected,
	}
	stored, err := s.IngestAgentBatch(r.Context(), batch)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res.New, res.Duplicates, res.UploadID = stored.New, stored.Duplicates, stored.UploadID
	res.RejectedCount = len(rejected)
	res.Rejected = rejected
	if len(res.Rejected) > maxRejectedListed {
		res.Rejected = res.Rejected[:maxRejectedListed]
	}
	if res.Rejected == nil {
		res.Rejected = []RejectedItem{}
	}
	if res.Accepted == 0 {
		writeJSON(w, http.StatusUnprocessableEntity, struct {
			Error errorBody `json:"error"`
			AgentResult
		}{errorBody{Code: "no_valid_items", Message: fmt.Sprintf("all %d items were rejected; see \"rejected\"", items)}, res})
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// agentBodyError maps a failure to read a batch body to its response.
func agentBodyError(err error) error {
	var ae *apiError
	var fe *ingest.FormatError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae), errors.As(err, &mbe):
		return err
	case errors.As(err, &fe):
		return errBadRequest("the body is not JSON or NDJSON: %s", fe.Msg)
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum):
		return errBadRequest("bad gzip body: %v", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return errBadRequest("reading the body failed: %v", err)
}

// agentName names who sent a batch: the token's name, or "open" on a
// server without tokens.
func agentName(r *http.Request) string {
	if p := principalFrom(r.Context()); p != nil && p.token != nil {
		return p.token.Name
	}
	return "open"
}

// AgentBatch is a decoded batch from an agent, ready to store.
type AgentBatch struct {
	Source string // SourceAgent or SourceBeats
	Agent  string // who sent it: the token's name, or the listener
	Format string
	Bytes  int64
	Items  int // items in the batch, valid or not
	// Events are the valid items; only Outlook 25/26 events are stored.
	Events []ingest.Event
	// Rejected are the bad items, recorded as warnings on the upload row.
	Rejected []RejectedItem
}

// AgentStored says what storing a batch did.
type AgentStored struct {
	Outlook    int
	New        int
	Duplicates int
	UploadID   int64
}

// IngestAgentBatch stores the Outlook 25/26 events of an agent batch and
// counts the batch on the agent's upload row of the day. It returns only
// after the events are committed, so an agent may treat success as an
// acknowledgement. On error some events may be stored: sending the batch
// again is safe, as storing is idempotent.
func (s *Server) IngestAgentBatch(ctx context.Context, b AgentBatch) (out AgentStored, err error) {
	start := time.Now()
	defer func() {
		s.metrics.observeIngest(&store.Upload{NewEvents: out.New, DuplicateEvents: out.Duplicates, Bytes: b.Bytes}, time.Since(start), err)
	}()
	keep := make([]ingest.Event, 0, len(b.Events))
	for _, e := range b.Events {
		if e.IsConnectivity() {
			keep = append(keep, e)
		}
	}
	out.Outlook = len(keep)
	u, err := agentRows.row(ctx, s.db, b.Source, b.Agent)
	if err != nil {
		return out, err
	}
	out.UploadID = u.ID
	for len(keep) > 0 {
		n := min(len(keep), insertBatch)
		added, dups, err := s.db.InsertEvents(ctx, u.ID, keep[:n])
		out.New += added
		out.Duplicates += dups
		if err != nil {
			agentRows.add(ctx, s.db, s.log, u.ID, b, out)
			return out, err
		}
		keep = keep[n:]
	}
	agentRows.add(ctx, s.db, s.log, u.ID, b, out)
	if out.New > 0 || len(b.Rejected) > 0 {
		s.log.Info("agent batch", "source", b.Source, "agent", b.Agent, "upload_id", u.ID, "items", b.Items,
			"outlook_events", out.Outlook, "new", out.New, "duplicates", out.Duplicates, "rejected", len(b.Rejected))
	}
	return out, nil
}

// agentRows keeps one upload row per (database, source, agent, UTC day), so
// that agents sending a batch a second do not bury the uploads list.
var agentRows = &agentRowCache{ids: map[agentRowKey]int64{}}

type agentRowKey struct {
	db                 string // the database file
	source, agent, day string
}

// agentRowCache maps agents to their upload row of the day. Its mutex also
// serialises the read-modify-write of the rows' counts.
type agentRowCache struct {
	mu  sync.Mutex
	ids map[agentRowKey]int64
}

func agentRowName(agent, day string) string { return agent + " · " + day }

// row returns the upload row of the agent's day, creating it (finished, so
// that a crash never leaves it "running") when there is none.
func (c *agentRowCache) row(ctx context.Context, db *store.DB, source, agent string) (*store.Upload, error) {
	day := db.Now().UTC().Format(time.DateOnly)
	k := agentRowKey{db.Path(), source, agent, day}
	c.mu.Lock()
	defer c.mu.Unlock()
	if id := c.ids[k]; id > 0 {
		u, err := db.FindUploadByID(ctx, id)
		if err == nil {
			return u, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		delete(c.ids, k)
	}
	for old := range c.ids { // rows of other days are done with
		if old.day != day {
			delete(c.ids, old)
		}
	}
	name := agentRowName(agent, day)
	// After a restart, carry on with the row of the day if it is recent.
	recent, err := db.FindUploads(ctx, 0, 100)
	if err != nil {
		return nil, err
	}
	for _, u := range recent {
		if u.Source == source && u.Name == name && u.Status == store.UploadDone {
			c.ids[k] = u.ID
			return u, nil
		}
	}
	u := &store.Upload{Name: name, Source: source, Format: ingest.FormatJSON}
	if err := db.CreateUpload(ctx, u); err != nil {
		return nil, err
	}
	if err := db.FinishUpload(ctx, u); err != nil {
		return nil, err
	}
	c.ids[k] = u.ID
	return u, nil
}

// add counts a batch on its upload row. A failure to update the counts is
// logged, not returned: the events themselves are stored.
func (c *agentRowCache) add(ctx context.Context, db *store.DB, log *slog.Logger, id int64, b AgentBatch, st AgentStored) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	u, err := db.FindUploadByID(fctx, id)
	if err != nil {
		log.Warn("agent batch: upload row", "upload_id", id, "err", err)
		return
	}
	u.Bytes += b.Bytes
	u.Records += b.Items
	u.OutlookEvents += st.Outlook
	u.NewEvents += st.New
	u.DuplicateEvents += st.Duplicates
	if b.Format != "" && !strings.Contains(u.Format, b.Format) && len(u.Format) < 200 {
		if u.Format == ingest.FormatJSON || u.Format == "" {
			u.Format = b.Format
		} else {
			u.Format += ", " + b.Format
		}
	}
	for _, rj := range b.Rejected {
		if len(u.Warnings) >= maxAgentWarnings {
			break
		}
		u.Warnings = append(u.Warnings, ingest.Warning{Line: rj.Index + 1,
			Msg: fmt.Sprintf("%s batch item %d rejected: %s", b.Agent, rj.Index, rj.Error)})
	}
	if err := db.FinishUpload(fctx, u); err != nil {
		log.Warn("agent batch: update upload row", "upload_id", id, "err", err)
	}
}

// limitReader fails with *http.MaxBytesError past n bytes (for decompressed
// bodies, which http.MaxBytesReader does not see).
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 { // at the limit: any more data is too much
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, &http.MaxBytesError{Limit: MaxAgentBody}
		}
		return 0, err
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// BeatsSink is the sink of the Beats listener: it stores each batch like an
// agent batch, on the upload row of source "beats", and returns once the
// events are committed, so that the listener acknowledges only stored
// batches.
func (s *Server) BeatsSink(agent string) beats.Sink {
	return func(ctx context.Context, b beats.Batch) error {
		rejected := make([]RejectedItem, len(b.Rejected))
		for i, r := range b.Rejected {
			rejected[i] = RejectedItem{Index: r.Index, Error: r.Error}
		}
		_, err := s.IngestAgentBatch(ctx, AgentBatch{Source: SourceBeats, Agent: agent, Format: b.Format,
			Bytes: b.Bytes, Items: b.Items, Events: b.Events, Rejected: rejected})
		return err
	}
}
