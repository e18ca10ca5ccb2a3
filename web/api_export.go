package web

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"idletrace/analysis"
)

// exportBatch is how many events one export query reads: the export walks
// the ingest sequence in batches rather than holding one long read open.
const exportBatch = 2000

// exportable is one exported row: every kind knows its CSV columns and its
// CEF record. NDJSON is its JSON.
type exportable interface {
	csvRow() []string
	cef() cefRecord
}

var csvHeaders = map[string][]string{
	"events":    {"seq", "time", "computer", "channel", "provider", "event_id", "kind", "record_id", "qualifiers", "level", "upload_id", "message"},
	"pairs":     {"computer", "disconnect", "reconnect", "open", "disconnect_record", "reconnect_record", "repeats", "downtime_seconds", "up_since", "uptime_seconds", "excluded", "diagnosis_id"},
	"diagnoses": {"id", "kind", "drop", "observed_seconds", "timeout_seconds", "timeout_max_seconds", "start", "end", "confidence", "intervals", "computers", "devices", "summary", "recommendations"},
}

var (
	pExportKind   = queryParam{name: "kind", kinds: []string{"events", "pairs", "diagnoses"}}
	pExportFormat = queryParam{name: "format", kinds: []string{"ndjson", "csv", "cef"}}
)

// handleAPIExport serves GET /api/v1/export: every event, pair or diagnosis
// matching the filters, streamed as NDJSON, CSV or CEF. Events may also be
// exported incrementally with after (a cursor of /events).
func (s *Server) handleAPIExport(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r, pExportKind, pExportFormat, pSince, pUntil, pComputer, pAfter)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.Kind == "" || q.Format == "" {
		s.writeError(w, r, errBadRequest("kind (events, pairs or diagnoses) and format (ndjson, csv or cef) are required"))
		return
	}
	if q.After != "" && q.Kind != "events" {
		s.writeError(w, r, errBadRequest("after applies to kind=events only"))
		return
	}
	// Everything that can fail with a clean error fails before the first byte.
	var rows func(emit func(exportable) error) error
	switch q.Kind {
	case "events":
		f, err := eventFilter(q)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		rows = func(emit func(exportable) error) error {
			for {
				f.Limit = exportBatch
				evs, err := s.db.FindEvents(r.Context(), f)
				if err != nil {
					return err
				}
				for i := range evs {
					e := newAPIEvent(&evs[i])
					if err := emit(&e); err != nil {
						return err
					}
				}
				if len(evs) < exportBatch {
					return nil
				}
				f.After = evs[len(evs)-1].Seq
			}
		}
	case "pairs", "diagnoses":
		res, err := s.live.Scoped(r.Context(), clientKeyFrom(r.Context()), time.Time{}, time.Time{})
		if q.Kind == "diagnoses" {
			res, err = s.live.Scoped(r.Context(), clientKeyFrom(r.Context()), q.Since, q.Until)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		kind := q.Kind
		q.Kind = ""
		if kind == "pairs" {
			if q.After != "" {
				if _, err := pairCursor(q.After); err != nil {
					s.writeError(w, r, err)
					return
				}
			}
			rows = func(emit func(exportable) error) error {
				var werr error
				err := eachPair(res, q, func(p *analysis.Pair) bool {
					ap := newAPIPair(p)
					werr = emit(&ap)
					return werr == nil
				})
				return cmp.Or(werr, err)
			}
		} else {
			ds, err := filterDiagnoses(res, q)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			rows = func(emit func(exportable) error) error {
				for i := range ds {
					if err := emit((*exportDiagnosis)(&ds[i])); err != nil {
						return err
					}
				}
				return nil
			}
		}
		q.Kind = kind
	}
	streamExport(w, r, s.log, q.Kind, q.Format, rows)
}

