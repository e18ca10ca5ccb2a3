package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// Handler returns the whole URL space of idletrace in one router.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID)
	r.Use(s.recoverer)
	r.Use(s.requestLogger)
	r.Use(securityHeaders)
	r.Use(http.NewCrossOriginProtection().Handler)

	r.Get("/healthz", s.handleHealthz)
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
		r.Get("/uploads/{uploadID}", s.handleAPIUploadGet) // progress of ?async=1 uploads
		r.Get("/report", s.handleAPIReport)
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
