// Package applog generates a realistic Windows Application log (.evtx) with
// the project's EVTX writer: one computer, many classic and manifest-style
// event sources, about 1 % Outlook 25/26 events with the timing of an
// Outlook client behind an idle-timeout device, and the usual look-alikes
// (other Outlook ids, "MSExchange RPC Client Access" 26, Outlook in another
// channel) that a reader must not take for Outlook 25/26.
//
// It is deterministic in its Options and streams: memory stays flat whatever
// the target size.
package applog

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"idletrace/ingest/evtxtest"
)

// Options describe the log to write.
type Options struct {
	Seed        uint64
	TargetBytes int64     // stop once the file is at least this big
	Computer    string    // default "HQ-PC01.corp.example"
	Start       time.Time // first event (default 2024-03-04 07:00 UTC)
	// OutlookShare is the share of records that are Outlook 25/26
	// (default 0.01).
	OutlookShare float64
	// IdleTimeout is the device's idle timeout (default 900 s): the uptime
	// between an Outlook 26 and the next 25.
	IdleTimeout time.Duration
}

// Stats describe what was written.
type Stats struct {
	Records   int
	Outlook25 int
	Outlook26 int
	Bytes     int64
}

type source struct {
	provider string
	guid     string // manifest-style provider when set
	channel  string
	ids      []uint16
	level    uint8
	weight   int
	words    int // typical message length in words
}

var sources = []source{
	{provider: "MsiInstaller", ids: []uint16{1033, 1035, 1040, 1042, 11707, 11724}, level: 4, weight: 60, words: 40},
	{provider: "Microsoft-Windows-Security-SPP", guid: "E23B33B0-C8C9-472C-A5F9-F2BDFEA0F156", ids: []uint16{903, 1003, 1033, 16384, 16394}, level: 4, weight: 160, words: 12},
	{provider: "Office Software Protection Platform Service", ids: []uint16{1003, 1066}, level: 4, weight: 40, words: 20},
	{provider: "ESENT", ids: []uint16{102, 103, 105, 302, 326, 327}, level: 4, weight: 90, words: 30},
	{provider: "SecurityCenter", ids: []uint16{1, 15, 16}, level: 4, weight: 30, words: 16},
	{provider: "Microsoft-Windows-Winlogon", guid: "DBE9B383-7CF3-4331-91CC-A3CB16A3B538", ids: []uint16{6000, 6003, 4101}, level: 4, weight: 50, words: 14},
	{provider: "Microsoft-Windows-User Profiles Service", guid: "89B1E9F0-5AFF-44A6-9B44-0A07A7CE5845", ids: []uint16{1531, 1532, 1511}, level: 4, weight: 40, words: 18},
	{provider: "Microsoft-Windows-RestartManager", guid: "0888E5EF-9B98-4695-979D-E92CE4247224", ids: []uint16{10000, 10001, 10010}, level: 4, weight: 70, words: 22},
	{provider: "VSS", ids: []uint16{8224, 8193, 12289}, level: 4, weight: 40, words: 26},
	{provider: "Application Error", ids: []uint16{1000}, level: 2, weight: 15, words: 80},
	{provider: "Windows Error Reporting", ids: []uint16{1001}, level: 4, weight: 20, words: 120},
	{provider: "Application Hang", ids: []uint16{1002}, level: 2, weight: 5, words: 70},
	{provider: "Microsoft Office 16", ids: []uint16{2000, 2001, 1000}, level: 4, weight: 40, words: 35},
	{provider: "Microsoft Office 16 Alerts", ids: []uint16{300}, level: 4, weight: 25, words: 45},
	{provider: "Outlook", ids: []uint16{45, 59, 63, 27, 32}, level: 4, weight: 20, words: 30},
	{provider: "MSExchange RPC Client Access", ids: []uint16{26, 25}, level: 4, weight: 6, words: 25},
	{provider: "Microsoft-Windows-WMI", guid: "1EDEEE53-0AFE-4609-B846-D8C0B2075B1F", ids: []uint16{5605, 5615, 5617}, level: 3, weight: 30, words: 28},
	{provider: "Microsoft-Windows-Search", guid: "CA4E628D-8567-4896-AB6B-835B221F373F", ids: []uint16{1003, 1010, 3036}, level: 4, weight: 30, words: 22},
	{provider: "Wlclntfy", ids: []uint16{6000, 6001}, level: 4, weight: 20, words: 10},
	{provider: "gupdate", ids: []uint16{0}, level: 4, weight: 25, words: 8},
	{provider: "edgeupdate", ids: []uint16{0}, level: 4, weight: 25, words: 8},
	{provider: "Microsoft-Windows-CertificateServicesClient-AutoEnrollment", guid: "F0DB7EF8-B6F3-4005-9937-FEB77B9E1B43", ids: []uint16{64, 65, 1006}, level: 4, weight: 20, words: 30},
	{provider: "Desktop Window Manager", ids: []uint16{9027}, level: 4, weight: 10, words: 12},
	{provider: "MSSQL$SQLEXPRESS", ids: []uint16{17137, 17101, 17162, 18456}, level: 4, weight: 30, words: 24},
	{provider: "LoadPerf", ids: []uint16{1000, 1001}, level: 4, weight: 10, words: 40},
	{provider: "Chrome", ids: []uint16{1}, level: 4, weight: 5, words: 60},
	{provider: "Software Protection Platform Service", ids: []uint16{1003}, level: 4, weight: 10, words: 30},
	{provider: "Outlook", channel: "System", ids: []uint16{25, 26}, level: 4, weight: 2, words: 30},
	{provider: "Microsoft-Windows-Perflib", guid: "13B197BD-7CEE-4B4E-8DD0-59314CE374CE", ids: []uint16{1008, 1023}, level: 3, weight: 15, words: 50},
	{provider: "SceCli", ids: []uint16{1704}, level: 4, weight: 10, words: 14},
}

