package web

import (
	"net/http"
	"strconv"
	"time"

	"idletrace/analysis"
	"idletrace/store"
)

// apiEvent is an event in the API: seq is its place in the ingest sequence,
// the order /events pages in.
type apiEvent struct {
	Seq        int64     `json:"seq"`
	Time       time.Time `json:"time"`
	Computer   string    `json:"computer"`
	Channel    string    `json:"channel"`
	Provider   string    `json:"provider"`
	EventID    int       `json:"event_id"`
	Kind       string    `json:"kind"` // disconnect (25), reconnect (26) or other
	RecordID   *int64    `json:"record_id"`
	Qualifiers *int      `json:"qualifiers"`
	Level      int       `json:"level"`
	UploadID   *int64    `json:"upload_id"`
	Message    string    `json:"message"`
}

// Event kinds of the API.
const (
	eventKindDisconnect = "disconnect"
	eventKindReconnect  = "reconnect"
	eventKindOther      = "other"
)

func eventKind(id int) string {
	switch id {
	case analysis.EventDisconnected:
		return eventKindDisconnect
	case analysis.EventRestored:
		return eventKindReconnect
	}
	return eventKindOther
}

func newAPIEvent(e *store.StoredEvent) apiEvent {
	a := apiEvent{Seq: e.Seq, Time: e.Time.UTC(), Computer: e.Computer, Channel: e.Channel, Provider: e.Provider,
		EventID: e.EventID, Kind: eventKind(e.EventID), Level: e.Level, Message: e.Message}
	if e.RecordID > 0 {
		r := e.RecordID
		a.RecordID = &r
	}
	if e.Qualifiers >= 0 {
		q := e.Qualifiers
		a.Qualifiers = &q
	}
	if e.UploadID > 0 {
		u := e.UploadID
		a.UploadID = &u
	}
	return a
}

var pEventKind = queryParam{name: "kind", kinds: []string{eventKindDisconnect, eventKindReconnect}}

// eventFilter turns a query into a store filter. A cursor is the seq of the
// last event seen.
func eventFilter(q *listQuery) (store.EventFilter, error) {
	f := store.EventFilter{Computer: q.Computer, Since: q.Since, Until: q.Until}
	switch q.Kind {
	case eventKindDisconnect:
		f.EventIDs = []int{analysis.EventDisconnected}
	case eventKindReconnect:
		f.EventIDs = []int{analysis.EventRestored}
	}
	if q.After != "" {
		pos, err := decodeCursor('e', q.After)
		if err != nil {
			return f, err
		}
		seq, err := strconv.ParseInt(pos, 10, 64)
		if err != nil || seq < 0 {
			return f, errBadCursor
		}
		f.After = seq
	}
	return f, nil
}

func eventCursor(seq int64) string { return encodeCursor('e', strconv.FormatInt(seq, 10)) }

// eventPage is the /events response: a page plus the checkpoint a poller
// stores. next is "" at the end of the data there is now; checkpoint is
// always the position after the last event returned, so that a poller that
// calls again with after=checkpoint later gets exactly the events that
// arrived since, never one twice.
type eventPage struct {
	Items      []apiEvent `json:"items"`
	Next       string     `json:"next"`
	Checkpoint string     `json:"checkpoint"`
}

// handleAPIEventList serves GET /api/v1/events: events in ingest order.
//
// The ingest sequence is safe to poll on: every write transaction holds
// SQLite's single write lock from its first insert to its commit (and
// store.DB serialises its writers), so seqs become visible in order: a
// reader that sees seq N+1 also sees N and everything before it.
func (s *Server) handleAPIEventList(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r, pSince, pUntil, pComputer, pEventKind, pAfter, pLimit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f, err := eventFilter(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f.Limit = q.Limit + 1
	events, err := s.db.FindEvents(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p := eventPage{Items: make([]apiEvent, 0, min(len(events), q.Limit)), Checkpoint: eventCursor(f.After)}
	more := len(events) > q.Limit
	if more {
		events = events[:q.Limit]
	}
	for i := range events {
		p.Items = append(p.Items, newAPIEvent(&events[i]))
	}
	if len(events) > 0 {
		p.Checkpoint = eventCursor(events[len(events)-1].Seq)
	}
	if more {
		p.Next = p.Checkpoint
	}
	writeJSON(w, http.StatusOK, p)
}
