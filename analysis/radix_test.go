package analysis

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRadixSortHigh: keys made in ascending order of their low bits sort
// by the high bits exactly as a full sort does, whatever the digit count.
func TestRadixSortHigh(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	const low = 20
	for _, n := range []int{0, 1, 7, 255, 256, 1000, 100000, 300000} {
		for _, high := range []uint64{1, 0xff, 1<<26 - 1, 1<<38 - 1, 1<<44 - 1} {
			keys := make([]uint64, n)
			for i := range keys {
				// Low bits ascending (the pair index), high bits random
				// with many ties.
				keys[i] = (r.Uint64()&high)<<low | uint64(i)
			}
			want := slices.Clone(keys)
			slices.Sort(want)
			var buf []uint64
			if n%2 == 0 {
				buf = make([]uint64, n)
			}
			radixSortHigh(keys, low, buf)
			if !slices.Equal(keys, want) {
				t.Fatalf("n=%d high=%x: not sorted", n, high)
			}
		}
	}
}
