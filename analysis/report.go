package analysis

import "time"

// Event is one Outlook connectivity event as the analysis sees it: only
// Outlook 25 (disconnected) and 26 (restored) from the Application channel
// reach it. Callers filter and normalise; Analyze does not look at providers.
type Event struct {
	// Computer is the name as it appears in the event (e.g. "HQ-PC01.corp.example").
	Computer string
	// EventID is 25 (disconnect) or 26 (reconnect).
	EventID int
	// Time is when the event was logged, in UTC.
	Time time.Time
	// RecordID is the event log record number, 0 when the source has none.
	RecordID int64
}

// Event IDs the analysis understands.
const (
	EventDisconnected = 25
	EventRestored     = 26
)

// Report is the result of one analysis. Its JSON field names are a contract
// (SPEC §5): SIEMs and scripts read them, so fields may be added, never renamed.
type Report struct {
	Computers int         `json:"computers"`
	Events    EventCounts `json:"events"`
	Pairs     int         `json:"pairs"`
	Clusters  []Cluster   `json:"clusters"`
	Outages   []Outage    `json:"outages"`
	Diagnoses []Diagnosis `json:"diagnoses"`
}

// EventCounts counts the distinct Outlook 25 and 26 records in scope.
type EventCounts struct {
	Disconnects int `json:"disconnects"`
	Reconnects  int `json:"reconnects"`
}

// Cluster is a concentration of intervals of one kind near one value across
// the fleet.
type Cluster struct {
	Kind          string   `json:"kind"` // "uptime" or "downtime"
	CenterSeconds float64  `json:"center_seconds"`
	LowSeconds    float64  `json:"low_seconds"`
	HighSeconds   float64  `json:"high_seconds"`
	SpreadSeconds float64  `json:"spread_seconds"` // robust width: 90th − 10th percentile
	OnsetSeconds  float64  `json:"onset_seconds"`  // lower envelope: 2nd percentile
	Intervals     int      `json:"intervals"`
	Computers     []string `json:"computers"`
}

// Outage is a window in which many computers disconnected together.
type Outage struct {
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Computers []string  `json:"computers"`
}

// Diagnosis is one conclusion drawn from the evidence.
type Diagnosis struct {
	ID                string     `json:"id"`
	Kind              string     `json:"kind"` // "idle-timeout" or "shared-outage"
	ObservedSeconds   *float64   `json:"observed_seconds"`
	Drop              string     `json:"drop"` // "reset", "silent" or "unknown"
	TimeoutSeconds    *float64   `json:"timeout_seconds"`
	TimeoutMaxSeconds *float64   `json:"timeout_max_seconds"`
	Start             *time.Time `json:"start"`
	End               *time.Time `json:"end"`
	Confidence        float64    `json:"confidence"`
	Computers         []string   `json:"computers"`
	Summary           string     `json:"summary"`
	Matches           []Match    `json:"matches"`
	Recommendations   []string   `json:"recommendations"`
	// Intervals is how many intervals (uptimes, or disconnects for an
	// outage) the diagnosis rests on.
	Intervals int `json:"intervals"`
	// KeepAliveSeconds is Outlook's keep-alive at which a silent drop shows.
	KeepAliveSeconds *float64 `json:"keep_alive_seconds,omitempty"`
	// Site is the common computer-name prefix of the diagnosis' computers.
	Site string `json:"site,omitempty"`
	// AlsoSeen lists computers with intervals at this value but too few
	// repeats (or too many other intervals there) to name them: leads, not
	// members.
	AlsoSeen []string `json:"also_seen"`
	// ConfidenceNote says in words what the confidence rests on and what
	// would make it firmer.
	ConfidenceNote string `json:"confidence_note,omitempty"`
}

// Match is a device whose default idle timeout is consistent with a diagnosis.
type Match struct {
	Device         string  `json:"device"`
	Setting        string  `json:"setting"`
	DefaultSeconds float64 `json:"default_seconds"`
}

// Diagnosis kinds.
const (
	KindIdleTimeout  = "idle-timeout"
	KindSharedOutage = "shared-outage"
)
