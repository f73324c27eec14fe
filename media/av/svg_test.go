package av

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"beacon/media"
)

// TestRasterSVGCrispPerPanel: an SVG rasterised for a panel and composed
// on it has its edges exactly on the panel's pixel grid (no blur from
// resampling), for contain, cover and stretch.
func TestRasterSVGCrispPerPanel(t *testing.T) {
	dir := t.TempDir()
	// 2:1, left half red, right half blue.
	doc := `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 100"><rect width="100" height="100" fill="#f00"/><rect x="100" width="100" height="100" fill="#00f"/></svg>`
	clean, info, err := media.SanitizeSVG([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "logo.svg")
	if err := os.WriteFile(in, clean, 0o644); err != nil {
		t.Fatal(err)
	}
	iw, ih := info.Size()
	red, blue := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}
	bg := color.NRGBA{0, 255, 0, 255}
	for _, c := range []struct {
		p      media.Profile
		checks map[image.Point]color.RGBA
	}{
		// 640×320 centred on 640×360: green bands of 20 rows, the halves meet at x=320.
		{media.Profile{Width: 640, Height: 360, Background: bg}, map[image.Point]color.RGBA{
			{319, 180}: red, {320, 180}: blue, {0, 19}: {0, 255, 0, 255}, {0, 20}: red, {639, 339}: blue, {639, 340}: {0, 255, 0, 255}}},
		// Cover on 3840×1080 (a wide LED strip): 3840×1920 cropped, halves meet at 1920.
		{media.Profile{Width: 3840, Height: 1080, Fit: media.FitCover, Background: bg}, map[image.Point]color.RGBA{
			{1919, 0}: red, {1920, 1079}: blue, {0, 0}: red, {3839, 1079}: blue}},
		// Stretch to an odd LED module size.
		{media.Profile{Width: 385, Height: 97, Fit: media.FitStretch, Background: bg}, map[image.Point]color.RGBA{
			{0, 0}: red, {191, 50}: red, {193, 50}: blue, {384, 96}: blue}},
	} {
		w, h := media.RasterSize(iw, ih, c.p)
		out := filepath.Join(dir, c.p.Name()+".png")
		gw, gh, err := RasterSVG(in, out, w, h)
		if err != nil {
			t.Fatal(err)
		}
		if gw != w || gh != h {
			t.Fatalf("%s: librsvg gave %d×%d, asked %d×%d", c.p.Name(), gw, gh, w, h)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		r, err := media.ComposeRaster(img, c.p)
		if err != nil {
			t.Fatal(err)
		}
		if r.Width != c.p.Width || r.Height != c.p.Height || r.ContentType != "image/png" {
			t.Fatalf("%s: rendition %d×%d %s", c.p.Name(), r.Width, r.Height, r.ContentType)
		}
		panel, err := png.Decode(bytesReader(r.Data))
		if err != nil {
			t.Fatal(err)
		}
		for pt, want := range c.checks {
			if got := color.RGBAModel.Convert(panel.At(pt.X, pt.Y)).(color.RGBA); got != want {
				t.Errorf("%s: pixel %v is %v, want exactly %v", c.p.Name(), pt, got, want)
			}
		}
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// BenchmarkSVGPanel renders a logo-like SVG (gradients, paths, text) for a
// 1920×1080 panel as the server does (librsvg at the fitted size, composed
// without resampling) and, in the same run, with the ffmpeg command line
// (the same librsvg, padded by FFmpeg) as the baseline; it reports the
// ratio (lower is faster). This Debian's ImageMagick has no SVG reader of
// its own (it calls rsvg-convert, not installed).
//
//	go test -run '^$' -bench SVGPanel ./media/av/
func BenchmarkSVGPanel(b *testing.B) {
	ffmpegCLI, err := exec.LookPath("ffmpeg")
	if err != nil {
		b.Skip("the ffmpeg command line is the baseline")
	}
	dir := b.TempDir()
	var doc strings.Builder
	doc.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 800 400"><defs><linearGradient id="g"><stop offset="0" stop-color="#0a4"/><stop offset="1" stop-color="#04a"/></linearGradient></defs><rect width="800" height="400" fill="url(#g)"/>`)
	for i := range 200 {
		fmt.Fprintf(&doc, `<path d="M%d %d q40 -60 80 0 t80 0" stroke="#fff" stroke-width="3" fill="none" opacity="0.6"/>`, (i*37)%800, (i*53)%400)
	}
	doc.WriteString(`<text x="400" y="220" font-size="96" text-anchor="middle" fill="#fff" font-family="DejaVu Sans">Beacon</text></svg>`)
	clean, info, err := media.SanitizeSVG([]byte(doc.String()))
	if err != nil {
		b.Fatal(err)
	}
	in := filepath.Join(dir, "logo.svg")
	if err := os.WriteFile(in, clean, 0o644); err != nil {
		b.Fatal(err)
	}
	p := media.Profile{Width: 1920, Height: 1080, Background: color.NRGBA{A: 255}}
	iw, ih := info.Size()
	w, h := media.RasterSize(iw, ih, p)
	ours := func() {
		out := filepath.Join(dir, "ours.png")
		if _, _, err := RasterSVG(in, out, w, h); err != nil {
			b.Fatal(err)
		}
		f, _ := os.Open(out)
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := media.ComposeRaster(img, p); err != nil {
			b.Fatal(err)
		}
	}
	theirs := func() {
		out := filepath.Join(dir, "cli.png")
		if o, err := exec.Command(ffmpegCLI, "-v", "error", "-y", "-width", fmt.Sprint(w), "-height", fmt.Sprint(h), "-keep_ar", "0", "-i", in,
			"-vf", "pad=1920:1080:(ow-iw)/2:(oh-ih)/2:black", "-frames:v", "1", out).CombinedOutput(); err != nil {
			b.Fatalf("ffmpeg: %v %s", err, o)
		}
	}
	var tOurs, tCLI time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		ours()
		t1 := time.Now()
		theirs()
		tOurs += t1.Sub(t0)
		tCLI += time.Since(t1)
	}
	b.ReportMetric(float64(tOurs.Milliseconds())/float64(b.N), "beacon_ms/op")
	b.ReportMetric(float64(tCLI.Milliseconds())/float64(b.N), "ffmpeg_cli_ms/op")
	b.ReportMetric(tOurs.Seconds()/tCLI.Seconds(), "ratio")
}
