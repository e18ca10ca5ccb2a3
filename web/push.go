package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"idletrace/store"
	"idletrace/web/live"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"idletrace/analysis"
)

// PushConfig forwards new diagnoses to SIEMs that prefer to be sent data:
// a Splunk HTTP Event Collector, a generic JSON webhook, or both.
type PushConfig struct {
	// HECURL is the collector's event endpoint, e.g.
	// https://splunk.example:8088/services/collector/event.
	HECURL string
	// HECToken is sent as "Authorization: Splunk <token>".
	HECToken string
	// WebhookURL receives one JSON POST per new diagnosis.
	WebhookURL string
	// Interval is how often the data is checked for new diagnoses (default 30 s).
	Interval time.Duration
	// Attempts is how many times one delivery is tried before the next
	// check tries again (default 5), waiting RetryBase, 2×, 4×… between.
	Attempts  int
	RetryBase time.Duration // default 1 s
	// Client sends the requests (default: a client with a 15 s timeout).
	Client *http.Client
}

func (c *PushConfig) enabled() bool { return c.HECURL != "" || c.WebhookURL != "" }

// pushTarget is one destination.
type pushTarget struct {
	kind string // "hec" or "webhook": the metrics label
	url  string
	// key names the target in the database: a hash, because webhook URLs
	// often carry a secret.
	key   string
	build func(d *analysis.Diagnosis, now time.Time) ([]byte, http.Header, error)
}

func (c *PushConfig) targets() []pushTarget {
	var ts []pushTarget
	key := func(kind, u string) string {
		h := sha256.Sum256([]byte(u))
		return kind + ":" + hex.EncodeToString(h[:8])
	}
	if c.HECURL != "" {
		token := c.HECToken
		ts = append(ts, pushTarget{kind: "hec", url: c.HECURL, key: key("hec", c.HECURL),
			build: func(d *analysis.Diagnosis, now time.Time) ([]byte, http.Header, error) {
				// The HEC event envelope (DOMAIN.md §5.1).
				b, err := json.Marshal(map[string]any{
					"time": float64(now.UnixMilli()) / 1000, "host": "idletrace", "source": "idletrace",
					"sourcetype": "idletrace:diagnosis", "event": d,
				})
				h := http.Header{"Authorization": {"Splunk " + token}}
				return b, h, err
			}})
	}
	if c.WebhookURL != "" {
		ts = append(ts, pushTarget{kind: "webhook", url: c.WebhookURL, key: key("webhook", c.WebhookURL),
			build: func(d *analysis.Diagnosis, now time.Time) ([]byte, http.Header, error) {
				b, err := json.Marshal(map[string]any{"type": "idletrace.diagnosis", "sent_at": now.UTC(), "diagnosis": d})
				return b, http.Header{}, err
			}})
	}
	return ts
}

// pusher forwards new diagnoses of the live analysis to the push targets.
type pusher struct {
	cfg     PushConfig
	db      store.Store
	live    *live.Analyzer
	log     *slog.Logger
	metrics *metrics
	// leads reports whether this node is the leader, the one that pushes
	// (nil = always).
	leads func() bool

	mu     sync.Mutex
	cancel context.CancelFunc
}

func newPusher(cfg PushConfig, db store.Store, l *live.Analyzer, log *slog.Logger, m *metrics) *pusher {
	return &pusher{cfg: cfg, db: db, live: l, log: log, metrics: m}
}

// stop ends run (the server's Close then waits for it).
func (s *pusher) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
	}
}

// run checks for new diagnoses every interval and forwards each to every
// target once. It returns when ctx ends or stop is called.
func (s *pusher) run(ctx context.Context) {
	s.mu.Lock()
	ctx, s.cancel = context.WithCancel(ctx)
	s.mu.Unlock()
	c := s.cfg
	if c.Interval <= 0 {
		c.Interval = 30 * time.Second
	}
	if c.Attempts <= 0 {
		c.Attempts = 5
	}
	if c.RetryBase <= 0 {
		c.RetryBase = time.Second
	}
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 15 * time.Second}
	}
	targets := c.targets()
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for {
		for _, tg := range targets {
			if s.leads != nil && !s.leads() {
				break // another node leads: it pushes
			}
			if err := s.pushNew(ctx, &c, tg); err != nil && ctx.Err() == nil {
				s.log.Warn("push: will retry at the next check", "target", tg.kind, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pushNew sends the diagnoses that target has not had yet, marking each
// once delivered, so that a restart does not send it again.
func (s *pusher) pushNew(ctx context.Context, c *PushConfig, tg pushTarget) error {
	snap, err := s.live.Current(ctx, "")
	if err != nil {
		return err
	}
	if len(snap.Result.Report.Diagnoses) == 0 {
		return nil
	}
	done, err := s.db.PushedDiagnoses(ctx, tg.key)
	if err != nil {
		return err
	}
	for _, d := range snap.Result.Report.Diagnoses {
		if done[d.ID] {
			continue
		}
		ad := apiDiagnosis(d)
		body, hdr, err := tg.build(&ad, time.Now())
		if err != nil {
			return err
		}
		if err := deliver(ctx, c, tg.url, body, hdr); err != nil {
			s.metrics.pushed.WithLabelValues(tg.kind, "failed").Inc()
			return fmt.Errorf("diagnosis %s: %w", d.ID, err)
		}
		s.metrics.pushed.WithLabelValues(tg.kind, "sent").Inc()
		if err := s.db.MarkDiagnosisPushed(ctx, tg.key, d.ID); err != nil {
			return err
		}
		s.log.Info("push: diagnosis sent", "target", tg.kind, "diagnosis", d.ID)
	}
	return nil
}

// errPermanent marks a response that retrying will not fix (4xx but 408/429).
var errPermanent = errors.New("refused")

// deliver POSTs body with retries and exponential backoff.
func deliver(ctx context.Context, c *PushConfig, url string, body []byte, hdr http.Header) error {
	var err error
	wait := c.RetryBase
	for attempt := 1; attempt <= c.Attempts; attempt++ {
		if err = post(ctx, c.Client, url, body, hdr); err == nil || errors.Is(err, errPermanent) {
			return err
		}
		if attempt == c.Attempts {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
	return err
}

func post(ctx context.Context, client *http.Client, url string, body []byte, hdr http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", errPermanent, err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "idletrace")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return fmt.Errorf("%w: status %d", errPermanent, resp.StatusCode)
}
