package analysis

import (
	"encoding/binary"
	"math/bits"
)

// packedEvents is one computer's events, sorted by cevOrder, delta-encoded:
// per event the time since the previous event's and the record id's
// difference to the previous one's (zig-zag varints), then the spelling and
// event id (a varint) — about 8 bytes an event instead of a cev's 24. The
// incremental analysis keeps every event of its window this way and
// decodes a computer's only when it pairs the computer again (or for a
// time window of the whole fleet).
//
// A packedEvents value is a view: appending never changes the bytes an
// earlier copy sees (they end at its length), so Results keep copies.
type packedEvents struct {
	b []byte
	n int32 // events
}

// packEvents encodes sorted events, in an array of their size and a
// sixteenth (a window's events are most of what the incremental analysis
// holds): the next events a computer logs append in place, where a full
// array would be copied, and the copy held twice while an earlier Result
// still reads the old one.
func packEvents(evs []cev) packedEvents {
	var p packedEvents
	n := 0
	var prevT, prevRec int64
	for _, e := range evs {
		n += varintLen(e.t-prevT) + varintLen(e.rec-prevRec) + uvarintLen(uint64(uint32(e.nid)))
		prevT, prevRec = e.t, e.rec
	}
	p.b = make([]byte, 0, n+n/16+8)
	p.appendSorted(evs, cev{})
	return p
}

// uvarintLen is the length of binary.AppendUvarint's encoding of x.
func uvarintLen(x uint64) int { return max(1, (bits.Len64(x)+6)/7) }

// varintLen is the length of binary.AppendVarint's encoding of x.
func varintLen(x int64) int {
	ux := uint64(x) << 1
	if x < 0 {
		ux = ^ux
	}
	return uvarintLen(ux)
}

// appendSorted appends events sorted by cevOrder that all order at or
// after last, p's last event (any value when p is empty).
func (p *packedEvents) appendSorted(evs []cev, last cev) {
	if len(evs) == 0 {
		return
	}
	var prevT, prevRec int64
	if p.n > 0 {
		prevT, prevRec = last.t, last.rec
	}
	b := p.b
	for _, e := range evs {
		b = binary.AppendVarint(b, e.t-prevT)
		b = binary.AppendVarint(b, e.rec-prevRec)
		b = binary.AppendUvarint(b, uint64(uint32(e.nid)))
		prevT, prevRec = e.t, e.rec
	}
	p.b = b
	p.n += int32(len(evs))
}

// first is the time of p's first event (p not empty).
func (p *packedEvents) first() int64 {
	t, _ := binary.Varint(p.b)
	return t
}

// decode appends p's events to dst, in order (host 0).
func (p *packedEvents) decode(dst []cev) []cev {
	dst = append(dst, make([]cev, p.n)...)[:len(dst)]
	var t, rec int64
	b := p.b
	for range p.n {
		dt, k := binary.Varint(b)
		b = b[k:]
		dr, k := binary.Varint(b)
		b = b[k:]
		nid, k := binary.Uvarint(b)
		b = b[k:]
		t, rec = t+dt, rec+dr
		dst = append(dst, cev{t: t, rec: rec, nid: int32(uint32(nid))})
	}
	return dst
}
