package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"image/color"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"beacon/server/servertest"
)

func needFFmpeg(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("the ffmpeg command line makes the test inputs: apt-get install ffmpeg")
	}
	return p
}

// makeClip writes a test-pattern video with a tone.
func makeClip(t *testing.T, name string, seconds int, size string, extra ...string) []byte {
	t.Helper()
	ff := needFFmpeg(t)
	out := filepath.Join(t.TempDir(), name)
	args := []string{"-v", "error", "-f", "lavfi", "-i", "testsrc2=size=" + size + ":rate=30", "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000",
		"-t", strconv.Itoa(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"}
	args = append(args, extra...)
	args = append(args, out)
	if b, err := exec.Command(ff, args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type jobJSON struct {
	ID       string  `json:"id"`
	Status   string  `json:"status"`
	Progress float64 `json:"progress"`
	Error    string  `json:"error"`
	MediaID  string  `json:"media_id"`
}

func jobsOf(s *servertest.Server, mediaID string) []jobJSON {
	var list struct{ Jobs []jobJSON }
	s.Do("GET", "/api/v1/jobs?media_id="+mediaID, nil, &list)
	return list.Jobs
}

// TestVideoUploadTranscodesForEachPanel: a video upload is probed, queued,
// transcoded by the worker for the paired display's panel, and only then
// listed in its manifest.
func TestVideoUploadTranscodesForEachPanel(t *testing.T) {
	s := servertest.Start(t, servertest.Options{MediaWorker: servertest.Worker()})
	p, displayID := pairRaw(t, s, "LED wall")
	clip := makeClip(t, "clip.mp4", 2, "640x360")
	var m servertest.Media
	if code := s.Upload("clip.mp4", clip, &m); code != 201 {
		t.Fatalf("upload: %d", code)
	}
	var pl struct{ ID string }
	s.Do("POST", "/api/v1/playlists", map[string]any{"name": "Video", "items": []map[string]any{{"media_id": m.ID}}}, &pl)
	s.Do("POST", "/api/v1/schedules", map[string]any{"display_id": displayID, "playlist_id": pl.ID}, nil)

	servertest.Eventually(t, 90*time.Second, "transcode job done", func() bool {
		js := jobsOf(s, m.ID)
		if len(js) > 0 && js[0].Status == "failed" {
			t.Fatalf("job failed: %s", js[0].Error)
		}
		return len(js) > 0 && js[0].Status == "done" && js[0].Progress == 100
	})
	var got struct {
		Kind       string
		Status     string
		DurationS  float64 `json:"duration_s"`
		Renditions []struct {
			Profile       string
			Width, Height int
			SHA256        string
		}
	}
	s.Do("GET", "/api/v1/media/"+m.ID, nil, &got)
	var video string
	for _, r := range got.Renditions {
		if strings.HasPrefix(r.Profile, "640x360-contain") && r.Width == 640 && r.Height == 360 {
			video = r.SHA256
		}
	}
	if got.Kind != "video" || got.Status != "ready" || got.DurationS < 1.9 || video == "" {
		t.Fatalf("media after transcode: %+v", got)
	}
	// The manifest lists the finished rendition, never the original.
	for {
		m, _ := p.nextProgram(s)
		for _, f := range m.Files {
			if f.SHA256 == video && f.ContentType == "video/mp4" {
				return
			}
			if f.SHA256 == got.Renditions[0].SHA256 && f.SHA256 != video {
				continue
			}
		}
	}
}

func TestBrokenMediaIsRefusedClearly(t *testing.T) {
	s := servertest.Start(t, servertest.Options{MediaWorker: servertest.Worker()})
	clip := makeClip(t, "clip.mp4", 1, "320x180")
	cases := []struct {
		name   string
		data   []byte
		status int
		code   string
	}{
		{"empty.mp4", nil, 415, "unsupported_media"},
		{"notes.mp4", []byte("this is a text file pretending to be a video\n"), 415, "unsupported_media"},
		{"truncated.mp4", clip[:len(clip)/3], 422, "corrupt_media"},
	}
	for _, tc := range cases {
		var e servertest.APIError
		code := s.Upload(tc.name, tc.data, &e)
		if code != tc.status || e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.name) {
			t.Errorf("%s: got %d %v, want %d %s", tc.name, code, e, tc.status, tc.code)
		}
	}
	// The damaged video is listed as failed, with the reason; the files
	// that are not media at all left nothing behind.
	var list struct {
		Media []struct {
			Filename, Status, Error, Kind string
		}
	}
	s.Do("GET", "/api/v1/media", nil, &list)
	if len(list.Media) != 1 || list.Media[0].Filename != "truncated.mp4" || list.Media[0].Status != "failed" || list.Media[0].Error == "" || list.Media[0].Kind != "video" {
		t.Fatalf("media after bad uploads: %+v", list.Media)
	}
	t.Logf("a content manager reads: %q", list.Media[0].Error)
}

// workerPIDs lists this process's children that are media workers.
func workerPIDs() []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	me := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(me) {
			env, _ := os.ReadFile("/proc/" + e.Name() + "/environ")
			if bytes.Contains(env, []byte("BEACON_TEST_MEDIA_WORKER=1")) {
				out = append(out, pid)
			}
		}
	}
	return out
}

// TestWorkerKilledAndServerRestartedMidJob: a worker killed mid-job fails
// that job with a clear reason while the server keeps serving; a server
// stopped mid-job resumes the job when it starts again.
func TestWorkerKilledAndServerRestartedMidJob(t *testing.T) {
	if testing.Short() {
		t.Skip("transcodes a longer clip")
	}
	s := servertest.Start(t, servertest.Options{MediaWorker: servertest.Worker()})
	pairRaw(t, s, "Wall")
	clip := makeClip(t, "long.mp4", 20, "1280x720")
	var m servertest.Media
	if code := s.Upload("long.mp4", clip, &m); code != 201 {
		t.Fatalf("upload: %d", code)
	}
	servertest.Eventually(t, 30*time.Second, "worker running the job", func() bool {
		js := jobsOf(s, m.ID)
		return len(js) > 0 && js[0].Status == "running" && len(workerPIDs()) > 0
	})
	for _, pid := range workerPIDs() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	var failed jobJSON
	servertest.Eventually(t, 30*time.Second, "job failed after the kill", func() bool {
		js := jobsOf(s, m.ID)
		failed = js[0]
		return js[0].Status == "failed"
	})
	if !strings.Contains(failed.Error, "worker") {
		t.Fatalf("failure reason does not say what happened: %q", failed.Error)
	}
	if code := s.Do("GET", "/api/v1/displays", nil, nil); code != 200 {
		t.Fatalf("server down after the worker was killed: %d", code)
	}

	// Retry, then stop the server mid-job: the next start resumes it.
	var j jobJSON
	if code := s.Do("POST", "/api/v1/media/"+m.ID+"/retry", nil, &j); code != 202 {
		t.Fatalf("retry: %d", code)
	}
	servertest.Eventually(t, 30*time.Second, "retried job running", func() bool {
		js := jobsOf(s, m.ID)
		return js[0].ID == j.ID && js[0].Status == "running"
	})
	s.Stop()
	s2 := servertest.Start(t, servertest.Options{DataDir: s.DataDir, MediaWorker: servertest.Worker()})
	servertest.Eventually(t, 180*time.Second, "resumed job done", func() bool {
		js := jobsOf(s2, m.ID)
		if js[0].Status == "failed" {
			t.Fatalf("resumed job failed: %s", js[0].Error)
		}
		return js[0].ID == j.ID && js[0].Status == "done"
	})
	if len(workerPIDs()) != 0 {
		t.Fatalf("workers left running: %v", workerPIDs())
	}
}

func TestCancelJob(t *testing.T) {
	if testing.Short() {
		t.Skip("transcodes a longer clip")
	}
	s := servertest.Start(t, servertest.Options{MediaWorker: servertest.Worker()})
	pairRaw(t, s, "Wall")
	var m servertest.Media
	s.Upload("long.mp4", makeClip(t, "long.mp4", 20, "1280x720"), &m)
	var j jobJSON
	servertest.Eventually(t, 30*time.Second, "job running", func() bool {
		js := jobsOf(s, m.ID)
		j = js[0]
		return j.Status == "running"
	})
	if code := s.Do("POST", "/api/v1/jobs/"+j.ID+"/cancel", nil, &j); code != 200 || j.Status != "cancelled" {
		t.Fatalf("cancel: %d %+v", code, j)
	}
	servertest.Eventually(t, 10*time.Second, "worker gone", func() bool { return len(workerPIDs()) == 0 })
	var e servertest.APIError
	if code := s.Do("POST", "/api/v1/jobs/"+j.ID+"/cancel", nil, &e); code != 409 {
		t.Fatalf("second cancel: %d", code)
	}
}

// TestProfilesFollowDisplays: displays with equal settings share
// renditions; changing a display's resolution makes the missing image and
// video renditions by itself, and its manifest switches to them.
func TestProfilesFollowDisplays(t *testing.T) {
	s := servertest.Start(t, servertest.Options{MediaWorker: servertest.Worker()})
	p, d1 := pairRaw(t, s, "Wall A")
	_, d2 := pairRaw(t, s, "Wall B") // same 640×360 as A
	var img, vid servertest.Media
	s.Upload("poster.jpg", testJPEG(t, 1000, 800, color.RGBA{30, 140, 60, 255}), &img)
	s.Upload("clip.mp4", makeClip(t, "clip.mp4", 1, "640x360"), &vid)
	var pl struct{ ID string }
	s.Do("POST", "/api/v1/playlists", map[string]any{"name": "Mix", "items": []map[string]any{{"media_id": img.ID}, {"media_id": vid.ID}}}, &pl)
	s.Do("POST", "/api/v1/schedules", map[string]any{"target": map[string]any{"display_ids": []string{d1, d2}}, "content": map[string]any{"playlist_id": pl.ID}}, nil)

	profiles := func(id string) map[string]bool {
		var m struct {
			Renditions []struct{ Profile string }
		}
		s.Do("GET", "/api/v1/media/"+id, nil, &m)
		out := map[string]bool{}
		for _, r := range m.Renditions {
			out[r.Profile] = true
		}
		return out
	}
	servertest.Eventually(t, 60*time.Second, "shared renditions", func() bool {
		return profiles(img.ID)["640x360-contain-000000"] && profiles(vid.ID)["640x360-contain-000000-30fps-high-0k"]
	})
	if n := len(profiles(img.ID)); n != 2 { // the shared panel rendition and the thumbnail
		t.Fatalf("two displays of one size made %d image renditions: %v", n, profiles(img.ID))
	}

	if code := s.Do("PATCH", "/api/v1/displays/"+d1, map[string]any{"width": 1080, "height": 1920}, nil); code != 200 {
		t.Fatalf("patch: %d", code)
	}
	servertest.Eventually(t, 60*time.Second, "portrait renditions", func() bool {
		return profiles(img.ID)["1080x1920-contain-000000"] && profiles(vid.ID)["1080x1920-contain-000000-30fps-high-0k"]
	})
	for i := 0; ; i++ {
		m, _ := p.nextProgram(s)
		portrait := 0
		for _, f := range m.Files {
			if strings.HasPrefix(f.Profile, "1080x1920-") {
				portrait++
			}
		}
		if portrait == 2 && len(m.Files) == 2 {
			break
		}
		if i > 10 {
			t.Fatalf("display A's manifest never switched to its portrait renditions: %+v", m.Files)
		}
	}
}

// TestJobEventsStream: the console's live events carry job progress.
func TestJobEventsStream(t *testing.T) {
	s := servertest.Start(t, servertest.Options{MediaWorker: servertest.Worker()})
	pairRaw(t, s, "Wall")
	req, _ := http.NewRequest("GET", s.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			events <- sc.Text()
		}
		close(events)
	}()
	var m servertest.Media
	s.Upload("clip.mp4", makeClip(t, "clip.mp4", 3, "640x360"), &m)
	deadline := time.After(60 * time.Second)
	sawQueued, sawDone := false, false
	for !sawDone {
		select {
		case line, ok := <-events:
			if !ok {
				t.Fatal("event stream ended")
			}
			if !strings.HasPrefix(line, "data: ") || !strings.Contains(line, m.ID) {
				continue
			}
			var ev struct {
				Status   string
				Progress float64
			}
			_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev)
			sawQueued = sawQueued || ev.Status == "queued"
			sawDone = ev.Status == "done" && ev.Progress == 100
		case <-deadline:
			t.Fatalf("no done event (queued seen: %v)", sawQueued)
		}
	}
	if !sawQueued {
		t.Fatal("no queued event before done")
	}
}
