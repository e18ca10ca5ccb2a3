package intake

import (
	"context"
	"fmt"
	"time"

	"idletrace/ingest"
	"idletrace/ingest/beats"
	"idletrace/store"
)

// maxAgentWarnings is how many rejections one batch may add to its day's
// upload row (the store keeps at most 200 a row).
const maxAgentWarnings = 200

// RejectedItem is one batch item that could not be used.
type RejectedItem struct {
	Index int    `json:"index"`
	Error string `json:"error"`
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

// AgentBatch stores the Outlook 25/26 events of an agent batch and counts
// the batch on the agent's upload row of the day (one per source, agent
// and UTC day, so that agents sending a batch a second do not bury the
// uploads list). It returns only after the events are committed, so an
// agent may treat success as an acknowledgement. On error some events may
// be stored: sending the batch again is safe, as storing is idempotent.
func (p *Pipeline) AgentBatch(ctx context.Context, b AgentBatch) (out AgentStored, err error) {
	start := time.Now()
	defer func() {
		if p.metrics != nil {
			p.metrics.ObserveIngest(&store.Upload{NewEvents: out.New, DuplicateEvents: out.Duplicates, Bytes: b.Bytes}, time.Since(start), err)
		}
	}()
	keep := make([]ingest.Event, 0, len(b.Events))
	for _, e := range b.Events {
		if e.IsConnectivity() {
			keep = append(keep, e)
		}
	}
	out.Outlook = len(keep)
	id, err := p.db.AgentDayUpload(ctx, b.Source, b.Agent)
	if err != nil {
		return out, err
	}
	out.UploadID = id
	for len(keep) > 0 {
		n := min(len(keep), batchSize)
		added, dups, err := p.db.InsertEvents(ctx, id, keep[:n])
		out.New += added
		out.Duplicates += dups
		if err != nil {
			p.countBatch(ctx, b, out)
			return out, err
		}
		keep = keep[n:]
	}
	p.countBatch(ctx, b, out)
	if out.New > 0 || len(b.Rejected) > 0 {
		p.log.Info("agent batch", "source", b.Source, "agent", b.Agent, "upload_id", id, "items", b.Items,
			"outlook_events", out.Outlook, "new", out.New, "duplicates", out.Duplicates, "rejected", len(b.Rejected))
	}
	return out, nil
}

// countBatch counts a batch on its upload row. A failure to update the
// counts is logged, not returned: the events themselves are stored.
func (p *Pipeline) countBatch(ctx context.Context, b AgentBatch, st AgentStored) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	c := store.AgentBatchCounts{Bytes: b.Bytes, Records: b.Items, OutlookEvents: st.Outlook,
		NewEvents: st.New, DuplicateEvents: st.Duplicates, Format: b.Format}
	for _, rj := range b.Rejected[:min(len(b.Rejected), maxAgentWarnings)] {
		c.Warnings = append(c.Warnings, ingest.Warning{Line: rj.Index + 1,
			Msg: fmt.Sprintf("%s batch item %d rejected: %s", b.Agent, rj.Index, rj.Error)})
	}
	if err := p.db.CountAgentBatch(fctx, st.UploadID, c); err != nil {
		p.log.Warn("agent batch: update upload row", "upload_id", st.UploadID, "err", err)
	}
}

// BeatsSink is the sink of the Beats listener: it stores each batch like an
// agent batch, on the upload row of source "beats", and returns once the
// events are committed, so that the listener acknowledges only stored
// batches.
func (p *Pipeline) BeatsSink(agent string) beats.Sink {
	return func(ctx context.Context, b beats.Batch) error {
		rejected := make([]RejectedItem, len(b.Rejected))
		for i, r := range b.Rejected {
			rejected[i] = RejectedItem{Index: r.Index, Error: r.Error}
		}
		_, err := p.AgentBatch(ctx, AgentBatch{Source: SourceBeats, Agent: agent, Format: b.Format,
			Bytes: b.Bytes, Items: b.Items, Events: b.Events, Rejected: rejected})
		return err
	}
}
