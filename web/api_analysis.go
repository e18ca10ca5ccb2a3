package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"idletrace/analysis"
)

// windowAnalysis is the analysis for a request that takes only since and
// until; on a bad query it writes the error and returns false.
func (s *Server) windowAnalysis(w http.ResponseWriter, r *http.Request) (*analysis.Result, bool) {
	q, err := parseQuery(r, pSince, pUntil)
	if err != nil {
		s.writeError(w, r, err)
		return nil, false
	}
	res, err := s.live.Scoped(r.Context(), clientKeyFrom(r.Context()), q.Since, q.Until)
	if err != nil {
		s.writeError(w, r, err)
		return nil, false
	}
	return res, true
}

// nonNil returns s, or an empty slice for nil: lists are [] in JSON, never null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// apiReport is the Report JSON (SPEC §5) with empty lists as [] and
// diagnoses normalised like /diagnoses.
func apiReport(rep analysis.Report) analysis.Report {
	rep.Clusters = nonNil(rep.Clusters)
	for i := range rep.Clusters {
		rep.Clusters[i].Computers = nonNil(rep.Clusters[i].Computers)
	}
	rep.Outages = nonNil(rep.Outages)
	for i := range rep.Outages {
		rep.Outages[i].Computers = nonNil(rep.Outages[i].Computers)
	}
	ds := make([]analysis.Diagnosis, len(rep.Diagnoses))
	for i := range rep.Diagnoses {
		ds[i] = apiDiagnosis(rep.Diagnoses[i])
	}
	rep.Diagnoses = ds
	return rep
}

func apiDiagnosis(d analysis.Diagnosis) analysis.Diagnosis {
	d.Computers = nonNil(d.Computers)
	d.Matches = nonNil(d.Matches)
	d.Recommendations = nonNil(d.Recommendations)
	return d
}

// handleAPIReport serves GET /api/v1/report (SPEC §5), optionally for a
// window.
func (s *Server) handleAPIReport(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r, pSince, pUntil)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.Since.IsZero() && q.Until.IsZero() { // the snapshot's, encoded once
		// Right after a start, the stored report until the events are read.
		snap, err := s.live.CurrentReport(r.Context(), clientKeyFrom(r.Context()))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.noteShown(r.Context(), snap.Result)
		writeSnapshotReport(w, r, snap)
		return
	}
	res, err := s.live.Scoped(r.Context(), clientKeyFrom(r.Context()), q.Since, q.Until)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apiReport(res.Report))
}

// --- diagnoses

var pDiagnosisKind = queryParam{name: "kind", kinds: []string{analysis.KindIdleTimeout, analysis.KindSharedOutage}}

