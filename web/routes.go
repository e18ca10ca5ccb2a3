package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"idletrace/store"
)

// Handler returns the whole URL space of idletrace in one router. Route
// policy sits on the route groups: every route is in a group whose policy
// (route_policy.go) says which scopes it needs (or that it is public) and
// how large a body it takes; the /api/v1 subrouter and /metrics answer
// errors in JSON. A test walks every route and fails on one without a
// policy.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(trackInflight(&s.inflight))
	r.Use(middleware.RequestID)
	r.Use(middleware.GetHead) // HEAD works wherever GET does (probes, link checkers)
	r.Use(s.metrics.instrument)
	r.Use(errorStyle)
	r.Use(recoverer(s.log, s.writeError))
	r.Use(requestLogger(s.log))
	r.Use(securityHeaders)
	r.Use(s.hostGuard) // DNS rebinding (hosts.go)
	r.Use(s.crossOriginProtection().Handler)

	// Reads wait for a slot (admission.go), so that under load they leave
	// CPU to the analysis and the ingests; readNow is for the reads that
	// must not: /metrics (scraped to see the load) and streams (a slow
	// client would hold the slot as long as it reads).
	read, ingest := s.requireScope(store.ScopeRead).queued(), s.requireScope(store.ScopeIngest)
	readNow := s.requireScope(store.ScopeRead)
	uploads := ingest.withBody(s.cfg.MaxUpload)

	// Public: probes, static files, login and logout.
	r.With(s.public().Handler).Group(func(r chi.Router) {
		r.Get("/healthz", handleHealthz)
		r.Get("/readyz", s.handleReadyz)
		r.Get("/login", s.handleLoginPage)
		r.Post("/login", s.handleLogin)
		r.Get("/logout", s.handleLogoutPage)
		r.Post("/logout", s.handleLogout)
		r.Handle("/static/*", staticHandler())
	})
	r.With(jsonErrors, readNow.Handler).Method(http.MethodGet, "/metrics", s.metrics.handler())

	// Pages: each says its policy (read), as the API groups do.
	r.With(read.Handler).Get("/", s.handleDashboard)
	r.With(read.Handler).Get("/upload", s.handleUploadPage)
	r.With(read.Handler).Get("/uploads", s.handleUploadList)
	r.With(read.Handler).Get("/uploads/{uploadID}", s.handleUploadDetail)
	r.With(read.Handler).Get("/diagnoses/{diagnosisID}", s.handleDiagnosisDetail)
	// Evidence a change request carries (page_report.go), changes (page_changes.go).
	r.With(read.Handler).Get("/diagnoses/{diagnosisID}/report", s.handleDiagnosisReport)
	r.With(readNow.Handler).Get("/diagnoses/{diagnosisID}/evidence.csv", s.handleDiagnosisEvidenceCSV) // streamed
	r.With(read.Handler).Get("/diagnoses/{diagnosisID}/chart.svg", s.handleDiagnosisChart)
	r.With(read.Handler).Get("/changes", s.handleChangesPage)
	r.With(read.Handler).Get("/changes/{changeID}", s.handleChangePage)
	r.With(ingest.Handler).Post("/changes", s.handleChangeForm)
	r.With(ingest.Handler).Post("/uploads/{uploadID}/delete", s.handleUploadDeleteForm)
	r.With(ingest.Handler).Post("/demo/remove", s.handleDemoRemove)
	r.With(read.Handler).Get("/computers", s.handleComputers)
	r.With(read.Handler).Get("/computers/{name}", s.handleComputer)
	r.With(read.Handler).Get("/events", s.handleEvents)
	r.With(read.Handler).Get("/api", s.handleAPIDocs)
	r.With(s.requireScope(store.ScopeRead, store.ScopeIngest).Handler).Post("/display-zone", s.handleDisplayZone) // the browser's display zone (page_zone.go)
	r.With(read.Handler).Get("/intervals", s.handleIntervals)                                                     // the drill-down by uptime (page_intervals.go)
	r.With(read.Handler).Get("/upload/headline", s.handleUploadHeadline)
	r.With(uploads.Handler).Post("/upload", s.handleUploadForm)
	r.With(s.requireScope(store.ScopeAdmin).Handler).Post("/demo", s.handleDemo) // never into real data (demo.go)

	// REST API.
	r.Route("/api/v1", func(r chi.Router) {
		r.Use(jsonErrors)
		r.With(uploads.Handler).Group(func(r chi.Router) {
			r.Post("/uploads", s.handleAPIUploadCreate)
			r.Post("/events", s.handleAPIAgentEvents) // agents and shippers (api_agent.go)
		})
		// Taking data back, recording changes (api_takeback.go, api_changes.go).
		r.With(ingest.Handler).Delete("/uploads/{uploadID}", s.handleAPIUploadDelete)
		r.With(ingest.Handler).Post("/changes", s.handleAPIChangeCreate)
		r.With(read.Handler).Get("/changes/{changeID}", s.handleAPIChange)
		// An agent that uploads with ?async=1 may follow its upload.
		r.With(s.requireScope(store.ScopeIngest, store.ScopeRead).Handler).Get("/uploads/{uploadID}", s.handleAPIUploadGet)
		r.With(ingest.withBody(maxProbeBody).Handler).Post("/probes", s.handleAPIProbeCreate) // server probe --post (api_probes.go)
		r.With(read.Handler).Group(func(r chi.Router) {
			// The analysis (package live), whole or for ?since=&until=.
			r.Get("/report", s.handleAPIReport)
			r.Get("/computers", s.handleAPIComputers)
			r.Get("/computers/{name}", s.handleAPIComputer)
			r.Get("/pairs", s.handleAPIPairs)
			r.Get("/diagnoses", s.handleAPIDiagnoses)
			r.Get("/diagnoses/{diagnosisID}", s.handleAPIDiagnosis)
			r.Get("/probes", s.handleAPIProbes)
			// What is stored, and the document.
			r.Get("/events", s.handleAPIEventList)
			r.Get("/openapi.json", handleOpenAPI)
		})
		r.With(readNow.Handler).Get("/export", s.handleAPIExport) // streamed
		r.With(s.requireScope(store.ScopeAdmin).Handler).Group(func(r chi.Router) {
			r.Get("/tokens", s.handleAPITokens)
			r.Post("/tokens", s.handleAPITokenCreate)
			r.Delete("/tokens/{tokenID}", s.handleAPITokenRevoke)
		})
	})

	// Anything else is refused like a route would be (deny by default:
	// reading needs read, anything else ingest) before it is a 404 or 405.
	fallback := s.requireScope().Handler
	r.NotFound(fallback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errNotFound("no such page"))
	})).ServeHTTP)
	r.MethodNotAllowed(fallback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, &apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed", msg: "method not allowed"})
	})).ServeHTTP)
	return r
}

func handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