var vocabulary = strings.Fields(`the of service application process was started stopped successfully
failed error windows installer product update version user computer connection session
configuration registry value key database instance transaction log file path network
server client request response status code module faulting exception offset timestamp
license activation policy group certificate enrollment provider component package
restart manager shutdown initiated handle memory cache index search query result`)

// Write writes the log to w.
func Write(w io.WriteSeeker, o Options) (Stats, error) {
	if o.Computer == "" {
		o.Computer = "HQ-PC01.corp.example"
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2024, 3, 4, 7, 0, 0, 0, time.UTC)
	}
	if o.OutlookShare <= 0 {
		o.OutlookShare = 0.01
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 900 * time.Second
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x1d1e7ace))
	ew, err := evtxtest.NewWriter(w)
	if err != nil {
		return Stats{}, err
	}
	total := 0
	for _, s := range sources {
		total += s.weight
	}
	var st Stats
	// Mean gap between records; Outlook's own clock runs in parallel: it
	// is connected for IdleTimeout + 0.5–5 s, then disconnected for
	// 5–240 s. Its events are merged into the stream at their times and
	// make up about OutlookShare of the records: the background rate is
	// set accordingly.
	cycle := o.IdleTimeout.Seconds() + 2.75 + 60
	outlookRate := 2 / cycle // events per second
	gap := outlookRate * (1 - o.OutlookShare) / o.OutlookShare
	meanGap := 1 / gap
	now := o.Start
	nextOutlook := o.Start.Add(time.Duration(rng.Float64() * float64(o.IdleTimeout)))
	outlookNext := uint16(25)
	var words []string
	message := func(n int) string {
		words = words[:0]
		for i := 0; i < n; i++ {
			words = append(words, vocabulary[rng.IntN(len(vocabulary))])
		}
		return strings.Join(words, " ")
	}
	for {
		if int64(ew.Chunks()+1)*65536+4096 >= o.TargetBytes && o.TargetBytes > 0 {
			break
		}
		now = now.Add(time.Duration(rng.ExpFloat64() * meanGap * float64(time.Second)))
		var rec evtxtest.Record
		if !nextOutlook.After(now) {
			now = nextOutlook
			rec = evtxtest.Classic("Outlook", o.Computer, now, outlookNext, outlookText(outlookNext, rng))
			if outlookNext == 25 {
				st.Outlook25++
				outlookNext = 26
				d := 5 + rng.Float64()*55
				if rng.IntN(10) < 3 {
					d = 60 + rng.Float64()*180
				}
				nextOutlook = now.Add(time.Duration(d * float64(time.Second)))
			} else {
				st.Outlook26++
				outlookNext = 25
				up := o.IdleTimeout.Seconds() + 0.5 + rng.Float64()*4.5
				if rng.IntN(10) == 0 {
					up += 60 + rng.Float64()*1740
				}
				nextOutlook = now.Add(time.Duration(up * float64(time.Second)))
			}
		} else {
			pick := rng.IntN(total)
			var s source
			for _, s = range sources {
				if pick < s.weight {
					break
				}
				pick -= s.weight
			}
			id := s.ids[rng.IntN(len(s.ids))]
			n := max(1, int(float64(s.words)*(0.1+rng.Float64()*0.4)))
			var data []string
			switch rng.IntN(6) {
			case 0:
				data = []string{message(n)}
			case 1:
				data = []string{message(n/2 + 1), "", message(n/2 + 1)}
			case 2:
				data = []string{fmt.Sprint(rng.IntN(100000)), message(n)}
			default:
				data = []string{message(n)}
			}
			rec = evtxtest.Classic(s.provider, o.Computer, now, id, data...)
			rec.Level = s.level
			if s.channel != "" {
				rec.Channel = s.channel
			}
			if s.guid != "" {
				rec.ProviderGUID = s.guid
				rec.Qualifiers = 0
				rec.Keywords = 0x8000000000000000
				rec.ProcessID = uint32(rng.IntN(20000))
				rec.ThreadID = uint32(rng.IntN(20000))
			}
			if rng.IntN(8) == 0 {
				rec.UserSID = "S-1-5-18"
			}
			if s.provider == "Application Error" || rng.IntN(40) == 0 {
				rec.Binary = []byte(message(3))
			}
		}
		if err := ew.Write(rec); err != nil {
			return st, err
		}
		st.Records++
	}
	if err := ew.Close(); err != nil {
		return st, err
	}
	pos, err := w.Seek(0, io.SeekCurrent)
	if err == nil {
		st.Bytes = pos
	}
	return st, err
}

func outlookText(id uint16, rng *rand.Rand) string {
	if id == 25 {
		return "Outlook lost its connection to the Microsoft Exchange server. (0x" + fmt.Sprintf("%08X", 0x80040115+uint32(rng.IntN(2))) + ")"
	}
	return "The connection to Microsoft Exchange has been restored."
}

// WriteFile writes the log to path.
func WriteFile(path string, o Options) (Stats, error) {
	f, err := os.Create(path)
	if err != nil {
		return Stats{}, err
	}
	st, err := Write(f, o)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return st, err
}
