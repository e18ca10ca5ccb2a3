package analysis

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Thresholds of the idle-timeout diagnosis.
const (
	// A device's timeout is sharp: resets land within a sweep timer's
	// lateness (≤ 30 s or 2 %) of T, a silent drop within 10–40 s of
	// retransmissions after the keep-alive. A cluster whose 10th to 90th
	// percentile spans more than maxSpread seconds and maxRelWidth of its
	// median is a habit of the users (e.g. laptops sleeping at lunch, hours
	// after logging on), not a device, and gets no diagnosis.
	maxRelWidth = 0.06
	maxSpread   = 45.0
	// unknownRelWidth: wider than this, the cluster is neither a sharp
	// reset edge nor the keep-alive signature: drop "unknown".
	unknownRelWidth = 0.10
	// A silent drop shows at Outlook's keep-alive k plus TCP
	// retransmissions (10–40 s): the median lies silentMinOffset…
	// silentMaxOffset seconds above k, the 90th percentile at most
	// silentMaxEnd, and the cluster is at least silentMinSpread wide.
	// A resetting device shows within a few seconds above its timeout.
	silentMinOffset = 8.0
	silentMaxOffset = 48.0
	silentMaxEnd    = 60.0
	silentMinSpread = 16.0
	silentMaxBlur   = 30.0 // how far below k the onset may lie
)

// diagnose runs the statistics: uptime peaks and the computers that
// repeat at them, shared outages (on the disconnects those clusters do not
// explain), the clusters' computers again without the outages, downtime
// clusters, then the diagnoses.
func (a *analyzer) diagnose() {
	pts, n := a.points(ClusterUptime, nil)
	wins := findPeaks(pts, a.o.MinIntervals)
	before := a.sc.mark()
	a.upClusters = a.buildClusters(ClusterUptime, pts, wins, a.minComputers(n))
	// The outage candidates take the intervals' array: the two at once,
	// fleet-sized each, were an update's peak of memory, and under a
	// memory limit that peak made the collector run without pause.
	a.findOutages(recast[ocand](pts))
	if len(a.outages) > 0 {
		// The peaks stay where they are; their members, statistics and
		// computers are recomputed without the outage pairs (points
		// leaves those out, in the order the intervals had).
		pts, n = a.points(ClusterUptime, pts)
		a.sc.release(before) // the clusters made before the outages are not read again
		a.upClusters = a.buildClusters(ClusterUptime, pts, wins, a.minComputers(n))
	}
	// The downtimes (without the outages' pairs) reuse the uptimes' array.
	down, n := a.points(ClusterDowntime, pts)
	a.downClusters = a.buildClusters(ClusterDowntime, down, findPeaks(down, a.o.MinIntervals), a.minComputers(n))
	a.timeoutDiagnoses()
	a.outageDiagnoses()
	if a.sc != nil { // for the next update
		a.sc.pts, a.sc.pairAt, a.sc.secs = down[:0], a.pairAt[:0], a.secs[:0]
	}
}

// points returns the intervals of one kind (see intervals), sorted, in
// out's array when it is large enough, and how many computers they name.
// Their keys are sorted in that array too (see sortSpace).
func (a *analyzer) points(kind string, out []cpoint) ([]cpoint, int) {
	size := a.tab.len()
	if out == nil && a.sc != nil {
		out = a.sc.pts
		if cap(out) < size {
			size = roomFor(cap(out), size)
		}
	}
	if cap(out) < size {
		out = make([]cpoint, 0, size)
	}
	keys, buf := sortSpace(out)
	keys, n := a.intervals(kind, keys)
	radixSortHigh(keys, idxBits, buf)
	out = out[:len(keys)]
	for k, key := range keys {
		p := cpoint{key: key}
		ref := a.pairAt[p.pair()]
		p.x, p.host, p.sess = math.Log(p.sec()), ref.host, ref.sess
		out[k] = p
	}
	return out, n
}

