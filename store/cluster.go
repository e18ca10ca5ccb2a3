package store

import (
	"context"
	"time"
)

// Retention is a Store that can forget old events (-retention): both
// backends implement it.
type Retention interface {
	// DeleteEventsBefore deletes the events whose time is before t, batch
	// rows per transaction (so writers wait for one batch at most), and
	// returns how many it deleted. The event with the highest seq is
	// always kept, so that seqs never go back (API cursors and the live
	// analysis continue after the highest seq they saw).
	DeleteEventsBefore(ctx context.Context, t time.Time, batch int) (int64, error)
}

// Elector is a Store that several server nodes share (PostgreSQL): they
// elect one leader among them for the work that must be done once
// (pushing diagnoses, retention). A Store that is not an Elector has one
// node, always the leader.
type Elector interface {
	// Elect campaigns for leadership until ctx ends, calling changed(true)
	// when this node becomes the leader and changed(false) when it stops
	// being it (its session to the database broke, or ctx ended while it
	// led). A standby takes over within seconds of the leader's death.
	Elect(ctx context.Context, changed func(leader bool))
}

var _ Retention = (*DB)(nil)
