package evtxtest

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type provider struct {
	name, guid, source string
}

var testProviders = []provider{
	{"Outlook", "", ""},
	{"MSExchange RPC Client Access", "", ""},
	{"Application Error", "", ""},
	{"MsiInstaller", "", ""},
	{"ESENT", "", ""},
	{"Microsoft-Windows-Security-SPP", "{E23B33B0-C8C9-472C-A5F9-F2BDFEA0F156}", "Software Protection Platform Service"},
	{"Microsoft-Windows-Winlogon", "{DBE9B383-7CF3-4331-91CC-A3CB16A3B538}", "Wlclntfy"},
}

var testStrings = []string{
	"",
	"Outlook",
	"Could not perform the desired operation. The connection to Microsoft Exchange is unavailable.",
	"<script>alert('x')</script>",
	`a & b "quoted" 'single' <tag attr="v">`,
	"ünïcødé ✓ 日本語 Ωμέγα",
	"emoji 😀 outside the BMP 𝄞",
	"line one\nline two\ttabbed",
	"   leading and trailing spaces   ",
	"C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE",
}

// genRecords makes n varied records: many provider/computer/channel
// combinations (templates), empty and unicode Data, binary, SIDs, explicit
// record id gaps, 100 ns times.
func genRecords(n int, seed uint64) []Record {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	t := time.Date(2024, 3, 4, 8, 0, 0, 0, time.UTC)
	recs := make([]Record, 0, n)
	for i := 0; i < n; i++ {
		p := testProviders[rng.IntN(len(testProviders))]
		t = t.Add(time.Duration(rng.Int64N(int64(90*time.Second))) / 100 * 100)
		r := Record{
			Time:            t,
			Provider:        p.name,
			ProviderGUID:    p.guid,
			EventSourceName: p.source,
			EventID:         uint16(rng.IntN(70000)),
			Qualifiers:      []uint16{16384, 0, 32768, 49152}[rng.IntN(4)],
			Level:           uint8(1 + rng.IntN(4)),
			Task:            uint16(rng.IntN(5)),
			Keywords:        0x80000000000000,
			Computer:        []string{"HQ-PC01.contoso.local", "HQ-PC02.contoso.local", "BR-PC01.contoso.local", "LAB-07", "srv-ex01.contoso.local", "PC-ÄÖÜ.example"}[rng.IntN(6)],
		}
		if rng.IntN(10) == 0 {
			r.Channel = "System"
		}
		if rng.IntN(7) == 0 {
			r.UserSID = []string{"S-1-5-18", "S-1-5-21-3623811015-3361044348-30300820-1013", "S-1-5-19"}[rng.IntN(3)]
		}
		if rng.IntN(400) == 0 {
			r.RecordID = uint64(i + 1 + 1000*rng.IntN(5)) // may equal the automatic id
		}
		if rng.IntN(20) == 0 {
			r.Opcode, r.Version, r.ProcessID, r.ThreadID = 1, 2, 4242, 17
		}
		nd := rng.IntN(5)
		for j := 0; j < nd; j++ {
			s := testStrings[rng.IntN(len(testStrings))]
			if rng.IntN(40) == 0 {
				s = strings.Repeat("long message "+s+" ", 1+rng.IntN(150))
			}
			r.Data = append(r.Data, s)
		}
		if rng.IntN(6) == 0 {
			r.Binary = make([]byte, 1+rng.IntN(40))
			for j := range r.Binary {
				r.Binary[j] = byte(rng.IntN(256))
			}
		}
		recs = append(recs, r)
	}
	// make the explicit ids monotonic (gaps allowed)
	var prev uint64
	for i := range recs {
		if recs[i].RecordID != 0 && recs[i].RecordID <= prev {
			recs[i].RecordID = prev + 7
		}
		if recs[i].RecordID != 0 {
			prev = recs[i].RecordID
		} else {
			prev++
		}
	}
	return recs
}

// expectedIDs applies the RecordID defaulting rule.
func expectedIDs(recs []Record) []uint64 {
	ids := make([]uint64, len(recs))
	next := uint64(1)
	for i, r := range recs {
		id := r.RecordID
		if id == 0 {
			id = next
		}
		ids[i] = id
		next = id + 1
	}
	return ids
}

func writeTemp(t testing.TB, name string, recs []Record) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := WriteFile(path, recs); err != nil {
		t.Fatal(err)
	}
	return path
}

func channelOf(r Record) string {
	if r.Channel == "" {
		return "Application"
	}
	return r.Channel
}
