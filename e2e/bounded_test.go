package e2e_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rssKB reads a process's resident set size from /proc.
func rssKB(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("server process gone: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

type apiClient struct {
	t     *testing.T
	base  string
	token string
}

func (a apiClient) do(method, path string, body, out any) int {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode
}

// TestMonthOfShortItemsStaysBounded: a viewer asking a month of timeline
// over a playlist of the shortest items the API accepts gets a bounded
// page quickly; many at once leave the real `beacon serve` process up and
// its RSS grows by less than 50 MB. (A month of 1 ms text items once made
// the server map 406 GB and die: such items are now refused.)
func TestMonthOfShortItemsStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	beacon, _ := buildBinaries(t)
	data := t.TempDir()
	if out, err := exec.Command(beacon, "demo", "--data", data, "--player-data", filepath.Join(data, "player")).CombinedOutput(); err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	tok, err := exec.Command(beacon, "token", "create", "--data", data, "--role", "admin", "--name", "ci").Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	addr := freeAddr(t)
	srv := start(t, beacon, "serve", "--data", data, "--listen", addr)
	waitHTTP(t, "http://"+addr+"/healthz")
	api := apiClient{t: t, base: "http://" + addr + "/api/v1", token: strings.TrimSpace(string(tok))}

	var ds struct{ Displays []struct{ ID string } }
	if code := api.do("GET", "/displays", nil, &ds); code != 200 || len(ds.Displays) != 1 {
		t.Fatalf("displays: %d %v", code, ds)
	}
	displayID := ds.Displays[0].ID

	// The old attack is refused where it starts.
	if code := api.do("POST", "/items", map[string]any{"kind": "text", "duration_s": 0.001, "variants": map[string]any{"vi": map[string]string{"text": "x"}}}, nil); code != 400 {
		t.Fatalf("1 ms item: %d, want 400", code)
	}
	// The shortest items allowed: 1 s, in a main zone and a ticker, all day.
	var entries []map[string]any
	for i := 0; i < 200; i++ {
		var it struct{ ID string }
		if code := api.do("POST", "/items", map[string]any{"kind": "text", "duration_s": 1, "variants": map[string]any{"vi": map[string]string{"text": fmt.Sprint("tick ", i)}}}, &it); code != 201 {
			t.Fatalf("item: %d", code)
		}
		entries = append(entries, map[string]any{"item_id": it.ID})
	}
	var pl, cl, lay struct{ ID string }
	api.do("POST", "/playlists", map[string]any{"name": "Ticks", "items": entries}, &pl)
	api.do("POST", "/clusters", map[string]any{"name": "All day", "hours": []map[string]string{{"start": "00:00", "end": "00:00"}}}, &cl)
	if code := api.do("PATCH", "/displays/"+displayID, map[string]any{"cluster_id": cl.ID}, nil); code != 200 {
		t.Fatalf("patch: %d", code)
	}
	api.do("POST", "/layouts", map[string]any{"name": "Two", "zones": []map[string]any{
		{"id": "main", "x": 0, "y": 0, "w": 100, "h": 80}, {"id": "ticker", "x": 0, "y": 80, "w": 100, "h": 20}}}, &lay)
	if code := api.do("POST", "/schedules", map[string]any{"priority": 9, "target": map[string]any{"display_ids": []string{displayID}},
		"content": map[string]any{"layout_id": lay.ID, "zones": map[string]string{"main": pl.ID, "ticker": pl.ID}}}, nil); code != 201 {
		t.Fatalf("schedule: %d", code)
	}

	month := url.Values{"from": {"2026-09-01T00:00:00+07:00"}, "to": {"2026-10-02T00:00:00+07:00"}}
	path := "/displays/" + displayID + "/timeline?"
	api.do("GET", path+month.Encode(), nil, nil) // warm up
	pid := srv.cmd.Process.Pid
	base := rssKB(t, pid)

	type page struct {
		Plays      []json.RawMessage
		NextCursor string `json:"next_cursor"`
	}
	start := time.Now()
	var first page
	if code := api.do("GET", path+month.Encode(), nil, &first); code != 200 {
		t.Fatalf("month: %d", code)
	}
	firstTook := time.Since(start)
	if len(first.Plays) != 1000 || first.NextCursor == "" {
		t.Fatalf("month: %d plays, cursor %q: want the default page of 1000 and a cursor", len(first.Plays), first.NextCursor)
	}
	if code := api.do("GET", path+"from=2026-09-01T00:00:00Z&to=2026-11-01T00:00:00Z", nil, nil); code != 400 {
		t.Fatalf("two months: %d, want 400", code)
	}
	if code := api.do("GET", path+month.Encode()+"&limit=1000000", nil, nil); code != 400 {
		t.Fatalf("a million plays: %d, want 400", code)
	}

	// Four viewers at once, each walking pages of the largest size.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	plays := 0
	for v := 0; v < 4; v++ {
		wg.Add(1)
		go func(v int) {
			defer wg.Done()
			q := url.Values{"from": {fmt.Sprintf("2026-09-%02dT00:00:00+07:00", 1+v)}, "to": {fmt.Sprintf("2026-10-%02dT00:00:00+07:00", 1+v)}, "limit": {"10000"}}
			for p := 0; p < 10; p++ {
				t0 := time.Now()
				var pg page
				if code := api.do("GET", path+q.Encode(), nil, &pg); code != 200 {
					t.Errorf("viewer %d page %d: %d", v, p, code)
					return
				}
				mu.Lock()
				slowest = max(slowest, time.Since(t0))
				plays += len(pg.Plays)
				mu.Unlock()
				if pg.NextCursor == "" {
					t.Errorf("viewer %d: a month of 1 s items ended after %d pages", v, p+1)
					return
				}
				q = url.Values{"cursor": {pg.NextCursor}, "limit": {"10000"}}
			}
		}(v)
	}
	wg.Wait()
	if code := api.do("GET", "/displays", nil, nil); code != 200 {
		t.Fatalf("server not answering after the viewers: %d", code)
	}
	grown := rssKB(t, pid) - base
	t.Logf("first page of a month: %v; 40 pages of 10000 plays (%d plays), slowest %v; RSS %d kB → grew %d kB", firstTook, plays, slowest, base, grown)
	if grown > 50*1024 {
		t.Fatalf("RSS grew by %d kB (over 50 MB)", grown)
	}
	if firstTook > 10*time.Second || slowest > 30*time.Second {
		t.Fatalf("too slow: first page %v, slowest page %v", firstTook, slowest)
	}
	if srv.cmd.ProcessState != nil {
		t.Fatal("server exited")
	}
}
