package analysis

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"
)

var t0 = time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)

func ev(computer string, id int, sec float64, rec int64) Event {
	return Event{Computer: computer, EventID: id, Time: t0.Add(time.Duration(sec * float64(time.Second))), RecordID: rec}
}

func TestPairing(t *testing.T) {
	type want struct {
		up, down float64 // seconds; -1 = unknown / open
		repeats  int
		excluded string
	}
	cases := []struct {
		name   string
		events []Event
		pairs  []want
		host   Host
	}{
		{
			name:   "simple",
			events: []Event{ev("A", 25, 0, 1), ev("A", 26, 30, 2), ev("A", 25, 930, 3), ev("A", 26, 940, 4)},
			pairs:  []want{{-1, 30, 0, ""}, {900, 10, 0, ""}},
			host:   Host{disconnects: 2, reconnects: 2, pairs: 2},
		},
		{
			name:   "repeats while disconnected",
			events: []Event{ev("A", 26, 0, 1), ev("A", 25, 900, 2), ev("A", 25, 960, 3), ev("A", 25, 1000, 4), ev("A", 26, 1020, 5)},
			pairs:  []want{{900, 120, 2, ""}},
			host:   Host{disconnects: 3, reconnects: 2, pairs: 1, repeats: 2, orphans: 1},
		},
		{
			name:   "26 without 25 starts an uptime",
			events: []Event{ev("A", 26, 0, 1), ev("A", 25, 300, 2), ev("A", 26, 310, 3)},
			pairs:  []want{{300, 10, 0, ""}},
			host:   Host{disconnects: 1, reconnects: 2, pairs: 1, orphans: 1},
		},
		{
			name:   "open disconnect is censored",
			events: []Event{ev("A", 26, 0, 1), ev("A", 25, 300, 2)},
			pairs:  []want{{300, -1, 0, ""}},
			host:   Host{disconnects: 1, reconnects: 1, open: 1, orphans: 1},
		},
		{
			name: "a 25 long after an open one starts a new disconnect",
			events: []Event{ev("A", 26, 0, 1), ev("A", 25, 300, 2),
				ev("A", 25, 300+15*3600, 3), ev("A", 26, 300+15*3600+20, 4)},
			pairs: []want{{300, -1, 0, ""}, {-1, 20, 0, ""}},
			host:  Host{disconnects: 2, reconnects: 2, pairs: 1, open: 1, orphans: 1},
		},
		{
			name:   "exact duplicates are one record",
			events: []Event{ev("A", 26, 0, 1), ev("A", 25, 900, 2), ev("A", 25, 900, 2), ev("A", 26, 910, 3), ev("A", 26, 910, 3)},
			pairs:  []want{{900, 10, 0, ""}},
			host:   Host{disconnects: 1, reconnects: 2, pairs: 1, orphans: 1},
		},
		{
			name:   "a record without id duplicates one with (same second)",
			events: []Event{ev("A", 26, 0, 1), ev("A", 25, 900.4, 2), ev("A", 25, 900, 0), ev("A", 26, 910, 3)},
			pairs:  []want{{900, 10, 0, ""}},
			host:   Host{disconnects: 1, reconnects: 2, pairs: 1, orphans: 1},
		},
		{
			name:   "duplicate 26 is not an orphan",
			events: []Event{ev("A", 26, 0, 1), ev("A", 25, 900, 2), ev("A", 26, 910, 3), ev("A", 26, 910.5, 4)},
			pairs:  []want{{900, 10, 0, ""}},
			host:   Host{disconnects: 1, reconnects: 3, pairs: 1, orphans: 1},
		},
		{
			name:   "an uptime over a night is unknown",
			events: []Event{ev("A", 26, 0, 1), ev("A", 25, 16*3600, 2), ev("A", 26, 16*3600+10, 3)},
			pairs:  []want{{-1, 10, 0, ExcludedOvernight}},
			host:   Host{disconnects: 1, reconnects: 2, pairs: 1, orphans: 1},
		},
		{
			name: "names are grouped case-insensitively",
			events: []Event{ev("pc1.corp", 26, 0, 1), ev("PC1.corp", 25, 900, 2), ev("PC1.corp", 26, 905, 3),
				ev("PC1.CORP", 25, 1805, 4), ev("PC1.corp", 26, 1810, 5)},
			pairs: []want{{900, 5, 0, ""}, {900, 5, 0, ""}},
			host:  Host{name: "PC1.corp", disconnects: 2, reconnects: 3, pairs: 2, orphans: 1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := Analyze(tc.events, Options{})
			if len(res.Pairs()) != len(tc.pairs) {
				t.Fatalf("%d pairs, want %d: %+v", len(res.Pairs()), len(tc.pairs), res.Pairs())
			}
			for i, w := range tc.pairs {
				p := res.Pairs()[i]
				up := -1.0
				if !p.UpSince.IsZero() {
					up = p.Uptime.Seconds()
				}
				down := -1.0
				if !p.Open() {
					down = p.Downtime.Seconds()
				}
				if up != w.up || down != w.down || p.Repeats != w.repeats || p.Excluded != w.excluded {
					t.Errorf("pair %d: up %v down %v repeats %d excluded %q; want %+v", i, up, down, p.Repeats, p.Excluded, w)
				}
			}
			if len(res.Hosts) != 1 {
				t.Fatalf("%d hosts", len(res.Hosts))
			}
			h := res.Hosts[0]
			if tc.host.Name() != "" && h.Name() != tc.host.Name() {
				t.Errorf("name %q, want %q", h.Name(), tc.host.Name())
			}
			if h.Disconnects() != tc.host.Disconnects() || h.Reconnects() != tc.host.Reconnects() || h.Pairs() != tc.host.Pairs() ||
				h.Open() != tc.host.Open() || h.Repeats() != tc.host.Repeats() || h.Orphans() != tc.host.Orphans() {
				t.Errorf("host %+v, want %+v", h, tc.host)
			}
		})
	}
}

