package player

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// WaitStatus polls http://addr/status until cond returns true or ctx is
// done, and returns the last status it read. It is meant for tests and
// end-to-end checks.
func WaitStatus(ctx context.Context, addr string, cond func(Status) bool) (Status, error) {
	client := &http.Client{Timeout: 2 * time.Second}
	var last Status
	var lastErr error
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := fetchStatus(ctx, client, addr)
		if err == nil {
			last = st
			if cond(st) {
				return st, nil
			}
		}
		lastErr = err
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return last, fmt.Errorf("player: wait for status: %w (last error: %v)", ctx.Err(), lastErr)
			}
			return last, fmt.Errorf("player: wait for status: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

func fetchStatus(ctx context.Context, client *http.Client, addr string) (Status, error) {
	var st Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("status: HTTP %s", resp.Status)
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}
