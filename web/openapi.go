package web

import (
	_ "embed"
	"net/http"
)

// openAPIDoc is the API's OpenAPI 3.1 document, written by hand. The web
// tests keep it true: every API route must be in it, and real responses
// are validated against its schemas.
//
//go:embed openapi.json
var openAPIDoc []byte

// handleOpenAPI serves GET /api/v1/openapi.json.
func handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPIDoc)
}
