package media

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"beacon/media/native"
)

// jpegVariants writes the benchmark picture in the JPEG flavours people
// upload (baseline 4:2:0 and 4:4:4, progressive, grey, CMYK, a small one)
// with ImageMagick, and returns name → path.
func jpegVariants(tb testing.TB) map[string]string {
	tb.Helper()
	convert := imageMagick()
	if convert == "" {
		tb.Skip("ImageMagick's convert is not installed; cannot make the JPEG variants")
	}
	in := benchJPEG(tb)
	dir := tb.TempDir()
	specs := map[string][]string{
		"baseline-420-12MP":    {"-sampling-factor", "2x2", "-quality", "90"},
		"baseline-444-12MP":    {"-sampling-factor", "1x1", "-quality", "90"},
		"progressive-420-12MP": {"-sampling-factor", "2x2", "-interlace", "JPEG", "-quality", "90"},
		"grey-12MP":            {"-colorspace", "Gray", "-quality", "90"},
		"cmyk-12MP":            {"-colorspace", "CMYK", "-quality", "90"},
		"baseline-420-0.3MP":   {"-resize", "640x480", "-sampling-factor", "2x2", "-quality", "90"},
	}
	out := map[string]string{}
	for name, args := range specs {
		p := filepath.Join(dir, name+".jpg")
		cmd := exec.Command(convert, append(append([]string{in}, args...), p)...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("convert %s: %v: %s", name, err, msg)
		}
		out[name] = p
	}
	return out
}

// TestJPEGDecoderChoice times Go's JPEG decoder against libjpeg-turbo on
// each variant and prints one line per variant with the ratio (and
// libjpeg-turbo's time at 1/8 scale, what the upload check and small
// renditions use): the evidence for decoding every JPEG with
// libjpeg-turbo. BEACON_BENCH=1 only.
func TestJPEGDecoderChoice(t *testing.T) {
	if os.Getenv("BEACON_BENCH") != "1" {
		t.Skip("set BEACON_BENCH=1 to compare the JPEG decoders")
	}
	if !native.Available {
		t.Skip("built without cgo: only Go's decoder exists")
	}
	vs := jpegVariants(t)
	for _, name := range []string{"baseline-420-12MP", "baseline-444-12MP", "progressive-420-12MP", "grey-12MP", "cmyk-12MP", "baseline-420-0.3MP"} {
		data, err := os.ReadFile(vs[name])
		if err != nil {
			t.Fatal(err)
		}
		rounds := 5
		if len(data) < 1<<20 {
			rounds = 40
		}
		// The decoders take turns and the fastest run of each counts, so
		// load from elsewhere on the machine weighs on neither.
		decoders := []func() error{
			func() error { _, err := jpeg.Decode(bytes.NewReader(data)); return err },
			func() error { _, err := native.JPEGDecode(data, 1); return err },
			func() error { _, err := native.JPEGDecode(data, 8); return err },
		}
		best := make([]time.Duration, len(decoders))
		for r := 0; r <= rounds; r++ {
			for i, dec := range decoders {
				start := time.Now()
				if err := dec(); err != nil {
					t.Fatalf("%s: decoder %d: %v", name, i, err)
				}
				if d := time.Since(start); r > 0 && (best[i] == 0 || d < best[i]) { // round 0 warms up
					best[i] = d
				}
			}
		}
		fmt.Printf("jpegdecode %s go_ms=%.2f turbo_ms=%.2f turbo_over_go=%.2f turbo_eighth_ms=%.2f\n", name,
			ms(best[0]), ms(best[1]), float64(best[1])/float64(best[0]), ms(best[2]))
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
