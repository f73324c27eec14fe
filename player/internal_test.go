package player

import (
	"slices"
	"testing"
	"time"

	"beacon/protocol"
)

func TestBackoffFullJitter(t *testing.T) {
	base, max := 100*time.Millisecond, 2*time.Second
	for attempt := 0; attempt < 40; attempt++ {
		ceil := min(max, base<<min(attempt, 30))
		var hi time.Duration
		for i := 0; i < 200; i++ {
			d := backoff(base, max, attempt)
			if d < 0 || d >= ceil {
				t.Fatalf("attempt %d: %v outside [0, %v)", attempt, d, ceil)
			}
			hi = max2(hi, d)
		}
		if hi < ceil/2 {
			t.Errorf("attempt %d: jitter never reached half the cap (%v of %v)", attempt, hi, ceil)
		}
	}
}

func max2(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

func TestParseWindow(t *testing.T) {
	w, err := parseWindow("1920x1080+1920+0")
	if err != nil || w != (window{W: 1920, H: 1080, X: 1920, Y: 0, HasPos: true}) {
		t.Errorf("got %+v, %v", w, err)
	}
	if w, err := parseWindow("640x360"); err != nil || w.HasPos {
		t.Errorf("got %+v, %v", w, err)
	}
	for _, bad := range []string{"", "x", "0x10", "10x10+5", "10*10"} {
		if _, err := parseWindow(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestServerURLs(t *testing.T) {
	cases := map[string][2]string{
		"http://h:8080":     {"http://h:8080", "ws://h:8080/player/v1/ws"},
		"https://h/beacon/": {"https://h/beacon", "wss://h/beacon/player/v1/ws"},
		"wss://h":           {"https://h", "wss://h/player/v1/ws"},
	}
	for in, want := range cases {
		base, ws, err := parseServerURL(in)
		if err != nil || base.String() != want[0] || ws != want[1] {
			t.Errorf("%s: %v %s %v", in, base, ws, err)
		}
	}
	for _, bad := range []string{"", "ftp://h", "h:80", "/path"} {
		if _, _, err := parseServerURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	p := &Player{}
	p.serverURL, _, _ = parseServerURL("https://h/beacon")
	for in, want := range map[string]struct {
		url   string
		token bool
	}{
		"/player/v1/files/ab":   {"https://h/beacon/player/v1/files/ab", true},
		"https://h/beacon/x":    {"https://h/beacon/x", true},
		"https://cdn.example/x": {"https://cdn.example/x", false},
		"//evil.example/x":      {"https://evil.example/x", false},
		"file:///etc/passwd":    {"", false},
	} {
		u, tok := p.fileURL(protocol.File{URL: in})
		if u != want.url || tok != want.token {
			t.Errorf("fileURL(%q) = %q, %v", in, u, tok)
		}
	}
}

func TestChromiumArgs(t *testing.T) {
	p := &Player{cfg: Config{DataDir: "/d", Window: "1280x720+10+20"}, addr: "0.0.0.0:7433"}
	args := p.chromiumArgs()
	for _, want := range []string{"--kiosk", "--app=http://127.0.0.1:7433/", "--no-first-run", "--window-size=1280,720", "--window-position=10,20", "--user-data-dir=/d/chromium"} {
		if !slices.Contains(args, want) {
			t.Errorf("missing %s in %q", want, args)
		}
	}
	if slices.Contains(args, "--no-sandbox") {
		t.Errorf("kiosk browser args have --no-sandbox: %q", args)
	}
}

func TestParseCacheBudget(t *testing.T) {
	for _, c := range []struct {
		in      string
		bytes   int64
		percent float64
	}{
		{"2000000", 2000000, 0}, {"500MB", 500e6, 0}, {"2GiB", 2 << 30, 0}, {"10G", 10 << 30, 0}, {"1.5 GB", 1.5e9, 0},
		{"40%", 0, 40}, {"100%", 0, 100}, {"512KiB", 512 << 10, 0},
	} {
		b, p, err := ParseCacheBudget(c.in)
		if err != nil || b != c.bytes || p != c.percent {
			t.Errorf("ParseCacheBudget(%q) = %d, %v, %v; want %d, %v", c.in, b, p, err, c.bytes, c.percent)
		}
	}
	for _, in := range []string{"", "0", "-5", "0%", "101%", "lots", "5XB", "NaN", "1e30GB"} {
		if _, _, err := ParseCacheBudget(in); err == nil {
			t.Errorf("ParseCacheBudget(%q) accepted", in)
		}
	}
}