// TestInterleaved: an RDS host whose sessions' 25/26 interleave is flagged
// and kept out of the statistics.
func TestInterleaved(t *testing.T) {
	var evs []Event
	rec := int64(1)
	// Two sessions whose disconnects overlap: 25 25 26 26.
	for _, off := range []float64{0, 10} {
		for k := range 20 {
			base := off + float64(k)*930
			evs = append(evs, ev("RDS01", 25, base+900, rec), ev("RDS01", 26, base+930, rec+1))
			rec += 2
		}
	}
	res := Analyze(evs, Options{})
	if !res.Hosts[0].Interleaved() {
		t.Fatalf("not flagged: %+v", res.Hosts[0])
	}
	for _, p := range res.Pairs() {
		if p.Excluded != ExcludedInterleaved {
			t.Fatalf("pair not excluded: %+v", p)
		}
	}
	if len(res.Report.Diagnoses) != 0 {
		t.Errorf("diagnosed from an interleaved host: %v", res.Report.Diagnoses[0].Summary)
	}
}

// TestDeviceMatchTolerance pins the device-match tolerance: ±3 %.
func TestDeviceMatchTolerance(t *testing.T) {
	o := Options{}.withDefaults()
	if o.MatchTolerance != 0.03 {
		t.Fatalf("default MatchTolerance %v, want 0.03", o.MatchTolerance)
	}
	names := func(ms []Match) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Device+"@"+num(m.DefaultSeconds))
		}
		return out
	}
	cases := []struct {
		t    float64
		want []string
	}{
		{900.6, []string{"Squid@900"}},
		{300, []string{"F5 BIG-IP LTM@300", "ISA/TMG 2010 SP2@300", "Home/Internet gateway@300"}},
		{308.9, []string{"F5 BIG-IP LTM@300", "ISA/TMG 2010 SP2@300", "Home/Internet gateway@300"}}, // +2.97 %
		{309.1, nil}, // +3.03 %
		{355, []string{"Oracle OCI NLB@360", "AWS NLB@350", "AWS Network Firewall@350"}}, // nearest first
		{240.5, []string{"Azure Load Balancer@240"}},
		{61, []string{"HAProxy@60", "NGINX (http)@60", "AWS Classic ELB@60", "AWS ALB@60"}},
		{3600.6, []string{"Cisco ASA@3600", "Palo Alto PAN-OS@3600", "Fortinet FortiGate@3600", "Check Point@3600", "Microsoft BPOS load balancer@3600"}},
		{1500, nil},
	}
	for _, c := range cases {
		got := names(MatchDevices(c.t, o.MatchTolerance))
		if !slices.Equal(got, c.want) {
			t.Errorf("MatchDevices(%v) = %v, want %v", c.t, got, c.want)
		}
	}
}

