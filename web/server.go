// Package web serves idletrace's dashboard pages and its REST API. It is
// the only package that speaks HTTP; it calls store, ingest and analysis.
package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"idletrace/intake"
	"idletrace/store"
	"idletrace/web/live"
)

// Config holds the server's settings.
type Config struct {
	// Addr is the listen address, e.g. "localhost:8080".
	Addr string
	// MaxUpload is the largest request body an upload may have, in bytes.
	MaxUpload int64
	// DisplayTZ is the zone times are shown in on pages (stored times are UTC).
	DisplayTZ *time.Location
	// TempDir is where uploads are spooled ("" = os.TempDir()).
	TempDir string
	// NoAuth lets the server be open (no token created yet) to connections
	// from other hosts, not only loopback ones. Once a token exists every
	// request must authenticate regardless (auth.go).
	NoAuth bool
	// TLSCert and TLSKey are PEM files; when set the server speaks HTTPS.
	TLSCert, TLSKey string
	// RateLimit is requests a minute per token (or per address when no
	// token is sent): 0 = DefaultRateLimit, negative = no limit.
	RateLimit int
	// AllowedHosts are the names clients may reach the server by (the Host
	// header, port ignored), besides IP addresses and localhost. While the
	// server is open (no token, loopback) a request naming any other host is
	// refused, so a DNS-rebinding page cannot act as the owner; when the list
	// is given, it holds for every request. A leading dot allows subdomains.
	AllowedHosts []string
	// PublicURL is the URL people reach the server by (e.g. behind a reverse
	// proxy): its host is allowed and its origin trusted by the cross-origin
	// check.
	PublicURL string
	// BodyTimeout bounds how long reading a request body may take on every
	// route but the uploads (forms, JSON, logins): a client trickling a body
	// holds its connection no longer (0 = DefaultBodyTimeout).
	BodyTimeout time.Duration
	// UploadTimeout bounds reading an upload's body (0 =
	// DefaultUploadTimeout: large files on slow links).
	UploadTimeout time.Duration
	// MaxUploadFiles bounds the files of one upload request (0 =
	// DefaultMaxUploadFiles).
	MaxUploadFiles int
	// MaxConns bounds the connections served at once; past it new ones wait
	// in the kernel's backlog (0 = DefaultMaxConns, negative = no limit).
	MaxConns int
	// Push forwards new diagnoses to a Splunk HEC or a webhook (push.go).
	Push PushConfig
	// Retention, when positive, is how long events are kept: the leader
	// deletes older ones every RetentionEvery (0 = DefaultRetentionEvery).
	Retention, RetentionEvery time.Duration
	// AnalysisWindow, when positive, bounds the live analysis (and its
	// memory) to the newest span of the data; older events stay stored
	// but are not analysed (live.Analyzer.SetWindow).
	AnalysisWindow time.Duration
	// MaxConcurrentReads bounds the read requests (pages, API reads) whose
	// handlers run at once; the others wait in arrival order (admission.go).
	// Probes, /metrics, static files, logins, writes and streamed exports
	// never wait. 0 = DefaultMaxConcurrentReads(), negative = no bound.
	MaxConcurrentReads int
	// ReadQueueTimeout is how long a read may wait for its turn before it
	// is answered 503 with Retry-After (0 = DefaultReadQueueTimeout).
	ReadQueueTimeout time.Duration
}

// DefaultMaxUpload is the default upload body limit (2 GiB).
const DefaultMaxUpload = 2 << 30

// Defaults of the connection limits.
const (
	DefaultBodyTimeout   = 30 * time.Second
	DefaultUploadTimeout = 30 * time.Minute
	DefaultMaxConns      = 512
	// DefaultMaxUploadFiles is how many files one upload request may carry.
	DefaultMaxUploadFiles = 100
)

// Server is the HTTP server of idletrace.
type Server struct {
	cfg     Config
	db      store.Store
	log     *slog.Logger
	pages   *pageSet
	report  *template.Template // the report file (page_report.go)
	live    *live.Analyzer     // the analysis pages and the report are served from
	intake  *intake.Pipeline   // every way data come in (uploads, demo, agents)
	uploads *receiver          // multipart bodies to the pipeline (upload.go)
	owners  uploadOwners       // which token made which upload (upload_owner.go)
	dash    dashCache          // the rendered dashboard (report.go)
	dashIn  dashInputs         // its reads of the store besides the analysis (dash_inputs.go)
	zones   zoneSets           // the templates of each browser's display zone (page_zone.go)
	views   viewCache          // per-analysis indexes for the pages (pages_views.go)
	ids     idBook             // diagnosis ids once shown (diagnosis_ids.go)
	changes changeCache        // before/after of recorded changes (api_changes.go)

	auth      *access                         // who a request acts as (auth.go)
	hosts     *hostPolicy                     // the names the server answers to (hosts.go)
	metrics   *metrics                        // Prometheus (metrics.go)
	reads     *admission                      // the bound on reads run at once (admission.go)
	rateLimit func(http.Handler) http.Handler // per token, else per address
	push      *pusher                         // nil when push is off (push.go)
	cluster   cluster                         // leader election, retention (cluster.go)

	httpSrv   *http.Server
	listener  net.Listener
	wg        sync.WaitGroup // the serve loop and background work (async ingests, push)
	startOnce sync.Once
	inflight  sync.WaitGroup // requests being handled

	// life is cancelled when shutdown gives up waiting: requests and
	// background ingests derive their contexts from it, so they abort and
	// record their outcome instead of being cut off mid-write.
	life       context.Context
	lifeCancel context.CancelFunc
}