// intervals appends to keys (see pointKeys) the intervals of one kind over
// the pairs that count: not of an interleaving computer, nor of a shared
// outage (once those are known), and for uptimes not overnight. It
// returns them, in pair order, and how many computers they name. With
// keys nil it only counts the computers.
func (a *analyzer) intervals(kind string, keys []uint64) ([]uint64, int) {
	pk := pointKeys{keys: keys}
	computers := 0
	for h, hp := range a.tab.hosts {
		cps := hp.cps
		if a.hosts[h].interleaved {
			continue
		}
		base := int(a.tab.off[h])
		some := false
		for j := range cps {
			p := &cps[j]
			var d time.Duration
			if kind == ClusterUptime {
				if p.flags&cpOvernight != 0 {
					continue
				}
				d = p.uptime()
			} else {
				d = p.downtime()
			}
			if d <= 0 || a.tab.excl[base+j] == exclOutage {
				continue
			}
			if keys == nil {
				if pk.counts(d, base+j) {
					some = true
					break
				}
				continue
			}
			some = pk.add(d, base+j) || some
		}
		if some {
			computers++
		}
	}
	return pk.keys, computers
}

// minComputers is MinComputers, or n when fewer.
func (a *analyzer) minComputers(n int) int { return max(1, min(a.o.MinComputers, n)) }

// stats of one diagnosis' intervals.
type ivStats struct {
	n                          int
	lo, hi, p02, p10, p50, p90 float64
}

// statsOf summarizes sorted interval values.
func statsOf(secs []float64) ivStats {
	return ivStats{
		n: len(secs), lo: secs[0], hi: secs[len(secs)-1],
		p02: quantile(secs, 0.02), p10: quantile(secs, 0.10),
		p50: quantile(secs, 0.5), p90: quantile(secs, 0.90),
	}
}

func (a *analyzer) timeoutDiagnoses() {
	var diags []Diagnosis
	type owner struct {
		c     *cluster
		hosts []int32
	}
	var owners []owner
	for _, c := range a.upClusters {
		if !c.regular() {
			continue
		}
		groups, weak := a.dropWeakSites(c, a.splitSites(c.hosts))
		also := a.alsoSeenBySite(append(slices.Clone(c.alsoSeen), weak...), groups)
		for i, g := range groups {
			owners = append(owners, owner{c, g.hosts})
			d := a.timeoutDiagnosis(c, g.hosts, also[i], g.prefix, len(groups) > 1)
			diags = append(diags, d)
		}
	}
	// IDs must be unique: disambiguate by site prefix, then by a counter.
	count := map[string]int{}
	for _, d := range diags {
		count[d.ID]++
	}
	used := map[string]bool{}
	for i := range diags {
		if count[diags[i].ID] > 1 && diags[i].Site != "" && !strings.HasSuffix(diags[i].ID, "-"+slug(diags[i].Site)) {
			diags[i].ID += "-" + slug(diags[i].Site)
		}
		base, n := diags[i].ID, 2
		for used[diags[i].ID] {
			diags[i].ID = fmt.Sprintf("%s-%d", base, n)
			n++
		}
		used[diags[i].ID] = true
	}
	for i, ow := range owners {
		id := diags[i].ID
		for _, h := range ow.hosts {
			a.hosts[h].diags = a.dx.add(a.hosts[h].diags, id)
		}
		member := a.mark(ow.hosts)
		for _, m := range ow.c.pts {
			if member[m.host] {
				a.tab.setDiagnosis(int(m.pair), id)
			}
		}
		a.unmark(ow.hosts)
	}
	a.diags = append(a.diags, diags...)
}

// dropWeakSites takes out of a split cluster the site groups that hold a
// sliver of its intervals (under 5 % of the largest group's) with about two
// repeats per computer: in a large fleet a few computers of another site
// repeat at an interval by chance. Their computers are returned, to be
// listed as also seen.
func (a *analyzer) dropWeakSites(c *cluster, groups []siteGroup) ([]siteGroup, []int32) {
	if len(groups) < 2 {
		return groups, nil
	}
	n := make(map[int32]int, len(c.hosts))
	for _, p := range c.pts {
		n[p.host]++
	}
	counts := make([]int, len(groups))
	for i, g := range groups {
		for _, h := range g.hosts {
			counts[i] += n[h]
		}
	}
	top := slices.Max(counts)
	var kept []siteGroup
	var weak []int32
	for i, g := range groups {
		if float64(counts[i]) < 0.05*float64(top) && counts[i] < 3*len(g.hosts) {
			weak = append(weak, g.hosts...)
			continue
		}
		kept = append(kept, g)
	}
	return kept, weak
}

