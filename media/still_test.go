package media

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"beacon/media/native"
)

// TestReducedJPEGDecodeKeepsQuality: a small rendition of a large JPEG is
// made from a decode at 1/2, 1/4 or 1/8 scale; it must match the rendition
// made from the full-size decode.
func TestReducedJPEGDecodeKeepsQuality(t *testing.T) {
	if !native.Available {
		t.Skip("built without cgo: JPEGs are decoded at full size")
	}
	const w, h = 2400, 1800
	src := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewSource(5))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := float64(rng.Intn(13) - 6)
			i := src.PixOffset(x, y)
			src.Pix[i] = clampF(float64(x)/10 + 30*math.Sin(float64(y)/40) + n)
			src.Pix[i+1] = clampF(128 + 90*math.Sin(float64(x+y)/70) + n)
			src.Pix[i+2] = clampF(float64(y)/8 + n)
			src.Pix[i+3] = 255
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "big.jpg")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := ProbeImage(path, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p      Profile
		reduce int
	}{
		{Profile{Width: 1920, Height: 1080}, 1},
		{Profile{Width: 640, Height: 360, Fit: FitCover}, 1},
		{Profile{Width: 320, Height: 180}, 4},
		{Profile{Width: 120, Height: 90, Fit: FitStretch}, 8},
	} {
		reduced := forProfiles(info, []Profile{tc.p})
		if reduced.Reduce != tc.reduce && !(tc.reduce == 1 && reduced.Reduce == 0) {
			t.Errorf("%s: decoded at 1/%d, want 1/%d", tc.p.Name(), reduced.Reduce, tc.reduce)
		}
		a, err := decodeStill(reduced, buf.Bytes(), DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		full, err := decodeStill(info, buf.Bytes(), DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		got := renderProfile(&source{orig: toFrame(a, color.NRGBA{}, 2)}, 1, tc.p, 2)
		want := renderProfile(&source{orig: toFrame(full, color.NRGBA{}, 2)}, 1, tc.p, 2)
		if v := psnr(got, want); v < 38 {
			t.Errorf("%s at 1/%d: PSNR %.1f dB against the full-size decode, want ≥ 38", tc.p.Name(), reduced.Reduce, v)
		} else {
			t.Logf("%s at 1/%d: PSNR %.1f dB against the full-size decode", tc.p.Name(), max(reduced.Reduce, 1), v)
		}
	}
}
