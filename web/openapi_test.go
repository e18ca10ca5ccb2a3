package web_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"idletrace/web"
)

// openAPIDoc is the parts of the OpenAPI document the test reads.
type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas   map[string]any `json:"schemas"`
		Responses map[string]any `json:"responses"`
	} `json:"components"`
}

type openAPIOp struct {
	Responses map[string]map[string]any `json:"responses"`
}

func loadOpenAPI(t *testing.T, c *client) *openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	c.getJSON("/api/v1/openapi.json", &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	return &doc
}

// responseSchema returns the JSON schema of op's response for status.
func (d *openAPIDoc) responseSchema(t *testing.T, path, method string, status int) any {
	t.Helper()
	raw, ok := d.Paths[path][strings.ToLower(method)]
	if !ok {
		t.Fatalf("%s %s is not documented", method, path)
	}
	var op openAPIOp
	if err := json.Unmarshal(raw, &op); err != nil {
		t.Fatal(err)
	}
	resp, ok := op.Responses[strconv.Itoa(status)]
	if !ok {
		t.Fatalf("%s %s: status %d is not documented", method, path, status)
	}
	if ref, ok := resp["$ref"].(string); ok {
		resp = d.Components.Responses[strings.TrimPrefix(ref, "#/components/responses/")].(map[string]any)
	}
	content, _ := resp["content"].(map[string]any)
	mt, _ := content["application/json"].(map[string]any)
	if mt == nil {
		return nil
	}
	return mt["schema"]
}

// validate checks v against schema: the subset of JSON Schema the document
// uses (type, with "null" in type lists; properties, required,
// additionalProperties: false; items; enum; minimum/maximum; minLength/
// maxLength; format date-time, which must be RFC 3339 UTC; $ref).
func (d *openAPIDoc) validate(schema any, v any, at string) error {
	s, ok := schema.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: bad schema %v", at, schema)
	}
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		sub, ok := d.Components.Schemas[name]
		if !ok {
			return fmt.Errorf("%s: unknown $ref %s", at, ref)
		}
		return d.validate(sub, v, at)
	}
	if t, ok := s["type"]; ok {
		var types []string
		switch t := t.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				types = append(types, x.(string))
			}
		}
		match := false
		for _, ty := range types {
			match = match || jsonType(v, ty)
		}
		if !match {
			return fmt.Errorf("%s: %T (%v) is not %v", at, v, v, types)
		}
	}
	if v == nil {
		return nil
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			found = found || e == v
		}
		if !found {
			return fmt.Errorf("%s: %v not in %v", at, v, enum)
		}
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for _, r := range asStrings(s["required"]) {
			if _, ok := v[r]; !ok {
				return fmt.Errorf("%s: lacks required %q", at, r)
			}
		}
		for k, x := range v {
			ps, ok := props[k]
			if !ok {
				if ap, ok := s["additionalProperties"].(bool); ok && !ap {
					return fmt.Errorf("%s: undocumented property %q", at, k)
				}
				continue
			}
			if err := d.validate(ps, x, at+"."+k); err != nil {
				return err
			}
		}
	case []any:
		if items, ok := s["items"]; ok {
			for i, x := range v {
				if err := d.validate(items, x, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	case float64:
		if m, ok := s["minimum"].(float64); ok && v < m {
			return fmt.Errorf("%s: %v < minimum %v", at, v, m)
		}
		if m, ok := s["maximum"].(float64); ok && v > m {
			return fmt.Errorf("%s: %v > maximum %v", at, v, m)
		}
	case string:
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil || !strings.HasSuffix(v, "Z") {
				return fmt.Errorf("%s: %q is not an RFC 3339 UTC time", at, v)
			}
		}
		if m, ok := s["minLength"].(float64); ok && float64(len(v)) < m {
			return fmt.Errorf("%s: too short", at)
		}
		if m, ok := s["maxLength"].(float64); ok && float64(len(v)) > m {
			return fmt.Errorf("%s: too long", at)
		}
	}
	return nil
}

func jsonType(v any, ty string) bool {
	switch ty {
	case "null":
		return v == nil
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == float64(int64(f))
	}
	return false
}

func asStrings(v any) []string {
	var out []string
	if xs, ok := v.([]any); ok {
		for _, x := range xs {
			out = append(out, x.(string))
		}
	}
	return out
}

