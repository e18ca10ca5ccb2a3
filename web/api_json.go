package web

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
)

// JSON request body limits for the API's own small JSON bodies.
const (
	maxJSONBody  = 64 << 10
	maxJSONDepth = 32
)

// decodeJSONBody reads a JSON object body of at most maxBytes and maxDepth
// nesting into v, refusing unknown fields: 413 over the size, 415 for
// another media type, 400 for anything malformed.
func decodeJSONBody(w http.ResponseWriter, r *http.Request, v any, maxBytes int64, maxDepth int) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return &apiError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type", msg: "send the body as application/json"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		return err // *http.MaxBytesError → 413
	}
	if err := checkJSONDepth(body, maxDepth); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errBadRequest("bad JSON body: %v", err)
	}
	if dec.More() {
		return errBadRequest("bad JSON body: more than one value")
	}
	return nil
}

// checkJSONDepth refuses JSON nested deeper than max arrays and objects,
// before a decoder spends time and stack on it. It only counts brackets
// outside strings; the decoder checks the rest.
func checkJSONDepth(b []byte, max int) error {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			if depth > max {
				return errJSONDepth
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}

var errJSONDepth = &apiError{status: http.StatusBadRequest, code: "too_deep", msg: "JSON nested too deeply"}
