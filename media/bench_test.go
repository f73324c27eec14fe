package media

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// benchProfiles are the two outputs the benchmarks compare.
var benchProfiles = []Profile{
	{Width: 1920, Height: 1080, Fit: FitContain},
	{Width: 384, Height: 192, Fit: FitContain},
}

var (
	benchOnce sync.Once
	benchDir  string
	benchFile string
	benchErr  error
)

// benchJPEG writes, once per test binary, a 4000×3000 photographic-like
// JPEG (smooth gradients plus noise, quality 90) and returns its path.
func benchJPEG(tb testing.TB) string {
	tb.Helper()
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "beacon-media-bench-")
		if benchErr != nil {
			return
		}
		const w, h = 4000, 3000
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		rng := rand.New(rand.NewSource(1))
		for y := 0; y < h; y++ {
			fy := float64(y) / h
			for x := 0; x < w; x++ {
				fx := float64(x) / w
				n := float64(rng.Intn(25) - 12)
				i := img.PixOffset(x, y)
				img.Pix[i] = clampF(255*fx + 40*math.Sin(fy*13) + n)
				img.Pix[i+1] = clampF(128 + 100*math.Sin(fx*9+fy*5) + n)
				img.Pix[i+2] = clampF(255*fy + 30*math.Cos(fx*21) + n)
				img.Pix[i+3] = 255
			}
		}
		var buf bytes.Buffer
		if benchErr = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); benchErr != nil {
			return
		}
		benchFile = filepath.Join(benchDir, "photo.jpg")
		benchErr = os.WriteFile(benchFile, buf.Bytes(), 0o644)
	})
	if benchErr != nil {
		tb.Fatal(benchErr)
	}
	return benchFile
}

func clampF(v float64) uint8 {
	return uint8(math.Max(0, math.Min(255, math.Round(v))))
}

// TestMain removes the cached benchmark picture.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

func BenchmarkRenderImage(b *testing.B) {
	in := benchJPEG(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := RenderImage(in, benchProfiles, DefaultLimits); err != nil {
			b.Fatal(err)
		}
	}
}

// imageMagick returns the path of ImageMagick's convert, or "".
func imageMagick() string {
	if _, err := os.Stat("/usr/bin/convert"); err == nil {
		return "/usr/bin/convert"
	}
	if p, err := exec.LookPath("convert"); err == nil {
		return p
	}
	return ""
}

// runImageMagick makes the same two renditions as benchProfiles in one
// convert process.
func runImageMagick(convert, in, dir string) error {
	out1, out2 := filepath.Join(dir, "out1.jpg"), filepath.Join(dir, "out2.jpg")
	cmd := exec.Command(convert, in, "-auto-orient",
		"(", "+clone", "-resize", "1920x1080", "-background", "black", "-gravity", "center",
		"-extent", "1920x1080", "-quality", "90", "-write", out1, "+delete", ")",
		"-resize", "384x192", "-background", "black", "-gravity", "center",
		"-extent", "384x192", "-quality", "90", out2)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("convert: %v: %s", err, msg)
	}
	return nil
}

func BenchmarkImageMagick(b *testing.B) {
	convert := imageMagick()
	if convert == "" {
		b.Skip("ImageMagick's convert is not installed; nothing to compare with")
	}
	in := benchJPEG(b)
	dir := b.TempDir()
	b.ResetTimer()
	for b.Loop() {
		if err := runImageMagick(convert, in, dir); err != nil {
			b.Fatal(err)
		}
	}
}

// TestImageRenditionRatio times Beacon against ImageMagick on the benchmark
// picture. It runs only with BEACON_BENCH=1 and prints one line.
func TestImageRenditionRatio(t *testing.T) {
	if os.Getenv("BEACON_BENCH") != "1" {
		t.Skip("set BEACON_BENCH=1 to compare rendition speed with ImageMagick")
	}
	convert := imageMagick()
	if convert == "" {
		t.Skip("ImageMagick's convert is not installed; nothing to compare with")
	}
	in := benchJPEG(t)
	dir := t.TempDir()
	const runs = 5

	// One warm-up each, untimed.
	if _, err := RenderImage(in, benchProfiles, DefaultLimits); err != nil {
		t.Fatal(err)
	}
	if err := runImageMagick(convert, in, dir); err != nil {
		t.Fatal(err)
	}

	var ms runtimeMem
	ms.start()
	start := time.Now()
	for range runs {
		if _, err := RenderImage(in, benchProfiles, DefaultLimits); err != nil {
			t.Fatal(err)
		}
	}
	beacon := time.Since(start)
	allocs, allocBytes := ms.stop()

	start = time.Now()
	for range runs {
		if err := runImageMagick(convert, in, dir); err != nil {
			t.Fatal(err)
		}
	}
	magick := time.Since(start)

	bms := float64(beacon.Microseconds()) / 1000 / runs
	mms := float64(magick.Microseconds()) / 1000 / runs
	fmt.Printf("images beacon_ms=%.1f imagemagick_ms=%.1f ratio=%.2f allocs_per_item=%d alloc_mb_per_item=%.1f\n",
		bms, mms, bms/mms, allocs/runs, float64(allocBytes)/runs/(1<<20))
}

// runtimeMem measures allocations between start and stop.
type runtimeMem struct{ before runtime.MemStats }

func (m *runtimeMem) start() {
	runtime.GC()
	runtime.ReadMemStats(&m.before)
}

func (m *runtimeMem) stop() (allocs, bytes uint64) {
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return after.Mallocs - m.before.Mallocs, after.TotalAlloc - m.before.TotalAlloc
}
