package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"beacon/media/corpus"
	"beacon/media/native"
	"beacon/server/servertest"
)

// TestStillPicturesThroughTheServer uploads the still-picture corpus (phone
// HEICs, AVIFs, Ultra HDR and CMYK JPEGs, a 200-megapixel JPEG, unusual BMPs
// and TIFFs, and damaged, unsupported and oversized files) to a real server
// with a media worker: each accepted file becomes a ready image item of its
// displayed size (never a video), each refused one gets its kind of
// message, the server answers throughout, and its peak memory stays
// bounded.
func TestStillPicturesThroughTheServer(t *testing.T) {
	if !native.Available {
		t.Skip("built without cgo")
	}
	s := servertest.Start(t, servertest.Options{MediaWorker: servertest.Worker()})
	cases, skipped := corpus.Build(t, t.TempDir(), !testing.Short())
	for _, sk := range skipped {
		t.Logf("skipped: %s", sk)
	}
	for _, c := range cases {
		data, err := os.ReadFile(c.Path)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(c.Path)
		var raw json.RawMessage
		code := s.Upload(name, data, &raw)
		switch c.Want {
		case corpus.Ready:
			var got struct {
				ID          string `json:"id"`
				Kind        string `json:"kind"`
				ContentType string `json:"content_type"`
				Width       int    `json:"width"`
				Height      int    `json:"height"`
			}
			if code != 201 || json.Unmarshal(raw, &got) != nil {
				t.Errorf("%s: upload %d %s", c.Name, code, raw)
				continue
			}
			if got.Kind != "image" || got.Width != c.Width || got.Height != c.Height || !strings.HasPrefix(got.ContentType, "image/") {
				t.Errorf("%s: item %+v, want an image of %d×%d", c.Name, got, c.Width, c.Height)
			}
			servertest.Eventually(t, 3*time.Minute, c.Name+" ready", func() bool {
				var m servertest.Media
				s.Do("GET", "/api/v1/media/"+got.ID, nil, &m)
				if m.Status == "failed" {
					t.Fatalf("%s: failed: %s", c.Name, m.Error)
				}
				return m.Status == "ready"
			})
		default:
			var e servertest.APIError
			_ = json.Unmarshal(raw, &e)
			wantStatus, wantCode := 422, "corrupt_media"
			switch c.Want {
			case corpus.TooLarge:
				wantCode = "image_too_large"
			case corpus.Unsupported:
				wantStatus, wantCode = 415, "unsupported_media"
			}
			msg := strings.TrimPrefix(e.Error.Message, name+": ")
			if code != wantStatus || e.Error.Code != wantCode || !strings.HasPrefix(msg, c.Want) || !strings.Contains(msg, c.Message) {
				t.Errorf("%s: got %d %s, want %d %s with a message starting %q", c.Name, code, raw, wantStatus, wantCode, c.Want)
			}
			t.Logf("%s: a content manager reads %q", c.Name, e.Error.Message)
		}
		resp, err := http.Get(s.URL + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("after %s the server does not answer: %v", c.Name, err)
		}
		resp.Body.Close()
	}
	// Refused files left no item behind; a HEIC or AVIF never became video.
	var list struct {
		Media []struct{ Filename, Kind, Status string }
	}
	s.Do("GET", "/api/v1/media?limit=200", nil, &list)
	ready := 0
	for _, c := range cases {
		if c.Want == corpus.Ready {
			ready++
		}
	}
	if len(list.Media) != ready {
		t.Errorf("%d media items, want %d (one per accepted file)", len(list.Media), ready)
	}
	for _, m := range list.Media {
		if m.Kind != "image" {
			t.Errorf("%s became a %s item", m.Filename, m.Kind)
		}
	}
	peak := vmHWM(t)
	fmt.Printf("stills server_peak_rss_mb=%d files=%d\n", peak>>20, len(cases))
	// The 200-megapixel JPEG is decoded at half size (75 MB of planes);
	// the whole process, test binary and corpus included, stays far below
	// what decoding it in full (600 MB of RGB, more in Go's decoder) costs.
	if peak > 900<<20 {
		t.Errorf("peak RSS %d MB, want under 900 MB", peak>>20)
	}
}

// vmHWM reads this process's peak resident memory from /proc.
func vmHWM(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc: cannot read peak memory")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}
