package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Probe is a path's idle timeout measured directly (server probe) from one
// computer, as stored. Result is the whole posted result (JSON).
type Probe struct {
	ID               int64     `json:"id"`
	ReceivedAt       time.Time `json:"received_at"`
	Token            string    `json:"token,omitempty"` // name of the token that posted it
	Computer         string    `json:"computer"`
	Site             string    `json:"site"`
	Target           string    `json:"target"`
	TimeoutSeconds   *float64  `json:"timeout_seconds"`
	PlusMinusSeconds *float64  `json:"plus_minus_seconds"`
	AliveMaxSeconds  float64   `json:"alive_max_seconds"`
	DeadMinSeconds   *float64  `json:"dead_min_seconds"`
	Drop             string    `json:"drop"`
	Complete         bool      `json:"complete"`
	StartedAt        time.Time `json:"started_at"`
	FinishedAt       time.Time `json:"finished_at"`
	Result           []byte    `json:"-"`
}

// ProbeFilter selects probes: those of one computer (case-insensitive, ""
// for all) with id below Before (0: from the newest), newest first.
type ProbeFilter struct {
	Computer string
	Before   int64
	Limit    int
}

// CreateProbe stores p and fills p.ID and p.ReceivedAt.
func (db *DB) CreateProbe(ctx context.Context, p *Probe) error {
	p.ReceivedAt = db.Now().UTC().Truncate(time.Second)
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO probes (received_at, token, computer, site, target, timeout_seconds,
			plus_minus_seconds, alive_max_seconds, dead_min_seconds, drop_kind, complete, started_at, finished_at, result_json)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ReceivedAt.Unix(), p.Token, p.Computer, p.Site, p.Target, p.TimeoutSeconds, p.PlusMinusSeconds,
			p.AliveMaxSeconds, p.DeadMinSeconds, p.Drop, p.Complete, p.StartedAt.UnixMilli(), p.FinishedAt.UnixMilli(), string(p.Result))
		if err != nil {
			return fmt.Errorf("create probe: %w", err)
		}
		p.ID, err = res.LastInsertId()
		return err
	})
}

// FindProbes returns the probes f selects, newest first.
func (db *DB) FindProbes(ctx context.Context, f ProbeFilter) ([]Probe, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	before := f.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := db.sql.QueryContext(ctx, `SELECT id, received_at, token, computer, site, target, timeout_seconds,
		plus_minus_seconds, alive_max_seconds, dead_min_seconds, drop_kind, complete, started_at, finished_at, result_json
		FROM probes WHERE id < ? AND (? = '' OR computer = ? COLLATE NOCASE) ORDER BY id DESC LIMIT ?`,
		before, f.Computer, f.Computer, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("find probes: %w", err)
	}
	defer rows.Close()
	var out []Probe
	for rows.Next() {
		var p Probe
		var received, started, finished int64
		var result string
		var timeout, pm, dead sql.NullFloat64
		if err := rows.Scan(&p.ID, &received, &p.Token, &p.Computer, &p.Site, &p.Target, &timeout, &pm,
			&p.AliveMaxSeconds, &dead, &p.Drop, &p.Complete, &started, &finished, &result); err != nil {
			return nil, fmt.Errorf("find probes: %w", err)
		}
		p.ReceivedAt = time.Unix(received, 0).UTC()
		p.StartedAt, p.FinishedAt = time.UnixMilli(started).UTC(), time.UnixMilli(finished).UTC()
		p.TimeoutSeconds, p.PlusMinusSeconds, p.DeadMinSeconds = nullFloat(timeout), nullFloat(pm), nullFloat(dead)
		p.Result = []byte(result)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find probes: %w", err)
	}
	return out, nil
}

func nullFloat(v sql.NullFloat64) *float64 {
	if !v.Valid {
		return nil
	}
	return &v.Float64
}
