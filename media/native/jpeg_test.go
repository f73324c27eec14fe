//go:build cgo

package native

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

// TestRGBJPEG: a JPEG stored as RGB (component ids R, G, B, no colour
// transform) must be converted, not taken for YCbCr. The file is a Go
// JPEG with its ids renamed, so its planes are read as R, G and B.
func TestRGBJPEG(t *testing.T) {
	m := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for i := range m.Pix {
		m.Pix[i] = []uint8{200, 30, 60, 255}[i%4]
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	i := bytes.Index(data, []byte{0xFF, 0xC0})
	if i < 0 || data[i+9] != 3 {
		t.Fatal("no 3-component SOF0")
	}
	for c, id := range []byte("RGB") {
		data[i+10+3*c] = id
	}
	for _, s := range [][]byte{{0xFF, 0xDA}} { // the scan names the components too
		j := bytes.Index(data, s)
		for c, id := range []byte("RGB") {
			data[j+5+2*c] = id
		}
	}
	info, err := JPEGProbe(data)
	if err != nil {
		t.Fatal(err)
	}
	if info.Colorspace != 0 /* TJCS_RGB */ {
		t.Fatalf("colourspace %d, want RGB (0)", info.Colorspace)
	}
	img, err := JPEGDecode(data, 1)
	if err != nil {
		t.Fatal(err)
	}
	// The stored planes are JFIF Y, Cb, Cr of (200, 30, 60); read as RGB
	// they are that colour's Y, Cb and Cr values.
	y, cb, cr := color.RGBToYCbCr(200, 30, 60)
	r, g, bb, _ := img.At(16, 16).RGBA()
	if d := max(absDiff(r>>8, uint32(y)), absDiff(g>>8, uint32(cb)), absDiff(bb>>8, uint32(cr))); d > 3 {
		t.Errorf("pixel %d,%d,%d, want about %d,%d,%d", r>>8, g>>8, bb>>8, y, cb, cr)
	}
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}
