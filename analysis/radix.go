package analysis

import (
	"math/bits"
	"unsafe"
)

// radixSortHigh sorts keys in place by their bits from low up, keeping
// the order of keys equal there (a stable LSD sort): keys made in the
// order of their low bits come out sorted as radixSort would sort them,
// in fewer passes. It skips the bits that are the same in every key:
// sorting the packed interval keys this way is several times faster than
// a comparison sort on a million keys. buf, when large enough, is the
// sort's scratch.
func radixSortHigh(keys []uint64, low uint, buf []uint64) {
	if len(keys) < 256 {
		for i := 1; i < len(keys); i++ {
			for j := i; j > 0 && keys[j]>>low < keys[j-1]>>low; j-- {
				keys[j], keys[j-1] = keys[j-1], keys[j]
			}
		}
		return
	}
	var or, and uint64 = 0, ^uint64(0)
	for _, k := range keys {
		or |= k
		and &= k
	}
	diff := (or ^ and) >> low << low // the high bits that vary
	if diff == 0 {
		return
	}
	lo, hi := uint(bits.TrailingZeros64(diff)), uint(64-bits.LeadingZeros64(diff))
	// Digits of at most 13 bits: the counts stay in the core's cache.
	passes := (hi - lo + 12) / 13
	width := (hi - lo + passes - 1) / passes
	if cap(buf) < len(keys) {
		buf = make([]uint64, len(keys))
	}
	src, dst := keys, buf[:len(keys)]
	count := make([]int32, 1<<width)
	mask := uint64(1)<<width - 1
	for shift := lo; shift < hi; shift += width {
		clear(count)
		for _, k := range src {
			count[(k>>shift)&mask]++
		}
		sum := int32(0)
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for _, k := range src {
			d := (k >> shift) & mask
			dst[count[d]] = k
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
}

// sortSpace returns, inside the memory of out's whole array (elements of
// 24 bytes without pointers), room for cap(out) sort keys and the sort's
// scratch: keys (empty, to append to) in its last third, buf in its
// middle one. Filling out[k] from keys[k] in ascending order of k never
// overwrites a key not yet read (out[k] ends at byte 24k+24, keys[k+1]
// starts at 16·cap+8k+8), so the sorted intervals need no arrays of their
// own for their keys: a fleet's are 80 MB.
func sortSpace[T cpoint | ocand](out []T) (keys, buf []uint64) {
	n := cap(out)
	if n == 0 {
		return nil, nil
	}
	var zero T
	if unsafe.Sizeof(zero) != 24 {
		panic("sortSpace: elements of 24 bytes only")
	}
	w := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(out[:n]))), 3*n)
	return w[2*n : 2*n : 3*n], w[n : 2*n : 2*n]
}

// recast returns the whole array of s as an empty slice of the other
// 24-byte, pointer-free element type, for the next fleet-sized array of
// an update to reuse the last one's memory (the contents are garbage).
func recast[U, T cpoint | ocand](s []T) []U {
	var t T
	var u U
	if unsafe.Sizeof(t) != unsafe.Sizeof(u) || unsafe.Alignof(t) != unsafe.Alignof(u) {
		panic("recast: element types differ in size")
	}
	if cap(s) == 0 {
		return nil
	}
	return unsafe.Slice((*U)(unsafe.Pointer(unsafe.SliceData(s[:cap(s)]))), cap(s))[:0]
}
