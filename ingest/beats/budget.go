package beats

import (
	"context"
	"sync"
)

// budget is a count of bytes shared by all connections: acquire waits
// until n are free (or ctx ends), release gives them back.
type budget struct {
	mu    sync.Mutex
	free  int64
	limit int64
	wake  chan struct{} // closed and replaced on every release
}

func newBudget(limit int64) *budget {
	return &budget{free: limit, limit: limit, wake: make(chan struct{})}
}

// acquire takes n bytes, waiting for them until ctx ends; false means
// they were not taken. More than the whole budget is never granted.
func (b *budget) acquire(ctx context.Context, n int64) bool {
	if n > b.limit {
		return false
	}
	for {
		b.mu.Lock()
		if b.free >= n {
			b.free -= n
			b.mu.Unlock()
			return true
		}
		wake := b.wake
		b.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return false
		}
	}
}

// release gives back n bytes.
func (b *budget) release(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.free = min(b.free+n, b.limit)
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
}