// alsoSeenBySite hands the computers seen at a cluster's interval without
// enough evidence to the site group of their name prefix, else to the
// largest group (the first).
func (a *analyzer) alsoSeenBySite(also []int32, groups []siteGroup) [][]int32 {
	out := make([][]int32, len(groups))
	for _, h := range also {
		g := 0
		p := sitePrefix(a.hosts[h].name)
		for i := range groups {
			if len(groups) > 1 && strings.EqualFold(sitePrefix(groups[i].prefix), p) {
				g = i
				break
			}
		}
		out[g] = append(out[g], h)
	}
	return out
}

type siteGroup struct {
	prefix string
	hosts  []int32
}

// splitSites splits a cluster's computers by site (common name prefix)
// when two or more sites each have enough computers for a diagnosis of
// their own; smaller groups join the largest. A single site, or one big
// site and stragglers, stays one group.
func (a *analyzer) splitSites(hosts []int32) []siteGroup {
	by := map[string][]int32{}
	for _, h := range hosts {
		p := sitePrefix(a.hosts[h].name)
		by[p] = append(by[p], h)
	}
	var groups []siteGroup
	for p, hs := range by {
		groups = append(groups, siteGroup{p, hs})
	}
	slices.SortFunc(groups, func(x, y siteGroup) int {
		if c := cmp.Compare(len(y.hosts), len(x.hosts)); c != 0 {
			return c
		}
		return strings.Compare(x.prefix, y.prefix)
	})
	req := a.minComputers(len(hosts))
	var big []siteGroup
	var rest []int32
	for _, g := range groups {
		if len(g.hosts) >= max(req, 2) {
			big = append(big, g)
		} else {
			rest = append(rest, g.hosts...)
		}
	}
	if len(big) <= 1 {
		return []siteGroup{{prefix: commonPrefix(a, hosts), hosts: hosts}}
	}
	big[0].hosts = append(big[0].hosts, rest...)
	for i := range big {
		slices.Sort(big[i].hosts)
		big[i].prefix = commonPrefix(a, big[i].hosts)
	}
	return big
}

// sitePrefix is a computer's name up to the first dot, without trailing
// digits: "HQ-PC01.corp.example" → "HQ-PC".
func sitePrefix(name string) string {
	if i := strings.IndexByte(name, '.'); i >= 0 {
		name = name[:i]
	}
	return strings.TrimRightFunc(name, unicode.IsDigit)
}

// commonPrefix is the longest common prefix of the computers' short names
// (case-insensitive, shown as in the first name), trimmed of digits.
func commonPrefix(a *analyzer, hosts []int32) string {
	if len(hosts) == 0 {
		return ""
	}
	first := a.hosts[hosts[0]].name
	if i := strings.IndexByte(first, '.'); i >= 0 {
		first = first[:i]
	}
	n := len(first)
	for _, h := range hosts[1:] {
		k := a.keys[h]
		m := 0
		for m < n && m < len(k) && unicode.ToLower(rune(first[m])) == rune(k[m]) {
			m++
		}
		n = m
	}
	return strings.TrimRightFunc(first[:n], unicode.IsDigit)
}

func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

func ptr(v float64) *float64 { return &v }

