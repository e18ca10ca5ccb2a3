package web_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"idletrace/web"
)

// probeJSON is a result as `server probe --json` prints it.
func probeJSON(computer string, timeout float64, drop string) string {
	t := fmt.Sprint(timeout)
	if drop == "none" {
		t = "null"
	}
	return fmt.Sprintf(`{"target":"https://mail.corp.example/owa/healthcheck.htm","computer":%q,"site":"HQ",
		"started_at":"2024-05-03T09:00:00Z","finished_at":"2024-05-03T09:20:00Z","wall_seconds":1200,"complete":true,
		"alive_max_seconds":%v,"dead_min_seconds":%v,"timeout_seconds":%s,"plus_minus_seconds":3,"drop":%q,
		"matches":[],"notes":[],"rounds":2,"connections":[{"round":1,"planned_seconds":60,"idle_seconds":60,"end":"alive"}]}`,
		computer, timeout-3, timeout+3, t, drop)
}

// TestProbesAPI: an ingest token posts a probe result, a reader lists it
// with what it says of the current diagnosis; bad results are 422, a
// reader may not post.
func TestProbesAPI(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	seedFleet(t, ts.db) // an idle timeout of ≈ 900 s on HQ-PC01…12
	ing := newClient(t, ts.URL, mustToken(t, ts.db, "agent", "ingest"))
	reader := newClient(t, ts.URL, mustToken(t, ts.db, "reader", "read"))
	post := func(c *client, body string) (int, string) {
		resp, b := c.do("POST", "/api/v1/probes", strings.NewReader(body), map[string]string{"Content-Type": "application/json"})
		return resp.StatusCode, string(b)
	}
	if code, b := post(ing, probeJSON("HQ-PC03.corp.example", 901, "reset")); code != 201 {
		t.Fatalf("post: %d %s", code, b)
	}
	if code, b := post(ing, probeJSON("HQ-PC04", 3600, "reset")); code != 201 {
		t.Fatalf("post: %d %s", code, b)
	}
	for _, bad := range []string{
		strings.Replace(probeJSON("HQ-PC05", 900, "reset"), `"drop":"reset"`, `"drop":"maybe"`, 1),
		strings.Replace(probeJSON("HQ-PC05", 900, "reset"), `"dead_min_seconds":903`, `"dead_min_seconds":1`, 1),
		strings.Replace(probeJSON("HQ-PC05", 900, "reset"), `"target":"https://mail.corp.example/owa/healthcheck.htm"`, `"target":" "`, 1),
		probeJSON("HQ-PC05", 900, "none") + "x",
	} {
		if code, b := post(ing, bad); code != 422 && code != 400 {
			t.Errorf("bad probe: %d %s", code, b)
		}
	}
	if code, _ := post(reader, probeJSON("HQ-PC05", 900, "reset")); code != 403 {
		t.Errorf("reader posting a probe: %d, want 403", code)
	}
	var page struct {
		Items []struct {
			ID       int64
			Computer string
			Drop     string
			Verdicts []struct {
				DiagnosisID string `json:"diagnosis_id"`
				Verdict     string
			}
		}
		Next string
	}
	reader.getJSON("/api/v1/probes?limit=1", &page)
	if len(page.Items) != 1 || page.Items[0].Computer != "HQ-PC04" || page.Next == "" {
		t.Fatalf("first page: %+v", page)
	}
	if v := page.Items[0].Verdicts; len(v) != 1 || v[0].Verdict != "contradicts" {
		t.Errorf("3600 s probe on a 900 s path: verdicts %+v, want contradicts", v)
	}
	reader.getJSON("/api/v1/probes?limit=1&after="+page.Next, &page)
	if len(page.Items) != 1 || page.Items[0].Computer != "HQ-PC03.corp.example" || page.Next != "" {
		t.Fatalf("second page: %+v", page)
	}
	if v := page.Items[0].Verdicts; len(v) != 1 || v[0].Verdict != "confirms" || !strings.HasPrefix(v[0].DiagnosisID, "idle-timeout-900s") {
		t.Errorf("901 s probe: verdicts %+v, want confirms idle-timeout-900s", v)
	}
	var one struct{ Items []json.RawMessage }
	reader.getJSON("/api/v1/probes?computer=hq-pc04", &one)
	if len(one.Items) != 1 {
		t.Errorf("computer filter: %d items", len(one.Items))
	}
}

// TestProbeOnDiagnosisPage: the diagnosis page says what a probe from one
// of its computers measured and that it confirms it.
func TestProbeOnDiagnosisPage(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	seedFleet(t, ts.db)
	admin := newClient(t, ts.URL, mustToken(t, ts.db, "admin", "admin"))
	resp, b := admin.do("POST", "/api/v1/probes", strings.NewReader(probeJSON("HQ-PC07.corp.example", 902, "reset")), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 201 {
		t.Fatalf("post: %d %s", resp.StatusCode, b)
	}
	var diags struct{ Items []struct{ ID string } }
	admin.getJSON("/api/v1/diagnoses", &diags)
	if len(diags.Items) == 0 {
		t.Fatal("no diagnosis")
	}
	var api struct {
		ID     string
		Probes []struct {
			Computer string
			Verdict  string
		}
	}
	admin.getJSON("/api/v1/diagnoses/"+diags.Items[0].ID, &api)
	if len(api.Probes) != 1 || api.Probes[0].Computer != "HQ-PC07.corp.example" || api.Probes[0].Verdict != "confirms" {
		t.Errorf("GET /api/v1/diagnoses/%s: probes %+v", api.ID, api.Probes)
	}
	resp, b = admin.get("/diagnoses/" + diags.Items[0].ID)
	page := string(b)
	if resp.StatusCode != 200 || !strings.Contains(page, "Probe from HQ-PC07.corp.example") || !strings.Contains(page, "confirms this diagnosis") {
		t.Errorf("diagnosis page (%d) does not show the probe: %.400s", resp.StatusCode, page)
	}
}