// NewServer builds a server over db. Templates are parsed here, once; a
// template error stops the program at start, not at the first request.
func NewServer(cfg Config, db store.Store, logger *slog.Logger) (*Server, error) {
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = DefaultMaxUpload
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if cfg.UploadTimeout <= 0 {
		cfg.UploadTimeout = DefaultUploadTimeout
	}
	if cfg.MaxUploadFiles <= 0 {
		cfg.MaxUploadFiles = DefaultMaxUploadFiles
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxConcurrentReads == 0 {
		cfg.MaxConcurrentReads = DefaultMaxConcurrentReads()
	}
	if cfg.ReadQueueTimeout <= 0 {
		cfg.ReadQueueTimeout = DefaultReadQueueTimeout
	}
	if cfg.DisplayTZ == nil {
		cfg.DisplayTZ = time.UTC
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, db: db, log: logger}
	s.life, s.lifeCancel = context.WithCancel(context.Background())
	pages, err := parsePages(pageFuncs(cfg.DisplayTZ))
	if err != nil {
		return nil, fmt.Errorf("parse templates: %w", err)
	}
	s.pages = pages
	if s.report, err = parseStandalone(pageFuncs(cfg.DisplayTZ)); err != nil {
		return nil, fmt.Errorf("parse templates: %w", err)
	}
	s.metrics = newMetrics(db)
	s.dash.renders = s.metrics.dashRenders
	s.reads = newAdmission(cfg.MaxConcurrentReads, cfg.ReadQueueTimeout, s.metrics, s.writeError)
	limit := cfg.RateLimit
	if limit == 0 {
		limit = DefaultRateLimit
	}
	s.rateLimit = newRateLimiter(limit, s.writeError)
	s.auth = &access{db: db, noAuth: cfg.NoAuth, fail: s.writeError, unauth: newUnauthLimiter(limit)}
	s.hosts = newHostPolicy(cfg.AllowedHosts, cfg.PublicURL)
	s.live = live.New(db, logger, s.metrics)
	s.live.SetWindow(cfg.AnalysisWindow)
	s.live.SetSaving(s.IsLeader)
	s.intake = intake.New(db, logger, s.metrics)
	sweepStaleSpools(cfg.TempDir, logger)
	s.uploads = &receiver{tempDir: cfg.TempDir, maxFiles: cfg.MaxUploadFiles, intake: s.intake, live: s.live, background: s.goBackground}
	if cfg.Push.enabled() {
		s.push = newPusher(cfg.Push, db, s.live, logger, s.metrics)
	}
	return s, nil
}

// Open listens on cfg.Addr and serves in the background. Listening happens
// before Open returns, so a port in use is reported here.
func (s *Server) Open() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	if s.cfg.MaxConns > 0 {
		ln = newLimitListener(ln, s.cfg.MaxConns)
	}
	if ln, err = listenTLS(ln, s.cfg.TLSCert, s.cfg.TLSKey); err != nil {
		return err
	}
	s.listener = ln
	s.httpSrv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.cfg.UploadTimeout, // large uploads on slow links; other routes shorten it (policy.Handler)
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return s.life },
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "err", err)
		}
	}()
	s.Start()
	return nil
}

// Start starts the server's background work without listening: the live
// analysis its pages are served from, and push. Open calls it; a caller
// serving Handler itself (tests, an embedding program) calls it before
// the first request. Close stops it.
func (s *Server) Start() {
	s.startOnce.Do(func() {
		s.startCluster()
		s.live.Start(s.life)
		if s.push != nil {
			s.goBackground(s.push.run)
		}
	})
}

// URL is the base URL the server listens on.
func (s *Server) URL() string {
	if s.listener == nil {
		return ""
	}
	scheme := "http"
	if s.cfg.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + s.listener.Addr().String()
}

// abortWait bounds how long Close waits for aborted work to record its
// outcome after the grace period.
const abortWait = 10 * time.Second

// Close stops accepting requests and lets in-flight work (uploads, async
// ingests) finish until the ctx deadline. Work still running then is
// cancelled, and Close waits for it to record its outcome (an ingest cut
// short is marked failed, never done) before returning.
func (s *Server) Close(ctx context.Context) error {
	defer s.lifeCancel()
	if s.httpSrv != nil {
		s.httpSrv.Shutdown(ctx) // returns early on ctx expiry; handlers may still run
	}
	if s.push != nil {
		s.push.stop()
	}
	s.stopCluster()
	s.live.Stop()
	done := make(chan struct{})
	go func() {
		s.inflight.Wait()
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.log.Warn("shutdown grace period over: aborting in-flight work")
	s.lifeCancel()
	select {
	case <-done:
		return nil
	case <-time.After(abortWait):
		return errors.New("in-flight work did not stop after being cancelled")
	}
}

// goBackground runs work (an async ingest) on the server's WaitGroup under
// its lifetime, so that Close waits for it and can cancel it.
func (s *Server) goBackground(work func(ctx context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		work(s.life)
	}()
}

// trackInflight counts requests being handled on wg, so Close can wait
// for them.
func trackInflight(wg *sync.WaitGroup) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			wg.Add(1)
			defer wg.Done()
			next.ServeHTTP(w, r)
		})
	}
}
