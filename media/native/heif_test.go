//go:build cgo

package native

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestHEIFColoursMatchLibheif decodes pictures coded with the BT.601
// matrix in full and video range (used as decoded, in YCbCr) and with the
// BT.709 matrix (converted by libheif) and compares every pixel with
// libheif's own RGB conversion (heif-convert): the direct path must not
// shift colours. avifenc writes the nclx colour boxes (heif-enc 1.15
// does not).
func TestHEIFColoursMatchLibheif(t *testing.T) {
	for _, tool := range []string{"avifenc", "heif-convert"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is missing (apt-get install libavif-bin libheif-examples)", tool)
		}
	}
	dir := t.TempDir()
	src := image.NewNRGBA(image.Rect(0, 0, 96, 64))
	rng := rand.New(rand.NewSource(1))
	for y := 0; y < 64; y++ {
		for x := 0; x < 96; x++ {
			// Smooth colour ramps with a little noise: lossy coding keeps them.
			n := uint8(rng.Intn(8))
			src.SetNRGBA(x, y, color.NRGBA{uint8(x*2) + n, uint8(y*3) + n, uint8(255 - x - y), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, src); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "in.png")
	if err := os.WriteFile(in, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"bt601 full":  {"--cicp", "1/13/6", "-r", "full"},
		"bt601 video": {"--cicp", "1/13/6", "-r", "limited"},
		"bt709 full":  {"--cicp", "1/13/1", "-r", "full"},
		"bt709 video": {"--cicp", "1/13/1", "-r", "limited"},
	} {
		t.Run(name, func(t *testing.T) {
			heic := filepath.Join(dir, name+".avif")
			ref := filepath.Join(dir, name+".png")
			if out, err := exec.Command("avifenc", append(args, "-j", "1", "-s", "8", "-y", "420", "--min", "0", "--max", "10", in, heic)...).CombinedOutput(); err != nil {
				t.Fatalf("avifenc: %v\n%s", err, out)
			}
			if out, err := exec.Command("heif-convert", heic, ref).CombinedOutput(); err != nil {
				t.Fatalf("heif-convert: %v\n%s", err, out)
			}
			data, _ := os.ReadFile(heic)
			got, err := HEIFDecode(data, func(w, h int) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			rf, _ := os.Open(ref)
			want, err := png.Decode(rf)
			rf.Close()
			if err != nil {
				t.Fatal(err)
			}
			if got.Bounds() != want.Bounds() {
				t.Fatalf("bounds %v, want %v", got.Bounds(), want.Bounds())
			}
			var sum, worst int
			r := got.Bounds()
			for y := r.Min.Y; y < r.Max.Y; y++ {
				for x := r.Min.X; x < r.Max.X; x++ {
					g1, g2, g3, _ := got.At(x, y).RGBA()
					w1, w2, w3, _ := want.At(x, y).RGBA()
					for _, d := range []int{int(g1>>8) - int(w1>>8), int(g2>>8) - int(w2>>8), int(g3>>8) - int(w3>>8)} {
						d = max(d, -d)
						sum += d
						worst = max(worst, d)
					}
				}
			}
			mean := float64(sum) / float64(3*r.Dx()*r.Dy())
			t.Logf("%T: mean difference %.2f, worst %d (of 255)", got, mean, worst)
			// libheif upsamples chroma bilinearly for its RGB; Go's YCbCr
			// replicates it: small differences at edges are expected.
			if mean > 2 || worst > 24 {
				t.Errorf("colours differ from libheif's: mean %.2f, worst %d", mean, worst)
			}
		})
	}
}
