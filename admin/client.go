package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/shardgate/shardgate/ha"
)

// Reparent asks the proxy whose HTTP address is server (host:port, or a
// URL) for a planned switch of a shard's primary, logging in as an admin
// user, and returns the recovery record (`shardgate reparent`).
func Reparent(ctx context.Context, server, user, password string, req ReparentRequest) (*ha.Recovery, error) {
	body, _ := json.Marshal(req)
	u := server
	if !strings.Contains(u, "://") {
		u = "http://" + u
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(u, "/")+"/api/reparent", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set(CSRFHeader, "1")
	hr.SetBasicAuth(user, password)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusInternalServerError {
		var rec ha.Recovery
		if err := json.Unmarshal(data, &rec); err == nil && rec.ID != "" {
			if resp.StatusCode != http.StatusOK {
				return &rec, fmt.Errorf("the switch failed: %s", rec.Error)
			}
			return &rec, nil
		}
	}
	var e struct{ Error string }
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return nil, fmt.Errorf("%s: %s", resp.Status, e.Error)
	}
	return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(data)))
}