func TestKeepAliveRecommendation(t *testing.T) {
	cases := []struct {
		t      float64
		ms     int
		caveat bool
	}{
		{3600, 1800000, false}, // Exchange's 30 min is below T
		{9000, 1800000, false},
		{900, 720000, true}, // 12 min: under 15 min
		{300, 240000, true},
		{60, 40000, true},
	}
	for _, c := range cases {
		if got := keepAliveBelow(c.t); got != c.ms {
			t.Errorf("keepAliveBelow(%v) = %d, want %d", c.t, got, c.ms)
		}
		recs := strings.Join(resetRecommendations(c.t, nil), "\n")
		if strings.Contains(recs, "under 15 min (900000 ms)") != c.caveat {
			t.Errorf("T=%v: caveat %v wanted; got %s", c.t, c.caveat, recs)
		}
		for _, must := range []string{`HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters`, "REG_DWORD", "hosts-file", "120 min"} {
			if !strings.Contains(recs, must) {
				t.Errorf("T=%v: recommendations lack %q", c.t, must)
			}
		}
		if strings.Contains(strings.ToLower(recs), "caused by") {
			t.Errorf("recommendations say 'caused by'")
		}
	}
}

// TestEmptyJSON: empty lists marshal as [], never null.
func TestEmptyJSON(t *testing.T) {
	for _, evs := range [][]Event{nil, {ev("A", 25, 0, 1)}} {
		res := Analyze(evs, Options{})
		b, err := json.Marshal(res.Report)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "null") {
			t.Errorf("null in %s", b)
		}
	}
}

func TestPoissonThreshold(t *testing.T) {
	cases := []struct {
		mu   float64
		want int
	}{{0, 1}, {0.05, 6}, {1, 12}}
	for _, c := range cases {
		if got := poissonThreshold(c.mu, 1e-9); got != c.want {
			t.Errorf("poissonThreshold(%v) = %d, want %d", c.mu, got, c.want)
		}
	}
	if got := poissonThreshold(1000, 1e-9); got < 1190 || got > 1200 {
		t.Errorf("poissonThreshold(1000) = %d", got)
	}
}

func TestIDValueAndHelpers(t *testing.T) {
	if got := idValue(902, nil); got != 900 {
		t.Errorf("idValue(902) = %d", got)
	}
	if got := idValue(1834, nil); got != 1830 {
		t.Errorf("idValue(1834) = %d", got)
	}
	if got := idValue(61.4, []Match{{DefaultSeconds: 60}}); got != 60 {
		t.Errorf("idValue with match = %d", got)
	}
	if got := sitePrefix("HQ-PC01.corp.example"); got != "HQ-PC" {
		t.Errorf("sitePrefix = %q", got)
	}
	if got := slug("LAB-"); got != "lab" {
		t.Errorf("slug = %q", got)
	}
	if got := human(900); got != "15 min" {
		t.Errorf("human(900) = %q", got)
	}
}

