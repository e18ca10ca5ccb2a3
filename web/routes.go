package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// Handler returns the whole URL space of idletrace in one router.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(s.trackInflight)
	r.Use(middleware.RequestID)
	r.Use(middleware.GetHead) // HEAD works wherever GET does (probes, link checkers)
	r.Use(s.metrics.instrument)
	r.Use(s.recoverer)
	r.Use(s.requestLogger)
	r.Use(securityHeaders)
	r.Use(http.NewCrossOriginProtection().Handler)
	r.Use(s.bodyLimits)
	r.Use(s.authenticate) // every route but /healthz, /readyz, /static, /login, /logout
	r.Use(s.rateLimit)
	r.Use(s.trackWrites) // read-your-writes for the cached analysis (report.go)

	r.Get("/healthz", s.handleHealthz)
	r.Get("/readyz", s.handleReadyz)
	r.Method(http.MethodGet, "/metrics", s.metrics.handler())
	r.Get("/login", s.handleLoginPage)
	r.Post("/login", s.handleLogin)
	r.Get("/logout", s.handleLogoutPage)
	r.Post("/logout", s.handleLogout)
	r.Handle("/static/*", staticHandler())

	// Pages.
	r.Get("/", s.handleDashboard)
	r.Get("/upload", s.handleUploadPage)
	r.Post("/upload", s.handleUploadForm)
	r.Get("/uploads", s.handleUploadList)
	r.Get("/uploads/{uploadID}", s.handleUploadDetail)
	r.Get("/diagnoses/{diagnosisID}", s.handleDiagnosisDetail)
	r.Get("/computers", s.handleComputers)
	r.Get("/computers/{name}", s.handleComputer)
	r.Get("/events", s.handleEvents)
	r.Get("/api", s.handleAPIDocs)
	r.Post("/demo", s.handleDemo)

	// REST API.
	r.Route("/api/v1", func(r chi.Router) {
		r.Post("/uploads", s.handleAPIUploadCreate)
		r.Post("/events", s.handleAPIAgentEvents)          // agents and shippers (api_agent.go)
		r.Get("/uploads/{uploadID}", s.handleAPIUploadGet) // progress of ?async=1 uploads
		r.Get("/report", s.handleAPIReportV1)
		r.Get("/events", s.handleAPIEventList)
		r.Get("/computers", s.handleAPIComputers)
		r.Get("/computers/{name}", s.handleAPIComputer)
		r.Get("/pairs", s.handleAPIPairs)
		r.Get("/diagnoses", s.handleAPIDiagnoses)
		r.Get("/diagnoses/{diagnosisID}", s.handleAPIDiagnosis)
		r.Get("/export", s.handleAPIExport)
		r.Get("/openapi.json", s.handleOpenAPI)
		r.Get("/tokens", s.handleAPITokens)
		r.Post("/tokens", s.handleAPITokenCreate)
		r.Delete("/tokens/{tokenID}", s.handleAPITokenRevoke)
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) { s.writeError(w, r, errNotFound("no such page")) })
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, &apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed", msg: "method not allowed"})
	})
	return r
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
