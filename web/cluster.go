package web

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"idletrace/store"
)

// DefaultRetentionEvery is how often the leader deletes events past
// Config.Retention.
const DefaultRetentionEvery = time.Hour

// retentionBatch is how many events one retention transaction deletes.
const retentionBatch = 10_000

// cluster is this node's part in the work done once across the nodes of
// one database: the leader election (store.Elector; a store that is not
// one has a single node, the leader), and on the leader, push and
// retention. Every node analyses for itself (web/live reads the events
// stored since its last read, whichever node stored them), so a standby
// serves its own, current, analysis and taking over moves only that work.
type cluster struct {
	leader atomic.Bool
	since  atomic.Int64 // unix ns when this node last became the leader
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// IsLeader reports whether this node is the leader of its database's
// nodes now: the one that pushes diagnoses and applies retention.
func (s *Server) IsLeader() bool { return s.cluster.leader.Load() }

// LeaderSince is when this node last became the leader (zero if never).
func (s *Server) LeaderSince() time.Time {
	if ns := s.cluster.since.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

func (s *Server) setLeader(leader bool) {
	if leader {
		s.cluster.since.Store(time.Now().UnixNano())
	}
	s.cluster.leader.Store(leader)
	s.log.Info("analysis leadership", "leader", leader)
}

// startCluster starts the election and the retention sweeps (Start).
func (s *Server) startCluster() {
	ctx, cancel := context.WithCancel(s.life)
	s.cluster.cancel = cancel
	if s.push != nil {
		s.push.leads = s.IsLeader
	}
	if e, ok := s.db.(store.Elector); ok {
		s.cluster.wg.Add(1)
		go func() {
			defer s.cluster.wg.Done()
			e.Elect(ctx, s.setLeader)
		}()
	} else {
		s.setLeader(true)
	}
	if s.cfg.Retention > 0 {
		s.cluster.wg.Add(1)
		go func() {
			defer s.cluster.wg.Done()
			s.retain(ctx)
		}()
	}
}

// stopCluster ends the election (a leader gives the lock up, so a standby
// takes over at once) and the sweeps (Close).
func (s *Server) stopCluster() {
	if s.cluster.cancel != nil {
		s.cluster.cancel()
	}
	s.cluster.wg.Wait()
}

// retain deletes the events older than cfg.Retention every
// cfg.RetentionEvery while this node leads, and on every node rebuilds the
// live analysis when it still holds events past the cut.
func (s *Server) retain(ctx context.Context) {
	every := s.cfg.RetentionEvery
	if every <= 0 {
		every = DefaultRetentionEvery
	}
	r, ok := s.db.(store.Retention)
	if !ok {
		s.log.Warn("retention: this database cannot delete events")
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		cut := time.Now().Add(-s.cfg.Retention)
		if s.IsLeader() && !s.db.ReadOnly() {
			start := time.Now()
			n, err := r.DeleteEventsBefore(ctx, cut, retentionBatch)
			if err != nil && ctx.Err() == nil {
				s.log.Warn("retention", "err", err)
			} else if n > 0 {
				s.log.Info("retention: deleted old events", "events", n, "before", cut.UTC().Format(time.RFC3339),
					"took", time.Since(start).Round(time.Millisecond))
			}
		}
		s.live.Rebuild(cut)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