// streamExport writes the rows in format. A failure after the first byte
// cannot change the status any more: the connection is cut, so the client
// sees a broken transfer rather than a short file that looks complete.
func streamExport(w http.ResponseWriter, r *http.Request, log *slog.Logger, kind, format string, rows func(func(exportable) error) error) {
	ext, ctype := format, exportTypes[format]
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="idletrace-%s.%s"`, kind, ext))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	var emit func(exportable) error
	finish := func() error { return nil }
	switch format {
	case "ndjson":
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		emit = func(x exportable) error { return enc.Encode(x) }
	case "csv":
		cw := csv.NewWriter(bw)
		cw.Write(csvHeaders[kind])
		emit = func(x exportable) error { return cw.Write(x.csvRow()) }
		finish = func() error { cw.Flush(); return cw.Error() }
	case "cef":
		emit = func(x exportable) error {
			_, err := bw.WriteString(x.cef().String() + "\n")
			return err
		}
	}
	n := 0
	err := rows(func(x exportable) error {
		n++
		if n%exportBatch == 0 {
			if err := finish(); err != nil {
				return err
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			http.NewResponseController(w).Flush()
		}
		return emit(x)
	})
	if err == nil {
		err = finish()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		log.Warn("export cut short", "kind", kind, "format", format, "rows", n, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// exportTypes are the media types of the export formats.
var exportTypes = map[string]string{
	"ndjson": "application/x-ndjson",
	"csv":    "text/csv; charset=utf-8",
	"cef":    "text/plain; charset=utf-8",
}

// csvText neutralises spreadsheet formulas in text taken from the logs: a
// cell starting with = + - @ (or a tab or CR) gets a leading apostrophe, so
// that opening the export in a spreadsheet runs nothing.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func fmtInt(p *int64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatInt(*p, 10)
}

func fmtFloat(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'f', -1, 64)
}

func (e *apiEvent) csvRow() []string {
	q := ""
	if e.Qualifiers != nil {
		q = strconv.Itoa(*e.Qualifiers)
	}
	return []string{strconv.FormatInt(e.Seq, 10), fmtTime(&e.Time), csvText(e.Computer), csvText(e.Channel), csvText(e.Provider),
		strconv.Itoa(e.EventID), e.Kind, fmtInt(e.RecordID), q, strconv.Itoa(e.Level), fmtInt(e.UploadID), csvText(e.Message)}
}

func (e *apiEvent) cef() cefRecord {
	c := cefRecord{SignatureID: "outlook-" + strconv.Itoa(e.EventID), Name: "Outlook event " + strconv.Itoa(e.EventID), Severity: 1}
	switch e.Kind {
	case eventKindDisconnect:
		c.Name, c.Severity = "Outlook lost its connection to Exchange", 5
	case eventKindReconnect:
		c.Name, c.Severity = "Outlook connection to Exchange restored", 3
	}
	c.add("rt", strconv.FormatInt(e.Time.UnixMilli(), 10))
	c.add("dvchost", e.Computer)
	c.add("externalId", strconv.FormatInt(e.Seq, 10))
	c.add("cat", e.Channel)
	c.add("cs1Label", "provider")
	c.add("cs1", e.Provider)
	c.add("cn1Label", "eventId")
	c.add("cn1", strconv.Itoa(e.EventID))
	if e.RecordID != nil {
		c.add("cn2Label", "recordId")
		c.add("cn2", fmtInt(e.RecordID))
	}
	c.add("msg", e.Message)
	return c
}

func (p *apiPair) csvRow() []string {
	return []string{csvText(p.Computer), fmtTime(&p.Disconnect), fmtTime(p.Reconnect), strconv.FormatBool(p.Open),
		fmtInt(p.DisconnectRecord), fmtInt(p.ReconnectRecord), strconv.Itoa(p.Repeats), fmtFloat(p.DowntimeSeconds),
		fmtTime(p.UpSince), fmtFloat(p.UptimeSeconds), p.Excluded, p.DiagnosisID}
}

func (p *apiPair) cef() cefRecord {
	c := cefRecord{SignatureID: "disconnect", Name: "Outlook disconnect", Severity: 3}
	c.add("start", strconv.FormatInt(p.Disconnect.UnixMilli(), 10))
	if p.Reconnect != nil {
		c.add("end", strconv.FormatInt(p.Reconnect.UnixMilli(), 10))
	}
	c.add("dvchost", p.Computer)
	if p.DowntimeSeconds != nil {
		c.add("cn1Label", "downtimeSeconds")
		c.add("cn1", strconv.FormatInt(int64(math.Round(*p.DowntimeSeconds)), 10))
	}
	if p.UptimeSeconds != nil {
		c.add("cn2Label", "uptimeSeconds")
		c.add("cn2", strconv.FormatInt(int64(math.Round(*p.UptimeSeconds)), 10))
	}
	c.add("cn3Label", "repeats")
	c.add("cn3", strconv.Itoa(p.Repeats))
	if p.DiagnosisID != "" {
		c.add("cs1Label", "diagnosisId")
		c.add("cs1", p.DiagnosisID)
	}
	if p.Excluded != "" {
		c.add("cs2Label", "excluded")
		c.add("cs2", p.Excluded)
	}
	return c
}

// exportDiagnosis is a diagnosis as an export row.
type exportDiagnosis analysis.Diagnosis

func (d *exportDiagnosis) MarshalJSON() ([]byte, error) {
	return json.Marshal((*analysis.Diagnosis)(d))
}

func deviceNames(ms []analysis.Match) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Device + " (" + m.Setting + ")"
	}
	return strings.Join(names, "; ")
}

func (d *exportDiagnosis) csvRow() []string {
	return []string{d.ID, d.Kind, d.Drop, fmtFloat(d.ObservedSeconds), fmtFloat(d.TimeoutSeconds), fmtFloat(d.TimeoutMaxSeconds),
		fmtTime(d.Start), fmtTime(d.End), strconv.FormatFloat(d.Confidence, 'f', -1, 64), strconv.Itoa(d.Intervals),
		csvText(strings.Join(d.Computers, "; ")), csvText(deviceNames(d.Matches)), csvText(d.Summary), csvText(strings.Join(d.Recommendations, " | "))}
}

func (d *exportDiagnosis) cef() cefRecord {
	sev := int(math.Round(d.Confidence * 10))
	c := cefRecord{SignatureID: d.Kind, Name: d.Summary, Severity: min(max(sev, 1), 10)}
	c.add("externalId", d.ID)
	if d.Start != nil {
		c.add("start", strconv.FormatInt(d.Start.UnixMilli(), 10))
	}
	if d.End != nil {
		c.add("end", strconv.FormatInt(d.End.UnixMilli(), 10))
	}
	c.add("cfp1Label", "confidence")
	c.add("cfp1", strconv.FormatFloat(d.Confidence, 'f', -1, 64))
	for i, v := range []struct {
		label string
		p     *float64
	}{{"timeoutSeconds", d.TimeoutSeconds}, {"observedSeconds", d.ObservedSeconds}, {"timeoutMaxSeconds", d.TimeoutMaxSeconds}} {
		if v.p != nil {
			n := strconv.Itoa(i + 1)
			c.add("cn"+n+"Label", v.label)
			c.add("cn"+n, strconv.FormatInt(int64(math.Round(*v.p)), 10))
		}
	}
	c.add("cnt", strconv.Itoa(d.Intervals))
	c.add("cs1Label", "drop")
	c.add("cs1", d.Drop)
	c.add("cs2Label", "computers")
	c.add("cs2", strings.Join(d.Computers, ","))
	if len(d.Matches) > 0 {
		c.add("cs3Label", "devices")
		c.add("cs3", deviceNames(d.Matches))
	}
	if len(d.Recommendations) > 0 {
		c.add("cs4Label", "recommendation")
		c.add("cs4", d.Recommendations[0])
	}
	c.add("msg", d.Summary)
	return c
}