// TestOpenAPIDocument: every API route is documented and every documented
// path is a route; real responses, errors included, match the schemas.
func TestOpenAPIDocument(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	seedFleet(t, ts.db)
	admin := newClient(t, ts.URL, mustToken(t, ts.db, "admin", "admin"))
	doc := loadOpenAPI(t, admin)

	routes := map[string]bool{}
	for _, rt := range routeList(t, ts.db) {
		method, route := rt[0], rt[1]
		if !strings.HasPrefix(route, "/api/v1/") && route != "/healthz" && route != "/readyz" && route != "/metrics" {
			continue // pages (and /api, the docs page) are not the REST API
		}
		routes[method+" "+route] = true
		if _, ok := doc.Paths[route][strings.ToLower(method)]; !ok {
			t.Errorf("route %s %s is not in openapi.json", method, route)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if !routes[strings.ToUpper(method)+" "+path] {
				t.Errorf("openapi.json documents %s %s, which is no route", method, path)
			}
		}
	}

	var diag struct{ Items []struct{ ID string } }
	admin.getJSON("/api/v1/diagnoses", &diag)
	reader := newClient(t, ts.URL, mustToken(t, ts.db, "reader", "read"))
	cases := []struct {
		client *client
		method string
		path   string // documented path
		url    string
		status int
		body   string
	}{
		{admin, "GET", "/healthz", "/healthz", 200, ""},
		{admin, "GET", "/readyz", "/readyz", 200, ""},
		{admin, "GET", "/api/v1/report", "/api/v1/report", 200, ""},
		{admin, "GET", "/api/v1/report", "/api/v1/report?since=2024-05-02T09:00:00Z", 200, ""},
		{admin, "GET", "/api/v1/events", "/api/v1/events?limit=50", 200, ""},
		{admin, "GET", "/api/v1/events", "/api/v1/events?limit=5&kind=reconnect&computer=HQ-PC01.corp.example", 200, ""},
		{admin, "GET", "/api/v1/events", "/api/v1/events?since=x", 400, ""},
		{admin, "GET", "/api/v1/computers", "/api/v1/computers", 200, ""},
		{admin, "GET", "/api/v1/computers/{name}", "/api/v1/computers/HQ-PC01.corp.example", 200, ""},
		{admin, "GET", "/api/v1/computers/{name}", "/api/v1/computers/nobody", 404, ""},
		{admin, "GET", "/api/v1/pairs", "/api/v1/pairs?limit=30", 200, ""},
		{admin, "GET", "/api/v1/diagnoses", "/api/v1/diagnoses", 200, ""},
		{admin, "GET", "/api/v1/diagnoses/{diagnosisID}", "/api/v1/diagnoses/" + url.PathEscape(diag.Items[0].ID), 200, ""},
		{admin, "GET", "/api/v1/diagnoses/{diagnosisID}", "/api/v1/diagnoses/none", 404, ""},
		{admin, "GET", "/api/v1/tokens", "/api/v1/tokens", 200, ""},
		{admin, "POST", "/api/v1/tokens", "/api/v1/tokens", 201, `{"name":"doc","scope":"ingest"}`},
		{admin, "DELETE", "/api/v1/tokens/{tokenID}", "/api/v1/tokens/doc", 200, ""},
		{admin, "DELETE", "/api/v1/tokens/{tokenID}", "/api/v1/tokens/999", 404, ""},
		{reader, "GET", "/api/v1/tokens", "/api/v1/tokens", 403, ""},
		{newClient(t, ts.URL, ""), "GET", "/api/v1/events", "/api/v1/events", 401, ""},
		{newClient(t, ts.URL, "itk_nope"), "GET", "/api/v1/pairs", "/api/v1/pairs", 401, ""},
	}
	for _, tc := range cases {
		var hdr map[string]string
		var body *strings.Reader
		if tc.body != "" {
			body, hdr = strings.NewReader(tc.body), map[string]string{"Content-Type": "application/json"}
		} else {
			body = strings.NewReader("")
		}
		resp, b := tc.client.do(tc.method, tc.url, body, hdr)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d: %s", tc.method, tc.url, resp.StatusCode, tc.status, b)
			continue
		}
		schema := doc.responseSchema(t, tc.path, tc.method, tc.status)
		if schema == nil {
			t.Errorf("%s %s %d: no JSON schema", tc.method, tc.path, tc.status)
			continue
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Errorf("%s %s: %v", tc.method, tc.url, err)
			continue
		}
		if err := doc.validate(schema, v, tc.method+" "+tc.url); err != nil {
			t.Error(err)
		}
	}

	// Every $ref resolves.
	raw, _ := json.Marshal(doc)
	refs := regexp.MustCompile(`"#/components/(schemas|responses)/([A-Za-z]+)"`).FindAllStringSubmatch(string(raw), -1)
	var missing []string
	for _, m := range refs {
		if (m[1] == "schemas" && doc.Components.Schemas[m[2]] == nil) || (m[1] == "responses" && doc.Components.Responses[m[2]] == nil) {
			missing = append(missing, m[0])
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("unresolved refs: %v", missing)
	}
}
