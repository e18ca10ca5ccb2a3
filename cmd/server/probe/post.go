package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Post sends a result to an idletrace server (POST /api/v1/probes at base,
// with a token of scope ingest) and returns the id it was stored under.
func Post(ctx context.Context, client *http.Client, base, token string, r *Result) (int64, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/api/v1/probes", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusCreated {
		return 0, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var stored struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(b, &stored); err != nil {
		return 0, fmt.Errorf("unexpected answer: %w", err)
	}
	return stored.ID, nil
}