// timeoutDiagnosis builds the idle-timeout diagnosis of cluster c for the
// given computers.
func (a *analyzer) timeoutDiagnosis(c *cluster, hosts, also []int32, site string, split bool) Diagnosis {
	member := a.mark(hosts)
	secs := a.secs[:0]
	for _, m := range c.pts {
		if member[m.host] {
			secs = append(secs, m.sec)
		}
	}
	a.unmark(hosts)
	defer func() { a.secs = secs[:0] }()
	st := statsOf(secs)
	// The share of the window's intervals the background does not explain.
	contrast := 1.0
	if c.win.n > 0 {
		contrast = math.Max(0, 1-c.background/float64(c.win.n))
	}
	d := Diagnosis{
		Kind:       KindIdleTimeout,
		Computers:  a.hostNames(hosts),
		AlsoSeen:   a.hostNames(also),
		Intervals:  st.n,
		Site:       site,
		Matches:    []Match{},
		Confidence: timeoutConfidence(len(hosts), st.n, contrast, (st.p90-st.p10)/st.p50),
	}
	d.ConfidenceNote = confidenceNote(len(hosts), st.n, c.win.n, c.background, len(a.hosts))
	// The onset (lower envelope): user activity only lengthens uptimes, and
	// a late timer spreads them above T, so a low quantile estimates T; the
	// lower, the more intervals there are to trust it with.
	onset := onsetOf(secs)
	d.ObservedSeconds = ptr(round1(onset))
	spread := st.p90 - st.p10
	// Silent drop: the bulk lies a retransmission delay above a keep-alive
	// (10–40 s) and ends soon after; users who noticed the dead connection
	// before the keep-alive may blur the lower edge.
	var keep float64
	for _, k := range a.o.KeepAlives {
		off := st.p50 - k
		if off >= silentMinOffset && off <= silentMaxOffset && st.p90-k <= silentMaxEnd && spread >= silentMinSpread &&
			onset >= k-silentMaxBlur && !startsAt(secs, k) && k > keep {
			keep = k
		}
	}
	who := fmt.Sprintf("%d of %d computers", len(hosts), len(a.hosts))
	switch {
	case len(hosts) == 1 && len(a.hosts) == 1:
		who = a.hosts[hosts[0]].name + " (the only computer in the data)"
	case len(hosts) == 1:
		who = a.hosts[hosts[0]].name
	case site != "":
		who += fmt.Sprintf(" (%s*)", site)
	}
	switch {
	case keep > 0:
		d.Drop = "silent"
		// What the logs show is Outlook's keep-alive (plus retransmissions).
		d.ObservedSeconds = ptr(keep)
		d.TimeoutMaxSeconds = ptr(keep)
		d.KeepAliveSeconds = ptr(keep)
		d.Matches = devicesBelow(keep)
		d.ID = fmt.Sprintf("idle-timeout-silent-%ds", int(keep))
		d.Summary = fmt.Sprintf("Idle timeout %s on the path of %s: %d uptimes pile up at %s–%s s, just after Outlook's %s keep-alive, consistent with a device that drops idle connections silently somewhere below %s; Outlook only notices at its next keep-alive.",
			FigureText(&d), who, st.n, num(RoundSeconds(st.p10)), num(RoundSeconds(st.p90)), FormatSeconds(keep), FormatSeconds(keep))
		d.Recommendations = silentRecommendations(keep, d.Matches)
	default:
		d.Drop = "reset"
		if (st.p90-st.p10)/st.p50 > unknownRelWidth {
			d.Drop = "unknown"
		}
		t := round1(onset)
		d.TimeoutSeconds = ptr(t)
		d.Matches = MatchDevices(t, a.o.MatchTolerance)
		d.ID = fmt.Sprintf("idle-timeout-%ds", idValue(t, d.Matches))
		how := "resets idle connections"
		if d.Drop == "unknown" {
			how = "ends idle connections"
		}
		d.Summary = fmt.Sprintf("Idle timeout %s on the path of %s: %d uptimes pile up at %s–%s s, consistent with a device that %s after %s%s.",
			FigureText(&d), who, st.n, num(RoundSeconds(st.p10)), num(RoundSeconds(st.p90)), how, FigureText(&d), matchText(d.Matches))
		d.Recommendations = resetRecommendations(t, d.Matches)
	}
	if split {
		d.ID += "-" + slug(site)
	}
	return d
}

