package analysis

import "strings"

// groupKeys maps each lower-case computer name to the name of the computer
// it is: a short name ("pc07") that is the host part of exactly one fully
// qualified name among keys ("pc07.corp.example") is that computer (one
// machine can log under both, DOMAIN §7); every other name is itself. A
// short name shared by several domains stays on its own: it cannot be
// told which machine it is. The result is indexed like keys and holds
// indexes into keys.
func groupKeys(keys []string) []int32 {
	canon := make([]int32, len(keys))
	for i := range canon {
		canon[i] = int32(i)
	}
	short := false
	for _, k := range keys {
		if strings.IndexByte(k, '.') < 0 {
			short = true
			break
		}
	}
	if !short { // only full names (most fleets): nothing to group
		return canon
	}
	var byHost map[string]int32 // host part → the one FQDN (-1: several)
	for i, k := range keys {
		dot := strings.IndexByte(k, '.')
		if dot <= 0 {
			continue
		}
		if byHost == nil {
			byHost = make(map[string]int32)
		}
		host := k[:dot]
		if _, seen := byHost[host]; seen {
			byHost[host] = -1
		} else {
			byHost[host] = int32(i)
		}
	}
	if byHost == nil {
		return canon
	}
	for i, k := range keys {
		if strings.IndexByte(k, '.') >= 0 {
			continue
		}
		if f, ok := byHost[k]; ok && f >= 0 {
			canon[i] = f
		}
	}
	return canon
}

// bestSpelling returns the spelling a computer is shown under: a fully
// qualified one when it has any (the short name is the same machine), then
// the most frequent, then the smallest.
func bestSpelling(counts map[int32]int, names []string) int32 {
	best, bestN, bestDot := int32(-1), -1, false
	for ni, n := range counts {
		dot := strings.IndexByte(names[ni], '.') > 0
		switch {
		case best < 0,
			dot && !bestDot,
			dot == bestDot && (n > bestN || (n == bestN && names[ni] < names[best])):
			best, bestN, bestDot = ni, n, dot
		}
	}
	return best
}