// TestShortNameAndFQDN: one machine logging under its short name and its
// FQDN is one computer, shown under the FQDN (DOMAIN §7); a short name
// two domains share stays on its own.
func TestShortNameAndFQDN(t *testing.T) {
	var evs []Event
	rec := int64(1)
	for k := range 10 {
		base := float64(k) * 1000
		evs = append(evs, ev("pc07", 25, base+900, rec), ev("PC07.corp.example", 26, base+930, rec+1))
		rec += 2
	}
	res := Analyze(evs, Options{})
	if res.Report.Computers != 1 || res.Report.Pairs != 10 {
		t.Fatalf("computers %d, pairs %d; want 1 computer with 10 pairs", res.Report.Computers, res.Report.Pairs)
	}
	if res.Hosts[0].Name() != "PC07.corp.example" {
		t.Errorf("shown as %q, want the FQDN", res.Hosts[0].Name())
	}
	inc := NewIncremental(Options{})
	inc.Add(evs[:7])
	inc.Add(evs[7:])
	if inc.Computers() != 1 {
		t.Errorf("incremental: %d computers", inc.Computers())
	}
	// Two domains with the host part pc07: the short name is neither.
	evs = append(evs, ev("PC07.lab.example", 26, 50, 999))
	if res := Analyze(evs, Options{}); res.Report.Computers != 3 {
		t.Errorf("ambiguous short name: %d computers, want 3 (pc07, two FQDNs)", res.Report.Computers)
	}
}

// TestLaptopResumesAreNotInterleaved: lone 26s after a sleep (nothing
// logged for an hour) are a laptop's resumes, not an RDS host's sessions.
func TestLaptopResumesAreNotInterleaved(t *testing.T) {
	var evs []Event
	rec := int64(1)
	at := 0.0
	for k := range 30 {
		evs = append(evs, ev("LT01", 25, at+900, rec), ev("LT01", 26, at+930, rec+1))
		rec += 2
		at += 930
		if k%2 == 0 { // sleep, then a bare 26 on resume
			at += 3600
			evs = append(evs, ev("LT01", 26, at, rec))
			rec++
		}
	}
	res := Analyze(evs, Options{})
	if res.Hosts[0].Interleaved() || res.Hosts[0].Orphans() != 15 {
		t.Errorf("laptop: interleaved %v, orphans %d (want false, 15)", res.Hosts[0].Interleaved(), res.Hosts[0].Orphans())
	}
}

// TestOneComputer: two weeks of one desktop with a handful of clear
// repeats name the interval for that computer, and say so.
func TestOneComputer(t *testing.T) {
	var evs []Event
	rec := int64(1)
	at := 0.0
	for k := range 40 {
		up := 900.5 + float64(k%5)
		if k%5 == 3 { // busy: the connection lived longer
			up = 2400 + 300*float64(k)
		}
		evs = append(evs, ev("FAB-PC01.fabrikam.example", 25, at+up, rec), ev("FAB-PC01.fabrikam.example", 26, at+up+20, rec+1))
		rec += 2
		at += up + 20 + float64(k%3)*40000 // nights: over MaxUptime
	}
	res := Analyze(evs, Options{})
	if len(res.Report.Diagnoses) != 1 {
		t.Fatalf("%d diagnoses, want 1: %+v", len(res.Report.Diagnoses), res.Report.Diagnoses)
	}
	d := res.Report.Diagnoses[0]
	if d.TimeoutSeconds == nil || *d.TimeoutSeconds < 899 || *d.TimeoutSeconds > 903 {
		t.Errorf("timeout %v, want ≈ 900", deref(d.TimeoutSeconds))
	}
	if !strings.Contains(d.Summary, "the only computer in the data") || !strings.Contains(d.ConfidenceNote, "colleagues") {
		t.Errorf("one computer not scoped in words: %q / %q", d.Summary, d.ConfidenceNote)
	}
	if d.Confidence > 0.5 {
		t.Errorf("confidence %.2f for one computer", d.Confidence)
	}
}