// onsetOf estimates where sorted uptimes begin: their 2nd percentile when
// they are few; when there are many, the leading edge extrapolated from
// the 1st and 8th percentiles. Late sweep timers, the reconnect's sync and
// Outlook's own delay each add a uniform lag, so near the onset the
// distribution rises like a power of the distance to it (x(q) ≈ x0 +
// c·q^(1/3)), and a low percentile alone lies seconds above T.
func onsetOf(secs []float64) float64 {
	if len(secs) < 50 {
		return quantile(secs, 0.02)
	}
	p1, p8 := quantile(secs, 0.01), quantile(secs, 0.08)
	return max(secs[0], 2*p1-p8)
}

// startsAt reports whether the uptimes secs (sorted) pile up from k
// itself: a device resetting at ≈ k (its late timer spreads them above),
// not a silent drop, which Outlook notices only after 10–40 s of
// retransmissions, so that the first seconds above k hold only the
// stragglers of users who noticed before the keep-alive.
func startsAt(secs []float64, k float64) bool {
	count := func(lo, hi float64) int {
		i, _ := slices.BinarySearch(secs, lo)
		j, _ := slices.BinarySearch(secs, hi)
		return j - i
	}
	early, later := count(k, k+8), count(k+12, k+20)
	return float64(early) >= 0.2*float64(later)
}

// timeoutConfidence is the confidence of an idle-timeout diagnosis, in
// [0, 1], the product of three factors:
//
//   - evidence = (1 − e^(−computers/3)) · (1 − e^(−intervals/20)): one
//     computer is weak however regular; three computers and twenty
//     intervals already give ≈ 0.6; thirty computers and hundreds of
//     intervals give ≈ 1.
//   - contrast = 0.5 + 0.5·share, share being the fraction of the
//     window's intervals that its local background does not explain (busy
//     users and sleeping laptops spread lifetimes everywhere; a device's
//     timeout stands out of them).
//   - tightness = 1 − relWidth/0.5, clamped to [0.5, 1], relWidth being
//     (p90 − p10)/median: a device timeout is sharp.
func timeoutConfidence(computers, intervals int, share, relWidth float64) float64 {
	evidence := (1 - math.Exp(-float64(computers)/3)) * (1 - math.Exp(-float64(intervals)/20))
	contrast := 0.5 + 0.5*math.Min(1, share)
	tight := math.Max(0.5, math.Min(1, 1-relWidth/0.5))
	return math.Round(evidence*contrast*tight*100) / 100
}

// confidenceNote says in words what the confidence rests on and what would
// make it firmer.
func confidenceNote(computers, repeats, inWindow int, background float64, fleet int) string {
	chance := ""
	if background >= 1 {
		chance = fmt.Sprintf("; about %s of the %d intervals there would be there by chance", num(math.Round(background)), inWindow)
	}
	switch {
	case computers == 1 && fleet == 1:
		return fmt.Sprintf("%d repeats on 1 computer%s: enough to name the interval for this computer, not yet the path; add 2–3 colleagues' logs to see whether it is the path they share.", repeats, chance)
	case computers == 1:
		return fmt.Sprintf("%d repeats on 1 computer%s: the other computers in the data do not show it; look at this computer's own path (VPN, proxy, Wi-Fi).", repeats, chance)
	case computers < 5:
		return fmt.Sprintf("%d repeats on %d computers%s: add more computers' logs to be sure it is the path they share.", repeats, computers, chance)
	default:
		return fmt.Sprintf("%d repeats on %d computers%s.", repeats, computers, chance)
	}
}

// idValue is the value a diagnosis id carries: the matched device default
// when there is one (so the id does not move as the estimate wobbles),
// otherwise the estimate rounded to 1 s below 100 s, 5 s below 1000 s,
// 10 s above.
func idValue(t float64, ms []Match) int {
	if len(ms) > 0 {
		return int(ms[0].DefaultSeconds)
	}
	switch {
	case t < 100:
		return int(math.Round(t))
	case t < 1000:
		return int(math.Round(t/5) * 5)
	default:
		return int(math.Round(t/10) * 10)
	}
}