// filterDiagnoses returns the diagnoses matching q, ordered by id (stable
// strings such as "idle-timeout-900s"), after the cursor.
func filterDiagnoses(res *analysis.Result, q *listQuery) ([]analysis.Diagnosis, error) {
	after := ""
	if q.After != "" {
		var err error
		if after, err = decodeCursor('d', q.After); err != nil {
			return nil, err
		}
	}
	var out []analysis.Diagnosis
	for _, d := range res.Report.Diagnoses {
		if q.Kind != "" && d.Kind != q.Kind {
			continue
		}
		if q.Computer != "" && !slices.ContainsFunc(d.Computers, func(c string) bool { return strings.EqualFold(c, q.Computer) }) {
			continue
		}
		if after != "" && d.ID <= after {
			continue
		}
		out = append(out, apiDiagnosis(d))
	}
	slices.SortFunc(out, func(a, b analysis.Diagnosis) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (s *Server) handleAPIDiagnoses(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r, pSince, pUntil, pComputer, pDiagnosisKind, pAfter, pLimit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.live.Scoped(r.Context(), clientKeyFrom(r.Context()), q.Since, q.Until)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ds, err := filterDiagnoses(res, q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.Since.IsZero() && q.Until.IsZero() {
		s.noteShown(r.Context(), res)
	}
	p := page[analysis.Diagnosis]{Items: ds}
	if len(ds) > q.Limit {
		p.Items = ds[:q.Limit]
		p.Next = encodeCursor('d', ds[q.Limit-1].ID)
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) handleAPIDiagnosis(w http.ResponseWriter, r *http.Request) {
	res, ok := s.windowAnalysis(w, r)
	if !ok {
		return
	}
	if d, ok := s.resolveDiagnosis(w, r, res); ok { // or a 303 to its successor
		writeJSON(w, http.StatusOK, diagnosisWithProbes{apiDiagnosis(*d), s.probesOf(r.Context(), d)})
	}
}

// --- computers

// apiComputer is a computer's summary (analysis.Host) in the API.
type apiComputer struct {
	Name         string     `json:"name"`
	Disconnects  int        `json:"disconnects"`
	Reconnects   int        `json:"reconnects"`
	Pairs        int        `json:"pairs"`
	Open         int        `json:"open"`
	Repeats      int        `json:"repeats"`
	Orphans      int        `json:"orphans"`
	Interleaved  bool       `json:"interleaved"`
	First        *time.Time `json:"first"`
	Last         *time.Time `json:"last"`
	DiagnosisIDs []string   `json:"diagnosis_ids"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func newAPIComputer(res *analysis.Result, h *analysis.Host) apiComputer {
	return apiComputer{Name: h.Name(), Disconnects: h.Disconnects(), Reconnects: h.Reconnects(), Pairs: h.Pairs(), Open: h.Open(),
		Repeats: h.Repeats(), Orphans: h.Orphans(), Interleaved: h.Interleaved(), First: timePtr(h.First()), Last: timePtr(h.Last()),
		DiagnosisIDs: res.DiagnosisIDs(h)}
}

func (s *Server) handleAPIComputers(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r, pSince, pUntil, pComputer, pAfter, pLimit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	after := ""
	if q.After != "" {
		if after, err = decodeCursor('c', q.After); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	res, err := s.live.Scoped(r.Context(), clientKeyFrom(r.Context()), q.Since, q.Until)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hosts := make([]*analysis.Host, 0, len(res.Hosts))
	for i := range res.Hosts {
		h := &res.Hosts[i]
		key := strings.ToLower(h.Name())
		if (q.Computer != "" && key != strings.ToLower(q.Computer)) || (after != "" && key <= after) {
			continue
		}
		hosts = append(hosts, h)
	}
	slices.SortFunc(hosts, func(a, b *analysis.Host) int {
		return strings.Compare(strings.ToLower(a.Name()), strings.ToLower(b.Name()))
	})
	p := page[apiComputer]{Items: make([]apiComputer, 0, min(len(hosts), q.Limit))}
	for i, h := range hosts {
		if i == q.Limit {
			p.Next = encodeCursor('c', strings.ToLower(hosts[i-1].Name()))
			break
		}
		p.Items = append(p.Items, newAPIComputer(res, h))
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) handleAPIComputer(w http.ResponseWriter, r *http.Request) {
	res, ok := s.windowAnalysis(w, r)
	if !ok {
		return
	}
	name := chi.URLParam(r, "name")
	for i := range res.Hosts {
		if strings.EqualFold(res.Hosts[i].Name(), name) {
			writeJSON(w, http.StatusOK, newAPIComputer(res, &res.Hosts[i]))
			return
		}
	}
	s.writeError(w, r, errNotFound("no computer of that name in the data"))
}

// --- pairs

// apiPair is one disconnect in the API.
type apiPair struct {
	Computer         string     `json:"computer"`
	Disconnect       time.Time  `json:"disconnect"`
	Reconnect        *time.Time `json:"reconnect"`
	Open             bool       `json:"open"`
	DisconnectRecord *int64     `json:"disconnect_record"`
	ReconnectRecord  *int64     `json:"reconnect_record"`
	Repeats          int        `json:"repeats"`
	DowntimeSeconds  *float64   `json:"downtime_seconds"`
	UpSince          *time.Time `json:"up_since"`
	UptimeSeconds    *float64   `json:"uptime_seconds"`
	Excluded         string     `json:"excluded"`
	DiagnosisID      string     `json:"diagnosis_id"`
}

func newAPIPair(p *analysis.Pair) apiPair {
	a := apiPair{Computer: p.Computer, Disconnect: p.Disconnect.UTC(), Reconnect: timePtr(p.Reconnect), Open: p.Open(),
		Repeats: p.Repeats, UpSince: timePtr(p.UpSince), Excluded: p.Excluded, DiagnosisID: p.DiagnosisID}
	if p.DisconnectRecord > 0 {
		v := p.DisconnectRecord
		a.DisconnectRecord = &v
	}
	if p.ReconnectRecord > 0 {
		v := p.ReconnectRecord
		a.ReconnectRecord = &v
	}
	if !p.Open() {
		v := p.Downtime.Seconds()
		a.DowntimeSeconds = &v
	}
	if !p.UpSince.IsZero() {
		v := p.Uptime.Seconds()
		a.UptimeSeconds = &v
	}
	return a
}

var pPairKind = queryParam{name: "kind", kinds: []string{"closed", "open"}}

// pairKey is a pair's place in the stable order pairs are listed in: its
// computer (case-insensitive), the time of its first 25 and that 25's
// record id. The key names a pair for as long as its first 25 is stored.
func pairKey(p *analysis.Pair) string {
	return strings.ToLower(p.Computer) + "\x00" + strconv.FormatInt(p.Disconnect.UnixNano(), 10) + "\x00" + strconv.FormatInt(p.DisconnectRecord, 10)
}

func comparePairs(a, b *analysis.Pair) int {
	if c := strings.Compare(strings.ToLower(a.Computer), strings.ToLower(b.Computer)); c != 0 {
		return c
	}
	if c := a.Disconnect.Compare(b.Disconnect); c != 0 {
		return c
	}
	switch {
	case a.DisconnectRecord < b.DisconnectRecord:
		return -1
	case a.DisconnectRecord > b.DisconnectRecord:
		return 1
	}
	return 0
}

// pairCursor decodes a pairs cursor into the pair-like key it stands for.
func pairCursor(c string) (*analysis.Pair, error) {
	pos, err := decodeCursor('p', c)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(pos, "\x00")
	if len(parts) != 3 {
		return nil, errBadCursor
	}
	ns, err1 := strconv.ParseInt(parts[1], 10, 64)
	rec, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return nil, errBadCursor
	}
	return &analysis.Pair{Computer: parts[0], Disconnect: time.Unix(0, ns), DisconnectRecord: rec}, nil
}

// eachPair calls fn with the pairs matching q, in the stable order
// (comparePairs, which is the analysis' own: computer case-insensitively,
// then time), after the cursor, until fn returns false. since/until select
// pairs by the time of their first 25. Pairs are made one at a time: a
// computer filter reads only that computer's.
func eachPair(res *analysis.Result, q *listQuery, fn func(*analysis.Pair) bool) error {
	var after *analysis.Pair
	if q.After != "" {
		var err error
		if after, err = pairCursor(q.After); err != nil {
			return err
		}
	}
	keep := func(p *analysis.Pair) bool {
		switch {
		case q.Computer != "" && !strings.EqualFold(p.Computer, q.Computer),
			q.Kind == "open" && !p.Open(), q.Kind == "closed" && p.Open(),
			!q.Since.IsZero() && p.Disconnect.Before(q.Since),
			!q.Until.IsZero() && !p.Disconnect.Before(q.Until),
			after != nil && comparePairs(p, after) <= 0:
			return false
		}
		return true
	}
	if q.Computer != "" {
		for h := range res.Hosts {
			if !strings.EqualFold(res.Hosts[h].Name(), q.Computer) {
				continue
			}
			for _, p := range res.HostPairs(h) {
				if keep(&p) && !fn(&p) {
					return nil
				}
			}
		}
		return nil
	}
	for _, p := range res.AllPairs() {
		if keep(&p) && !fn(&p) {
			return nil
		}
	}
	return nil
}

// handleAPIPairs serves GET /api/v1/pairs. Pairs are derived: a later
// upload can close an open pair or change which diagnosis it supports, so
// SIEMs that want every change poll /events and re-read the pairs they
// touch.
func (s *Server) handleAPIPairs(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r, pSince, pUntil, pComputer, pPairKind, pAfter, pLimit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.live.Scoped(r.Context(), clientKeyFrom(r.Context()), time.Time{}, time.Time{})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p := page[apiPair]{Items: make([]apiPair, 0, min(q.Limit, 256))}
	var last analysis.Pair
	err = eachPair(res, q, func(pr *analysis.Pair) bool {
		if len(p.Items) == q.Limit {
			p.Next = encodeCursor('p', pairKey(&last))
			return false
		}
		p.Items = append(p.Items, newAPIPair(pr))
		last = *pr
		return true
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}
