package web

import (
	"net/http"
	"sync"

	"idletrace/store"
)

// maxOwnedUploads bounds uploadOwners: past it the oldest are forgotten
// (their ingest tokens then no longer see them; read tokens still do).
const maxOwnedUploads = 100_000

// uploadOwners remembers which token made each upload of this server's
// life, so that a token of scope ingest alone reads the details of its own
// uploads (an agent following its ?async=1 upload) and of no one else's:
// names such as CONFIDENTIAL-ceo-laptop.evtx are not its to see. It is
// kept in memory: after a restart an ingest token sees no upload, which
// fails closed (a read token sees all).
type uploadOwners struct {
	mu    sync.Mutex
	owner map[int64]int64 // upload id → token id
	order []int64         // upload ids, oldest first (a ring once full)
	next  int
}

// note records that r's token made upload u (nil: none was made).
func (o *uploadOwners) note(r *http.Request, u *store.Upload) {
	if u != nil {
		o.noteID(r, u.ID)
	}
}

// noteID records that r's token made upload id.
func (o *uploadOwners) noteID(r *http.Request, id int64) {
	p := principalFrom(r.Context())
	if id <= 0 || p == nil || p.token == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.owner == nil {
		o.owner = map[int64]int64{}
	}
	if _, ok := o.owner[id]; ok {
		o.owner[id] = p.token.ID
		return
	}
	if len(o.order) < maxOwnedUploads {
		o.order = append(o.order, id)
	} else {
		delete(o.owner, o.order[o.next])
		o.order[o.next] = id
		o.next = (o.next + 1) % len(o.order)
	}
	o.owner[id] = p.token.ID
}

// mayRead reports whether r may read upload id's details: anyone with
// scope read (or an open server), an ingest token only its own.
func (o *uploadOwners) mayRead(r *http.Request, id int64) bool {
	p := principalFrom(r.Context())
	if p == nil || p.token == nil || p.token.Allows(store.ScopeRead) {
		return true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	owner, ok := o.owner[id]
	return ok && owner == p.token.ID
}
