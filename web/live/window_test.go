package live

import (
	"testing"
	"time"

	"idletrace/analysis"
)

// TestWindowCacheBounds (issue 17 row 5d): the windowed-analysis cache
// holds at most windowEntries results and windowBytes of them; a result
// over the byte budget is not kept at all.
func TestWindowCacheBounds(t *testing.T) {
	var c windowCache
	t0 := time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC)
	small := &analysis.Result{Hosts: make([]analysis.Host, 10)}
	for i := range 10 {
		c.put(t0.Add(time.Duration(i)*time.Hour), time.Time{}, 1, small)
	}
	if len(c.entries) > windowEntries || c.bytes > windowBytes {
		t.Errorf("%d entries, %d bytes", len(c.entries), c.bytes)
	}
	if c.get(t0.Add(9*time.Hour), time.Time{}, 1) == nil || c.get(t0, time.Time{}, 1) != nil {
		t.Error("not least recently used first out")
	}
	huge := &analysis.Result{Hosts: make([]analysis.Host, 1<<20)}
	c.put(t0.Add(-time.Hour), time.Time{}, 1, huge)
	if c.get(t0.Add(-time.Hour), time.Time{}, 1) != nil || c.bytes > windowBytes {
		t.Errorf("a result of %d bytes was kept", resultBytes(huge))
	}
	c.put(t0, time.Time{}, 2, small) // new data: older results go
	if len(c.entries) != 1 {
		t.Errorf("%d entries after the data changed", len(c.entries))
	}
}
