package web

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"idletrace/ingest"
	"idletrace/ingest/beats"
	"idletrace/intake"
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
)

// Upload sources of agent batches.
const (
	SourceAgent = intake.SourceAgent // POST /api/v1/events
	SourceBeats = intake.SourceBeats // the Beats (lumberjack) listener
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
type RejectedItem = intake.RejectedItem

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

	batch := intake.AgentBatch{
		Source: SourceAgent, Agent: agentName(r), Format: res.Format, Bytes: counted.n,
		Items: items, Events: events, Rejected: rejected,
	}
	stored, err := s.intake.AgentBatch(r.Context(), batch)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res.New, res.Duplicates, res.UploadID = stored.New, stored.Duplicates, stored.UploadID
	s.owners.noteID(r, stored.UploadID)
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

// BeatsSink is the sink of the Beats listener (intake.Pipeline.BeatsSink):
// each batch is stored like an agent batch, on the upload row of source
// "beats", and acknowledged only once stored.
func (s *Server) BeatsSink(agent string) beats.Sink { return s.intake.BeatsSink(agent) }
