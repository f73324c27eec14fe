package media

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStillFigures prints the figures for still pictures, each ratio
// measured against ImageMagick in the same run (BEACON_BENCH=1 only):
// rendition time for a 12-megapixel JPEG and the same photo as a HEIC
// (4000×3000 → 1920×1080 and 384×192), the peak memory of checking and
// rendering a 200-megapixel JPEG (the largest phone photos), and the
// formats accepted.
func TestStillFigures(t *testing.T) {
	if os.Getenv("BEACON_BENCH") != "1" {
		t.Skip("set BEACON_BENCH=1 to print the still-picture figures")
	}
	convert := imageMagick()
	if convert == "" {
		t.Skip("ImageMagick's convert is not installed; nothing to compare with")
	}
	dir := t.TempDir()

	// Memory first, while the process is small.
	if _, err := exec.LookPath("ffmpeg"); err == nil {
		big := filepath.Join(dir, "200mp.jpg")
		if out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=16384x12288", "-frames:v", "1",
			"-q:v", "3", "-pix_fmt", "yuvj420p", big).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, out)
		}
		// Once for a full-HD panel and a thumbnail, once for an 8K wall,
		// which needs the whole decoded resolution.
		for _, run := range []struct {
			name     string
			profiles []Profile
		}{{"1920x1080+384x192", benchProfiles}, {"7680x4320", []Profile{{Width: 7680, Height: 4320}}}} {
			runtime.GC()
			debug.FreeOSMemory()
			before := procStatus(t, "VmRSS")
			if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
				t.Logf("cannot reset the peak RSS (%v): the figure includes earlier work", err)
			}
			start := time.Now()
			info, err := CheckImage(big, DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := RenderImage(big, run.profiles, DefaultLimits); err != nil {
				t.Fatal(err)
			}
			peak := procStatus(t, "VmHWM")
			fmt.Printf("stills largest-photo=%dx%d profiles=%s decoded_at=1/%d check_and_render_ms=%d rss_before_mb=%d peak_rss_mb=%d peak_over_before_mb=%d\n",
				info.Width, info.Height, run.name, forProfiles(info, run.profiles).Reduce, time.Since(start).Milliseconds(), before>>20, peak>>20, (peak-before)>>20)
		}
	}
	jpg := benchJPEG(t)
	inputs := []struct{ name, path string }{{"jpeg-12MP", jpg}}
	if _, err := exec.LookPath("heif-enc"); err == nil {
		heic := filepath.Join(dir, "photo.heic")
		if out, err := exec.Command("heif-enc", "-q", "80", jpg, "-o", heic).CombinedOutput(); err != nil {
			t.Fatalf("heif-enc: %v\n%s", err, out)
		}
		inputs = append(inputs, struct{ name, path string }{"heic-12MP", heic})
	} else {
		t.Log("heif-enc is missing: no HEIC figure")
	}
	// Beacon and ImageMagick take turns and the fastest run of each
	// counts, so load from elsewhere on the machine weighs on neither.
	const rounds = 5
	for _, in := range inputs {
		steps := []func() error{
			func() error { _, err := RenderImage(in.path, benchProfiles, DefaultLimits); return err },
			func() error { return runImageMagick(convert, in.path, dir) },
			func() error { _, err := CheckImage(in.path, DefaultLimits); return err },
		}
		best := make([]time.Duration, len(steps))
		for r := 0; r <= rounds; r++ {
			for i, step := range steps {
				start := time.Now()
				if err := step(); err != nil {
					t.Fatal(err)
				}
				if d := time.Since(start); r > 0 && (best[i] == 0 || d < best[i]) { // round 0 warms up
					best[i] = d
				}
			}
		}
		fmt.Printf("stills %s beacon_ms=%.1f imagemagick_ms=%.1f ratio=%.2f upload_check_ms=%.1f\n", in.name,
			ms(best[0]), ms(best[1]), float64(best[0])/float64(best[1]), ms(best[2]))
	}
	fmt.Printf("stills formats=%s\n", strings.Join(AcceptedStillFormats(), ","))
}

// procStatus reads a memory line of /proc/self/status in bytes.
func procStatus(t *testing.T, key string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == key+":" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
