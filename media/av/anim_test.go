package av

import (
	"context"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"beacon/media"
)

// animInputs makes a 2-second, 10 frames-per-second animation of a white
// square moving over a transparent canvas, as GIF, APNG and animated WebP.
func animInputs(t *testing.T) map[string]string {
	t.Helper()
	needFFmpeg(t)
	src := []string{"-f", "lavfi", "-i", "color=c=white@1:s=160x120:r=10:d=2,format=rgba,geq=r='255':g='255':b='255':a='if(between(X,N*10,N*10+40)*between(Y,40,80),255,0)'"}
	out := map[string]string{"gif": gifInput(t)}
	for name, args := range map[string][]string{
		"anim.apng": {"-plays", "0", "-f", "apng"},
		"anim.webp": {"-c:v", "libwebp_anim", "-lossless", "1", "-loop", "0"},
	} {
		out[filepath.Ext(name)[1:]] = input(t, name, append(append([]string{}, src...), args...)...)
	}
	return out
}

func TestAnimatedImagesTranscode(t *testing.T) {
	for format, in := range animInputs(t) {
		t.Run(format, func(t *testing.T) {
			probeFormat := format
			if format == "apng" {
				probeFormat = "png"
			}
			a, ok, err := media.ProbeAnimation(in, probeFormat)
			if err != nil || !ok {
				t.Fatalf("ProbeAnimation: %+v %v %v", a, ok, err)
			}
			// libwebp merges the identical empty frames at the end into one.
			if a.Frames < 16 || a.Frames > 20 || math.Abs(a.Duration-2) > 0.05 || a.Width != 160 || a.Height != 120 {
				t.Errorf("animation %+v, want 16 to 20 frames, 2 s, 160×120", a)
			}
			dir := t.TempDir()
			path, cleanup, err := PrepareInput(in, dir, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup()
			if format == "webp" && path == in {
				t.Fatal("an animated WebP was not converted for FFmpeg")
			}
			if _, err := Probe(path); err != nil {
				t.Fatalf("probe: %v", err)
			}
			p := VideoProfile{Width: 320, Height: 240, Background: color.NRGBA{R: 200, A: 255}}
			outs, err := Transcode(context.Background(), path, dir, []VideoProfile{p}, Options{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(outs[0].Duration-2) > 0.15 {
				t.Errorf("rendition lasts %.3f s, want 2", outs[0].Duration)
			}
			// Frame 0 (at 0.5 s the square has moved): the transparent
			// corner must show the background colour, the square white.
			shot := filepath.Join(dir, "f.jpg")
			if out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-ss", "0.05", "-i", outs[0].Path, "-frames:v", "1", shot).CombinedOutput(); err != nil {
				t.Fatalf("%v %s", err, out)
			}
			f, err := os.Open(shot)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := jpeg.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			near := func(c color.Color, r, g, b uint8) bool {
				cr, cg, cb, _ := c.RGBA()
				d := func(x uint32, y uint8) bool { return math.Abs(float64(x>>8)-float64(y)) < 40 }
				return d(cr, r) && d(cg, g) && d(cb, b)
			}
			if c := img.At(300, 20); !near(c, 200, 0, 0) {
				t.Errorf("transparent area is %v, want the background #c80000", c)
			}
			if c := img.At(40, 120); !near(c, 255, 255, 255) {
				t.Errorf("the square is %v, want white", c)
			}
		})
	}
}

// gifInput writes the same animation with Go's GIF encoder, the
// transparent colour being palette index 0.
func gifInput(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "anim.gif")
	pal := color.Palette{color.RGBA{}, color.White}
	g := &gif.GIF{LoopCount: 0}
	for n := range 20 {
		img := image.NewPaletted(image.Rect(0, 0, 160, 120), pal)
		for y := 40; y <= 80; y++ {
			for x := n * 10; x <= n*10+40 && x < 160; x++ {
				img.SetColorIndex(x, y, 1)
			}
		}
		g.Image = append(g.Image, img)
		g.Delay = append(g.Delay, 10)
		g.Disposal = append(g.Disposal, gif.DisposalBackground)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := gif.EncodeAll(f, g); err != nil {
		t.Fatal(err)
	}
	return p
}