// TestAlsoSeen: a computer with one uptime at a device's interval is not
// named, but listed as also seen there.
func TestAlsoSeen(t *testing.T) {
	var evs []Event
	rec := int64(1)
	for h := range 5 {
		name := "HQ-PC0" + string(rune('1'+h))
		at := float64(h) * 37
		for k := range 12 {
			up := 600.5 + float64((k+h)%4)
			evs = append(evs, ev(name, 25, at+up, rec), ev(name, 26, at+up+15, rec+1))
			rec += 2
			at += up + 15 + float64(k%4)*40000
		}
	}
	evs = append(evs, ev("HQ-PC09", 26, 0, rec), ev("HQ-PC09", 25, 601.5, rec+1), ev("HQ-PC09", 26, 640, rec+2),
		ev("HQ-PC09", 25, 640+5000, rec+3), ev("HQ-PC09", 26, 640+5030, rec+4))
	res := Analyze(evs, Options{})
	if len(res.Report.Diagnoses) != 1 {
		t.Fatalf("%d diagnoses", len(res.Report.Diagnoses))
	}
	d := res.Report.Diagnoses[0]
	if len(d.Computers) != 5 || !slices.Contains(d.AlsoSeen, "HQ-PC09") {
		t.Errorf("computers %v, also seen %v; want 5 and HQ-PC09 also seen", d.Computers, d.AlsoSeen)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestProbeVerdict: a probe's bracket confirms the diagnosis it matches
// and contradicts one it does not.
func TestProbeVerdict(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	reset := Diagnosis{Kind: KindIdleTimeout, TimeoutSeconds: f(301)}
	silent := Diagnosis{Kind: KindIdleTimeout, TimeoutMaxSeconds: f(720)}
	cases := []struct {
		d       Diagnosis
		timeout *float64
		pm      float64
		drop    string
		want    string
	}{
		{reset, f(300), 3, "reset", ProbeConfirms},
		{reset, f(3600), 10, "reset", ProbeContradicts},
		{reset, nil, 0, "none", ProbeContradicts},
		{silent, f(240), 2, "silent", ProbeConfirms},
		{silent, f(900), 5, "silent", ProbeContradicts},
		{Diagnosis{Kind: KindSharedOutage}, f(300), 3, "reset", ProbeUnrelated},
	}
	for _, c := range cases {
		if got := ProbeVerdict(c.d, c.timeout, c.pm, c.drop); got != c.want {
			t.Errorf("%+v with %v±%v %s: %s, want %s", c.d.TimeoutSeconds, deref(c.timeout), c.pm, c.drop, got, c.want)
		}
	}
}

// TestPairAccessorsAgree: Pair(i), AllPairs, Pairs and HostPairs give the
// same pairs in the same order, and NumPairs counts them.
func TestPairAccessorsAgree(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	var evs []Event
	for h, name := range []string{"b-pc", "A-PC", "c-pc"} {
		for k := range 5 + h {
			at := t0.Add(time.Duration(k) * 20 * time.Minute)
			evs = append(evs, Event{Computer: name, EventID: EventRestored, Time: at, RecordID: int64(2*k + 1)},
				Event{Computer: name, EventID: EventDisconnected, Time: at.Add(15 * time.Minute), RecordID: int64(2*k + 2)})
		}
	}
	res := Analyze(evs, Options{})
	all := res.Pairs()
	if res.NumPairs() != len(all) || len(all) == 0 {
		t.Fatalf("NumPairs %d, Pairs %d", res.NumPairs(), len(all))
	}
	n := 0
	for i, p := range res.AllPairs() {
		if i != n || !reflect.DeepEqual(p, all[i]) || !reflect.DeepEqual(res.Pair(i), all[i]) {
			t.Fatalf("pair %d: AllPairs %+v, Pair %+v, Pairs %+v", i, p, res.Pair(i), all[i])
		}
		n++
	}
	k := 0
	for h := range res.Hosts {
		for _, p := range res.HostPairs(h) {
			if p.Computer != res.Hosts[h].Name() || !reflect.DeepEqual(p, all[k]) {
				t.Fatalf("host %d pair %+v, want %+v", h, p, all[k])
			}
			k++
		}
	}
	if k != len(all) || res.HostPairs(-1) != nil || res.HostPairs(len(res.Hosts)) != nil {
		t.Fatalf("HostPairs gave %d of %d", k, len(all))
	}
}

// TestCompactSizes: the per-event and per-pair forms the incremental
// analysis keeps stay as small as documented (memory at 10 M events).
func TestCompactSizes(t *testing.T) {
	if n := unsafe.Sizeof(cev{}); n != 24 {
		t.Errorf("cev is %d bytes, want 24", n)
	}
	if n := unsafe.Sizeof(cpair{}); n != 40 {
		t.Errorf("cpair is %d bytes, want 40", n)
	}
	if n := unsafe.Sizeof(hostPairs{}); n != 40 { // a million computers have a million
		t.Errorf("hostPairs is %d bytes, want 40", n)
	}
	for _, id := range []int{EventDisconnected, EventRestored} {
		if e := mkcev(1, 2, 3, id, 1<<29); e.id() != id || e.name() != 1<<29 || e.host != 3 {
			t.Errorf("mkcev(%d) = %+v: id %d name %d", id, e, e.id(), e.name())
		}
	}
}

// TestHostIndex: every computer is found by its name in any case, a short
// name merged into its FQDN by either, and an unknown name not at all —
// from Analyze, an Incremental and a Window alike.
func TestHostIndex(t *testing.T) {
	evs := []Event{
		ev("PC-B.corp.example", 25, 0, 1), ev("pc-b", 26, 30, 2),
		ev("Zeta", 25, 0, 1), ev("ALPHA", 25, 10, 1), ev("alpha", 26, 20, 2), ev("Ωmega", 25, 5, 1),
	}
	inc := NewIncremental(Options{})
	inc.Add(evs)
	fromInc := inc.Result()
	win, ok := fromInc.Window(time.Time{}, time.Time{})
	if !ok {
		t.Fatal("no window")
	}
	for name, res := range map[string]*Result{"Analyze": Analyze(evs, Options{}), "Incremental": fromInc, "Window": win} {
		if len(res.Hosts) != 4 {
			t.Fatalf("%s: %d hosts, want 4", name, len(res.Hosts))
		}
		for i, h := range res.Hosts {
			for _, n := range []string{h.Name(), strings.ToUpper(h.Name()), strings.ToLower(h.Name())} {
				if got, ok := res.HostIndex(n); !ok || got != i {
					t.Errorf("%s: HostIndex(%q) = %d, %v; want %d", name, n, got, ok, i)
				}
			}
		}
		if i, ok := res.HostIndex("pc-b.CORP.example"); !ok || res.Hosts[i].Name() != "PC-B.corp.example" {
			t.Errorf("%s: the FQDN is not found", name)
		}
		if _, ok := res.HostIndex("nobody"); ok {
			t.Errorf("%s: an unknown name is found", name)
		}
	}
}

// TestPackedEvents: events packed and appended in order decode to the
// same events, across negative times, repeated times and falling record
// ids, and an earlier copy still decodes to what it held.
func TestPackedEvents(t *testing.T) {
	evs := []cev{
		mkcev(-5e18, 9, 0, EventDisconnected, 3),
		mkcev(-5e18, 2, 0, EventRestored, 0),
		mkcev(0, 0, 0, EventDisconnected, 1<<20),
		mkcev(1700000000123456789, 1<<40, 0, EventRestored, 7),
		mkcev(1700000000123456789, 5, 0, EventRestored, 7),
		mkcev(1800000000000000000, -1, 0, EventDisconnected, 0),
	}
	p := packEvents(evs[:3])
	early := p
	p.appendSorted(evs[3:], evs[2])
	if got := p.decode(nil); !reflect.DeepEqual(got, evs) {
		t.Fatalf("decoded %v, want %v", got, evs)
	}
	if got := early.decode([]cev{evs[5]}); !reflect.DeepEqual(got, append([]cev{evs[5]}, evs[:3]...)) {
		t.Fatalf("the earlier view decodes to %v", got)
	}
	if p.n != 6 || p.first() != evs[0].t {
		t.Fatalf("n %d first %d", p.n, p.first())
	}
	if per := float64(len(packEvents(evs).b)) / float64(len(evs)); per > 12 {
		t.Errorf("%.1f bytes an event", per)
	}
	// Packed at once, the array is the size of the encoding and a
	// sixteenth, for the next events.
	for i := range evs {
		if q := packEvents(evs[:i]); cap(q.b) != len(q.b)+len(q.b)/16+8 {
			t.Errorf("%d events: %d bytes in an array of %d", i, len(q.b), cap(q.b))
		}
	}
}

// TestPairRecordIDs: a pair keeps its record ids as offsets from its
// computer's least one, or whole when they lie too far apart; either way
// the Pair gives back exactly the ids of the events (0 for none), through
// Analyze and the incremental analysis alike.
func TestPairRecordIDs(t *testing.T) {
	const far = int64(1) << 40
	cases := map[string][]Event{
		"near": {ev("A", 26, 0, 100), ev("A", 25, 900, 101), ev("A", 26, 910, 0), ev("A", 25, 1810, 0), ev("A", 26, 1820, 104),
			ev("A", 25, 2720, 100+1<<31-2), ev("A", 26, 2730, 105)},
		"far": {ev("B", 26, 0, 7), ev("B", 25, 900, far), ev("B", 26, 910, 0), ev("B", 25, 1810, 0), ev("B", 26, 1820, -far),
			ev("B", 25, 2720, 9), ev("B", 26, 2730, far+1)},
		"edge": {ev("C", 25, 0, 1), ev("C", 26, 10, 1+1<<31-1)}, // one past the offsets' reach
		"none": {ev("D", 25, 0, 0), ev("D", 26, 10, 0), ev("D", 25, 910, 0)},
	}
	for name, evs := range cases {
		t.Run(name, func(t *testing.T) {
			var want [][2]int64 // per 25 that starts a pair: its record, and its 26's (0 if open)
			for i, e := range evs {
				if e.EventID == EventDisconnected {
					w := [2]int64{e.RecordID, 0}
					if i+1 < len(evs) && evs[i+1].EventID == EventRestored {
						w[1] = evs[i+1].RecordID
					}
					want = append(want, w)
				}
			}
			inc := NewIncremental(Options{})
			inc.Add(evs)
			for _, res := range []*Result{Analyze(evs, Options{}), inc.Result()} {
				ps := res.Pairs()
				if len(ps) != len(want) {
					t.Fatalf("%d pairs, want %d", len(ps), len(want))
				}
				for i, p := range ps {
					if p.DisconnectRecord != want[i][0] || p.ReconnectRecord != want[i][1] {
						t.Errorf("pair %d: records %d, %d; want %d, %d", i, p.DisconnectRecord, p.ReconnectRecord, want[i][0], want[i][1])
					}
				}
			}
		})
	}
}

// TestPairsGrowInPlace: a computer whose new events follow its old ones
// keeps one array of pairs across Results (the agent's case), and every
// earlier Result still reads exactly its own pairs; events that change an
// earlier pair get a new array.
func TestPairsGrowInPlace(t *testing.T) {
	var all []Event
	batch := func(from, n int) []Event {
		var evs []Event
		for i := from; i < from+n; i++ {
			base := float64(i) * 1000
			evs = append(evs, ev("A", 25, base+900, int64(2*i+1)), ev("A", 26, base+910, int64(2*i+2)))
		}
		return evs
	}
	inc := NewIncremental(Options{})
	type kept struct {
		res  *Result
		want []Pair
	}
	var results []kept
	for k := range 5 {
		b := batch(k, 1)
		all = append(all, b...)
		inc.Add(b)
		res := inc.Result()
		results = append(results, kept{res, Analyze(all, Options{}).Pairs()})
	}
	// The second Result's array has room for a few more (the first
	// pairing is exact), which the third fills.
	first, last := results[1].res.pairs.hosts[0].cps, results[2].res.pairs.hosts[0].cps
	if &first[0] != &last[0] {
		t.Errorf("the pairs moved to a new array although only later ones were added")
	}
	last = results[4].res.pairs.hosts[0].cps
	// A 26 late for the last pair's disconnect changes nothing before it;
	// a 25 inside the first uptime splits an earlier pair: a new array.
	inc.Add([]Event{ev("A", 25, 450, 99)})
	res := inc.Result()
	if &res.pairs.hosts[0].cps[0] == &last[0] {
		t.Errorf("an earlier pair changed in place")
	}
	all = append(all, ev("A", 25, 450, 99))
	results = append(results, kept{res, Analyze(all, Options{}).Pairs()})
	for k, r := range results {
		if got := r.res.Pairs(); !reflect.DeepEqual(got, r.want) {
			t.Errorf("Result %d: %d pairs differ from its own time's (%d)", k, len(got), len(r.want))
		}
	}
}
