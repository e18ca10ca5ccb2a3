package web

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"idletrace/analysis/fleetsim"
	"idletrace/ingest/evtxtest"
	"idletrace/intake"
)

// DemoSpec is the fleet the demo data is generated from: a head office
// behind a load balancer that resets idle connections after 15 min, a
// branch behind an Azure-style load balancer that drops them silently
// after 4 min (seen at Outlook's 720 s keep-alive), a healthy operations
// site, and one shared outage. It is deterministic: loading the demo twice
// adds nothing the second time.
func DemoSpec() fleetsim.Spec {
	start := time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)
	return fleetsim.Spec{
		Seed:  20240304,
		Start: start,
		Days:  5,
		Sites: []fleetsim.Site{
			{Prefix: "HQ-PC", Clients: 18, TimeoutSeconds: 900, Drop: "reset", RandomPerDay: 0.3},
			{Prefix: "BR-LT", Clients: 9, TimeoutSeconds: 240, Drop: "silent", RandomPerDay: 0.3},
			{Prefix: "OPS-WS", Clients: 6, RandomPerDay: 0.5},
		},
		Outages:             []fleetsim.Outage{{At: start.AddDate(0, 0, 2).Add(13*time.Hour + 41*time.Minute), Minutes: 12}},
		NoisePerHour:        2,
		RPCClientAccess26:   4,
		Duplicates:          2,
		UnpairedDisconnects: 2,
		OrphanReconnects:    1,
	}
}

// LoadDemo generates the demo fleet, writes one Application.evtx per
// computer with the project's EVTX writer, and ingests the files through
// the normal upload path (source "demo"). It returns how many events were
// new.
func (s *Server) LoadDemo(ctx context.Context) (int, error) {
	fleet := fleetsim.Generate(DemoSpec())
	dir, err := os.MkdirTemp(s.cfg.TempDir, "idletrace-demo-*")
	if err != nil {
		return 0, fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(dir)
	var order []string
	byComputer := map[string][]evtxtest.Record{}
	for _, e := range fleet.Events {
		if _, ok := byComputer[e.Computer]; !ok {
			order = append(order, e.Computer)
		}
		byComputer[e.Computer] = append(byComputer[e.Computer], evtxtest.Record{
			RecordID:   uint64(e.RecordID),
			Time:       e.Time,
			Provider:   e.Provider,
			EventID:    uint16(e.EventID),
			Qualifiers: uint16(e.Qualifiers),
			Level:      uint8(e.Level),
			Keywords:   0x80000000000000,
			Channel:    e.Channel,
			Computer:   e.Computer,
			Data:       []string{e.Message},
		})
	}
	added := 0
	for _, c := range order {
		name := c + "-Application.evtx"
		p := filepath.Join(dir, name)
		if err := evtxtest.WriteFile(p, byComputer[c]); err != nil {
			return added, fmt.Errorf("demo: write %s: %w", name, err)
		}
		in, err := intake.OpenFile(p, name, intake.SourceDemo, false)
		if err != nil {
			return added, fmt.Errorf("demo: %w", err)
		}
		u, err := s.intake.Ingest(ctx, in, intake.Options{ErrorText: uploadErrorText})
		if err != nil {
			return added, fmt.Errorf("demo: %w", err)
		}
		added += u.NewEvents
	}
	s.log.Info("demo data loaded", "computers", len(order), "new_events", added)
	return added, nil
}

// errDemoIntoRealData refuses the demo on a database that holds real data:
// generated events mixed into a real fleet would falsify its diagnosis, and
// nothing takes them out again.
var errDemoIntoRealData = &apiError{status: http.StatusConflict, code: "has_data",
	msg: "the database already holds uploaded data: the demo is loaded only into an empty database (run a separate one: server -db demo.db -demo)"}

// holdsRealData reports whether any upload did not come from the demo.
func (s *Server) holdsRealData(ctx context.Context) (bool, error) {
	const page = 200
	for before := int64(0); ; {
		ups, err := s.db.FindUploads(ctx, before, page)
		if err != nil {
			return false, fmt.Errorf("demo: look for real data: %w", err)
		}
		for _, u := range ups {
			if u.Source != intake.SourceDemo {
				return true, nil
			}
		}
		if len(ups) < page {
			return false, nil
		}
		before = ups[len(ups)-1].ID
	}
}

// handleDemo handles POST /demo (the empty dashboard's button, scope
// admin): load the demo data into a database holding nothing else, then
// show the dashboard.
func (s *Server) handleDemo(w http.ResponseWriter, r *http.Request) {
	if real, err := s.holdsRealData(r.Context()); err != nil || real {
		if err == nil {
			err = errDemoIntoRealData
		}
		s.writeError(w, r, err)
		return
	}
	if _, err := s.LoadDemo(r.Context()); err != nil {
		s.writeError(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
