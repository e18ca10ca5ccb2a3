package store

import "testing"

// TestInterner: equal names share one string; the behaviour of
// AnalysisEventsAfter itself is in storetest, run on every backend.
func TestInterner(t *testing.T) {
	var in Interner
	a := in.Intern([]byte("PC01"))
	b := in.Intern([]byte("PC01"))
	in.Intern([]byte("pc01"))
	if a != b || len(in.m) != 2 {
		t.Fatalf("interned %d strings, want 2", len(in.m))
	}
}