func matchText(ms []Match) string {
	if len(ms) == 0 {
		return ""
	}
	var parts []string
	for i, m := range ms {
		if i == 3 {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s %s s", m.Device, m.Setting, num(m.DefaultSeconds)))
	}
	return " (matches the default of " + strings.Join(parts, "; ") + ")"
}

// num formats seconds without trailing zeros.
func num(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}

// human formats seconds as a person would say them: "15 min", "1 h",
// "62 s", "5.5 min".
func human(s float64) string {
	switch {
	case s < 120:
		return fmt.Sprintf("%s s", num(math.Round(s)))
	case s < 7200:
		m := math.Round(s/6) / 10
		return fmt.Sprintf("%s min", num(m))
	default:
		h := math.Round(s/360) / 10
		return fmt.Sprintf("%s h", num(h))
	}
}

const (
	keepAliveKey = `HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters`
	rpcKey       = `HKLM\Software\Policies\Microsoft\Windows NT\RPC`
	minKeepAlive = 900000  // ms: Exchange guidance, never under 15 min
	recKeepAlive = 1800000 // ms: Exchange guidance, 30 min
)

// keepAliveBelow suggests a KeepAliveTime (ms) below a timeout of t
// seconds: Exchange's recommended 30 min when that is below t, otherwise
// 80 % of t rounded down to the minute (to 10 s under 2 min).
func keepAliveBelow(t float64) int {
	if float64(recKeepAlive)/1000 < 0.95*t {
		return recKeepAlive
	}
	s := 0.8 * t
	if s >= 120 {
		s = math.Floor(s/60) * 60
	} else {
		s = math.Max(10, math.Floor(s/10)*10)
	}
	return int(s * 1000)
}

func deviceText(ms []Match) string {
	if len(ms) == 0 {
		return "the device on these computers' path to Exchange (load balancer, firewall or proxy)"
	}
	var names []string
	for i, m := range ms {
		if i == 3 {
			break
		}
		names = append(names, m.Device)
	}
	return "the device on these computers' path to Exchange (consistent with " + strings.Join(names, ", ") + ")"
}

func resetRecommendations(t float64, ms []Match) []string {
	ka := keepAliveBelow(t)
	kaText := fmt.Sprintf("Or set KeepAliveTime on the Exchange servers below the device's %s: %s\\KeepAliveTime (REG_DWORD, milliseconds) = %d (%s), then restart the servers.",
		FormatSeconds(t), keepAliveKey, ka, human(float64(ka)/1000))
	if ka < minKeepAlive {
		kaText += " Caveat: that is under 15 min (900000 ms), below the Exchange guidance for KeepAliveTime on Exchange servers (30 min, never under 15 min); prefer raising the device's timeout."
	}
	recs := []string{
		fmt.Sprintf("Raise the idle timeout of %s above Exchange's keep-alive: at least 120 min (7200 s) for RPC connections, as vendors recommend for Exchange, so that Exchange, not the device, ends idle sessions.", deviceText(ms)),
		kaText,
	}
	if t > 132 {
		recs = append(recs, fmt.Sprintf("For Outlook Anywhere (RPC/HTTP), MinimumConnectionTimeout = 120 (DWORD, seconds) under %s on the Client Access servers makes RPC keep-alives flow every 2 min, below the device's %s.", rpcKey, FormatSeconds(t)))
	}
	recs = append(recs,
		probeRecommendation(2*t),
		fmt.Sprintf("Confirm by bypassing the device: on one affected computer, point the Exchange host name at a single Client Access server with a hosts-file entry; if that computer stops disconnecting after ≈ %s idle while the others go on, the device is implicated.", FormatSeconds(t)),
		fmt.Sprintf("What would change the conclusion: if the bypassed computer still disconnects after ≈ %s, look for a timeout closer to the client (proxy, VPN, personal firewall); if the interval follows a change of the device's timeout, it is confirmed.", FormatSeconds(t)),
	)
	return recs
}

// probeRecommendation offers the command that measures the path directly
// (server probe), trying idle times up to max seconds.
func probeRecommendation(max float64) string {
	m := time.Duration(math.Ceil(max/300)) * 5 * time.Minute
	return fmt.Sprintf("Confirm by measuring the path: from one of these computers run `server probe --max %s --post <idletrace address> <Exchange address>/owa/healthcheck.htm` (the Exchange address over TLS); it leaves connections idle for up to %s and reports the idle time after which they die, and whether with a reset or in silence (about %s per round; one idle connection to the server per step).",
		shortDuration(m), human(m.Seconds()), human(max/2))
}

// shortDuration formats d as a Go duration without zero units ("30m", "2h").
func shortDuration(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	return strings.TrimSuffix(s, "0m")
}

func silentRecommendations(keep float64, ms []Match) []string {
	return []string{
		fmt.Sprintf("Raise the idle timeout of %s to at least 120 min (7200 s), as vendors recommend for Exchange RPC connections, or make it reset idle connections (e.g. Azure Load Balancer \"TCP reset\") so that Outlook notices at once.", deviceText(ms)),
		fmt.Sprintf("Or make traffic flow more often than the device times out: MinimumConnectionTimeout = 120 (DWORD, seconds) under %s on the Client Access servers for Outlook Anywhere, or KeepAliveTime under %s (REG_DWORD, milliseconds) below the device's timeout. Caveat: the timeout is below %d s here, so KeepAliveTime would be under 15 min (900000 ms), below the Exchange guidance (30 min, never under 15 min); prefer fixing the device.", rpcKey, keepAliveKey, int(keep)),
		probeRecommendation(2 * keep),
		"Confirm by bypassing the device: on one affected computer, point the Exchange host name at a single Client Access server with a hosts-file entry; if its periodic disconnects stop while the others go on, the device is implicated.",
		fmt.Sprintf("What would change the conclusion: the logs only show Outlook's %d s keep-alive, not the device's timeout; a device setting below %d s on the path confirms it, disconnects on the bypassed computer point elsewhere (client proxy, VPN, Wi-Fi).", int(keep), int(keep)),
	}
}

// outageConfidence: (1 − e^(−computers/5)) · (1 − μ/computers), μ being the
// disconnects the background rate explains in the window.
func outageConfidence(computers int, mu float64) float64 {
	c := (1 - math.Exp(-float64(computers)/5)) * math.Max(0, 1-mu/float64(computers))
	return math.Round(c*100) / 100
}

func (a *analyzer) outageDiagnoses() {
	for _, ot := range a.outages {
		start, end := ot.start, ot.end
		id := "shared-outage-" + start.UTC().Format("20060102T1504Z")
		d := Diagnosis{
			ID:         id,
			Kind:       KindSharedOutage,
			Drop:       "unknown",
			Start:      &start,
			End:        &end,
			Computers:  a.hostNames(ot.hosts),
			Intervals:  len(ot.pairs),
			Matches:    []Match{},
			AlsoSeen:   []string{},
			Confidence: outageConfidence(len(ot.hosts), ot.background),
			Site:       commonPrefix(a, ot.hosts),
		}
		d.Summary = fmt.Sprintf("Shared outage: %d of %d computers disconnected within %s from %s and were back from about %s, consistent with a server or network event, not an idle timeout (about %.1f such disconnects would be expected by chance).",
			len(ot.hosts), len(a.hosts), human(a.o.OutageWindow.Seconds()), start.UTC().Format("2006-01-02 15:04:05Z"), end.UTC().Format("15:04:05Z"), ot.background)
		d.Recommendations = []string{
			"Check the Exchange servers, the load balancer and the network between clients and Exchange for that window: event logs, failovers, restarts, maintenance, link or power failures.",
			"These disconnects are kept out of the idle-timeout statistics.",
		}
		for _, h := range ot.hosts {
			a.hosts[h].diags = a.dx.add(a.hosts[h].diags, id)
		}
		for _, pi := range ot.pairs {
			a.tab.setDiagnosis(int(pi), id)
		}
		a.diags = append(a.diags, d)
	}
}
