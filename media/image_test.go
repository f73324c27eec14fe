package media

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/disintegration/imaging"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"beacon/media/native"
)

// Tiny WebP files made with ImageMagick (8×6 red-to-blue gradient); Go has
// no WebP encoder.
const (
	webpLossless = "524946463a000000574542505650384c2d0000002f074001002f001084ff6d1333f3e6fff94f9606846c24e9144ee1155ee115de5fab13d1fff878d5ad0eb61a0000"
	webpLossy    = "524946465600000057454250565038204a0000007003009d012a0800060001402625a80274b7009601fc03f0031403f403dffc0f4402b5e000fefa77b199970dec7fead3e244bff969f1225ffe5a17fcb42ffe4aab8221cadb541291d800"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// pattern returns a w×h picture with smooth colour ramps.
func pattern(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / max(w-1, 1)), uint8(y * 255 / max(h-1, 1)), 128, 255})
		}
	}
	return m
}

func encode(t testing.TB, format string, m image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch format {
	case "jpeg":
		err = jpeg.Encode(&buf, m, &jpeg.Options{Quality: 95})
	case "png":
		err = png.Encode(&buf, m)
	case "gif":
		err = gif.Encode(&buf, m, nil)
	case "bmp":
		err = bmp.Encode(&buf, m)
	case "tiff":
		err = tiff.Encode(&buf, m, nil)
	default:
		t.Fatalf("no encoder for %s", format)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProbeImage(t *testing.T) {
	src := pattern(40, 30)
	tests := []struct {
		format string
		data   []byte
		w, h   int
	}{
		{"jpeg", encode(t, "jpeg", src), 40, 30},
		{"png", encode(t, "png", src), 40, 30},
		{"gif", encode(t, "gif", src), 40, 30},
		{"bmp", encode(t, "bmp", src), 40, 30},
		{"tiff", encode(t, "tiff", src), 40, 30},
		{"webp", mustHex(webpLossless), 8, 6},
		{"webp", mustHex(webpLossy), 8, 6},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			// A misleading name: detection goes by content.
			p := writeFile(t, "upload.txt", tt.data)
			info, err := ProbeImage(p, DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			want := ImageInfo{Format: tt.format, Width: tt.w, Height: tt.h, Orientation: 1}
			if info != want {
				t.Errorf("info = %+v, want %+v", info, want)
			}
			rs, err := RenderImage(p, []Profile{{Width: 16, Height: 16}}, DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			checkJPEG(t, rs[0], 16, 16)
		})
	}
}

// TestWebPFromImageMagick renders a larger WebP made by convert, when it
// is installed.
func TestWebPFromImageMagick(t *testing.T) {
	convert := imageMagick()
	if convert == "" {
		t.Skip("ImageMagick's convert is not installed; the embedded WebP samples still run")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.png")
	if err := os.WriteFile(in, encode(t, "png", pattern(120, 80)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, lossless := range []string{"true", "false"} {
		out := filepath.Join(dir, "out-"+lossless+".webp")
		if msg, err := exec.Command(convert, in, "-define", "webp:lossless="+lossless, out).CombinedOutput(); err != nil {
			t.Fatalf("convert: %v: %s", err, msg)
		}
		info, err := ProbeImage(out, DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		if info.Format != "webp" || info.Width != 120 || info.Height != 80 {
			t.Fatalf("info = %+v", info)
		}
		rs, err := RenderImage(out, []Profile{{Width: 60, Height: 40, Fit: FitStretch}}, DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		m := checkJPEG(t, rs[0], 60, 40)
		// Top-left is dark red-ish-blue (R≈0, G≈0), bottom-right bright.
		if r, g, _ := rgbAt(m, 2, 2); r > 40 || g > 40 {
			t.Errorf("lossless=%s: top-left = %d,%d", lossless, r, g)
		}
		if r, g, _ := rgbAt(m, 57, 37); r < 200 || g < 200 {
			t.Errorf("lossless=%s: bottom-right = %d,%d", lossless, r, g)
		}
	}
}

// checkJPEG decodes a rendition and checks its size and metadata.
func checkJPEG(t *testing.T, r Rendition, w, h int) image.Image {
	t.Helper()
	if r.ContentType != "image/jpeg" || r.Width != w || r.Height != h {
		t.Fatalf("rendition %s: %s %dx%d, want image/jpeg %dx%d", r.Profile.Name(), r.ContentType, r.Width, r.Height, w, h)
	}
	m, err := jpeg.Decode(bytes.NewReader(r.Data))
	if err != nil {
		t.Fatalf("rendition %s is not a JPEG: %v", r.Profile.Name(), err)
	}
	if b := m.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Fatalf("rendition %s decodes as %dx%d, want %dx%d", r.Profile.Name(), b.Dx(), b.Dy(), w, h)
	}
	return m
}

func rgbAt(m image.Image, x, y int) (r, g, b int) {
	c := color.NRGBAModel.Convert(m.At(x, y)).(color.NRGBA)
	return int(c.R), int(c.G), int(c.B)
}

func near(m image.Image, x, y int, want color.NRGBA, tol int) bool {
	r, g, b := rgbAt(m, x, y)
	return abs(r-int(want.R)) <= tol && abs(g-int(want.G)) <= tol && abs(b-int(want.B)) <= tol
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func solid(w, h int, c color.NRGBA) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.Draw(m, m.Bounds(), image.NewUniform(c), image.Point{}, draw.Src)
	return m
}

func TestRenderFits(t *testing.T) {
	orange := color.NRGBA{240, 140, 20, 255}
	teal := color.NRGBA{0, 128, 128, 255}
	// A wide 400×100 orange picture.
	p := writeFile(t, "wide.png", encode(t, "png", solid(400, 100, orange)))
	profiles := []Profile{
		{Width: 200, Height: 200, Fit: FitContain, Background: teal},
		{Width: 200, Height: 200, Fit: FitCover},
		{Width: 200, Height: 200, Fit: FitStretch},
		{Width: 1920, Height: 1080}, // "" = contain, upscaled
		{Width: 37, Height: 91, Fit: FitCover},
		{Width: 1, Height: 1, Fit: FitContain},
		{Width: 333, Height: 17, Fit: FitStretch},
	}
	rs, err := RenderImage(p, profiles, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != len(profiles) {
		t.Fatalf("%d renditions for %d profiles", len(rs), len(profiles))
	}
	for i, r := range rs {
		if r.Profile != profiles[i] {
			t.Errorf("rendition %d is for %s, want %s", i, r.Profile.Name(), profiles[i].Name())
		}
		m := checkJPEG(t, r, profiles[i].Width, profiles[i].Height)
		if profiles[i].Width > 1 && !near(m, profiles[i].Width/2, profiles[i].Height/2, orange, 12) {
			t.Errorf("%s: centre is %v, want orange", r.Profile.Name(), m.At(profiles[i].Width/2, profiles[i].Height/2))
		}
	}

	// Contain 400×100 in 200×200: picture 200×50 at rows 75..124, teal above and below.
	m := checkJPEG(t, rs[0], 200, 200)
	for _, y := range []int{0, 40, 70, 130, 160, 199} {
		if !near(m, 100, y, teal, 12) {
			t.Errorf("contain: row %d is %v, want teal letterbox", y, m.At(100, y))
		}
	}
	for _, y := range []int{78, 100, 121} {
		if !near(m, 100, y, orange, 12) {
			t.Errorf("contain: row %d is %v, want picture", y, m.At(100, y))
		}
	}
	// Cover and stretch fill the whole frame.
	for _, r := range rs[1:3] {
		m := checkJPEG(t, r, 200, 200)
		for _, pt := range []image.Point{{1, 1}, {198, 1}, {1, 198}, {198, 198}} {
			if !near(m, pt.X, pt.Y, orange, 12) {
				t.Errorf("%s: corner %v is %v, want picture", r.Profile.Name(), pt, m.At(pt.X, pt.Y))
			}
		}
	}
	// The upscaled contain has black pillars: 1920×1080 holds 1920×480.
	m = checkJPEG(t, rs[3], 1920, 1080)
	if !near(m, 960, 10, color.NRGBA{0, 0, 0, 255}, 6) {
		t.Errorf("default background is %v, want black", m.At(960, 10))
	}
}

// TestRenderCoverCrops checks cover keeps the centre and crops both sides.
func TestRenderCoverCrops(t *testing.T) {
	// 300×100: left third red, middle green, right third blue.
	m := image.NewNRGBA(image.Rect(0, 0, 300, 100))
	cols := []color.NRGBA{{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}}
	for i, c := range cols {
		draw.Draw(m, image.Rect(i*100, 0, i*100+100, 100), image.NewUniform(c), image.Point{}, draw.Src)
	}
	p := writeFile(t, "thirds.png", encode(t, "png", m))
	rs, err := RenderImage(p, []Profile{{Width: 50, Height: 50, Fit: FitCover}, {Width: 150, Height: 50, Fit: FitStretch}}, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	out := checkJPEG(t, rs[0], 50, 50)
	for _, x := range []int{2, 25, 47} {
		if !near(out, x, 25, cols[1], 30) {
			t.Errorf("cover column %d is %v, want green (the centre)", x, out.At(x, 25))
		}
	}
	out = checkJPEG(t, rs[1], 150, 50)
	for i, c := range cols {
		if !near(out, i*50+25, 25, c, 30) {
			t.Errorf("stretch third %d is %v, want %v", i, out.At(i*50+25, 25), c)
		}
	}
}

// TestRenderTransparent composites transparency over each profile's own
// background.
func TestRenderTransparent(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 64, 64)) // fully transparent
	draw.Draw(m, image.Rect(16, 16, 48, 48), image.NewUniform(color.NRGBA{255, 255, 255, 255}), image.Point{}, draw.Src)
	p := writeFile(t, "logo.png", encode(t, "png", m))
	red := color.NRGBA{200, 0, 0, 255}
	blue := color.NRGBA{0, 0, 200, 255}
	rs, err := RenderImage(p, []Profile{
		{Width: 64, Height: 64, Background: red},
		{Width: 32, Height: 32, Fit: FitCover, Background: blue},
	}, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	a := checkJPEG(t, rs[0], 64, 64)
	b := checkJPEG(t, rs[1], 32, 32)
	if !near(a, 3, 3, red, 16) || !near(a, 32, 32, color.NRGBA{255, 255, 255, 255}, 16) {
		t.Errorf("red background: corner %v centre %v", a.At(3, 3), a.At(32, 32))
	}
	if !near(b, 1, 1, blue, 16) || !near(b, 16, 16, color.NRGBA{255, 255, 255, 255}, 16) {
		t.Errorf("blue background: corner %v centre %v", b.At(1, 1), b.At(16, 16))
	}
}

// TestRenderOtherModels covers grey JPEGs, paletted GIFs and 16-bit PNGs.
func TestRenderOtherModels(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 90, 60))
	for i := range gray.Pix {
		gray.Pix[i] = 200
	}
	pal := image.NewPaletted(image.Rect(0, 0, 90, 60), palette.Plan9)
	draw.Draw(pal, pal.Bounds(), image.NewUniform(color.NRGBA{200, 200, 200, 255}), image.Point{}, draw.Src)
	deep := image.NewNRGBA64(image.Rect(0, 0, 90, 60))
	draw.Draw(deep, deep.Bounds(), image.NewUniform(color.NRGBA{200, 200, 200, 255}), image.Point{}, draw.Src)
	cases := map[string][]byte{
		"gray.jpg": encode(t, "jpeg", gray),
		"pal.gif":  encode(t, "gif", pal),
		"deep.png": encode(t, "png", deep),
		"gray.tif": encode(t, "tiff", gray),
	}
	for name, data := range cases {
		p := writeFile(t, name, data)
		rs, err := RenderImage(p, []Profile{{Width: 30, Height: 30, Fit: FitCover}}, DefaultLimits)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m := checkJPEG(t, rs[0], 30, 30)
		if !near(m, 15, 15, color.NRGBA{200, 200, 200, 255}, 8) {
			t.Errorf("%s: centre %v, want grey 200", name, m.At(15, 15))
		}
	}
}

// psnr compares two same-sized pictures.
func psnr(a, b image.Image) float64 {
	bd := a.Bounds()
	var sum float64
	n := 0
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			r1, g1, b1 := rgbAt(a, x, y)
			r2, g2, b2 := rgbAt(b, x, y)
			for _, d := range []int{r1 - r2, g1 - g2, b1 - b2} {
				sum += float64(d * d)
				n++
			}
		}
	}
	if sum == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(sum/float64(n)))
}

// TestRenderMatchesLanczos compares renditions, including ones taking the
// block-average shortcut and ones derived from a larger rendition, with
// imaging's Lanczos resize of the same picture.
func TestRenderMatchesLanczos(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 1200, 900))
	rng := rand.New(rand.NewSource(7))
	for y := 0; y < 900; y++ {
		for x := 0; x < 1200; x++ {
			n := rng.Intn(9) - 4
			src.SetNRGBA(x, y, color.NRGBA{
				clampF(float64(x)/5 + float64(n)),
				clampF(128 + 100*math.Sin(float64(x+y)/60)),
				clampF(float64(y)/4 + float64(n)),
				255})
		}
	}
	profiles := []Profile{
		{Width: 600, Height: 450, Fit: FitStretch},
		{Width: 200, Height: 150, Fit: FitStretch}, // from the 600×450 one
		{Width: 80, Height: 60, Fit: FitContain},   // from the 200×150 one
		{Width: 1600, Height: 1200, Fit: FitStretch},
	}
	// The resampler itself, before JPEG encoding, in the order render uses.
	src1 := &source{orig: toFrame(src, color.NRGBA{}, 2)}
	for _, p := range profiles {
		got := renderProfile(src1, 1, p, 2)
		want := imaging.Resize(src, p.Width, p.Height, imaging.Lanczos)
		if v := psnr(got, want); v < 45 {
			t.Errorf("%s: PSNR %.1f dB against imaging.Resize, want ≥ 45", p.Name(), v)
		}
	}
	if len(src1.stages) != 4 {
		t.Errorf("%d stages kept, want 4", len(src1.stages))
	}
	// Block averaging first (a 15× reduction straight from the original).
	src2 := &source{orig: toFrame(src, color.NRGBA{}, 2)}
	got := renderProfile(src2, 1, Profile{Width: 80, Height: 60, Fit: FitCover}, 1)
	if v := psnr(got, imaging.Resize(src, 80, 60, imaging.Lanczos)); v < 45 {
		t.Errorf("block-averaged 80x60: PSNR %.1f dB, want ≥ 45", v)
	}

	// End to end, where JPEG encoding dominates the difference.
	p := writeFile(t, "photo.png", encode(t, "png", src))
	rs, err := RenderImage(p, profiles, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		got := checkJPEG(t, r, r.Width, r.Height)
		want := imaging.Resize(src, profiles[i].Width, profiles[i].Height, imaging.Lanczos)
		if v := psnr(got, want); v < 28 {
			t.Errorf("%s: PSNR %.1f dB against imaging.Resize, want ≥ 28", r.Profile.Name(), v)
		}
	}
}

// pngChunk frames one PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	binary.Write(&b, binary.BigEndian, crc.Sum32())
	return b.Bytes()
}

// bombPNG is a valid-looking PNG header announcing w×h pixels, with a tiny
// IDAT.
func bombPNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	b.Write(pngChunk("IHDR", ihdr))
	b.Write(pngChunk("IDAT", []byte{0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01}))
	b.Write(pngChunk("IEND", nil))
	return b.Bytes()
}

func TestDecompressionBomb(t *testing.T) {
	p := writeFile(t, "bomb.png", bombPNG(100000, 100000))
	_, err := ProbeImage(p, DefaultLimits)
	if !errors.Is(err, ErrTooManyPixels) {
		t.Fatalf("ProbeImage: %v, want ErrTooManyPixels", err)
	}
	if want := "too large: 100000×100000, the limit is 150 megapixels"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := RenderImage(p, []Profile{{Width: 1920, Height: 1080}}, DefaultLimits); !errors.Is(err, ErrTooManyPixels) {
			t.Fatalf("RenderImage: %v, want ErrTooManyPixels", err)
		}
	})
	runtime.ReadMemStats(&after)
	total := after.TotalAlloc - before.TotalAlloc // 6 runs (one warm-up)
	t.Logf("refusing the bomb: %.0f allocations, %d bytes in 6 runs", allocs, total)
	if total > 10<<20 {
		t.Errorf("refusing the bomb allocated %d bytes, want < 10 MB", total)
	}

	// One side over the limit.
	p = writeFile(t, "tall.png", bombPNG(10, 40000))
	if _, err := ProbeImage(p, DefaultLimits); !errors.Is(err, ErrTooManyPixels) || !strings.Contains(err.Error(), "30000 pixels per side") {
		t.Errorf("tall picture: %v", err)
	}
	// Custom limits.
	p = writeFile(t, "small.png", encode(t, "png", pattern(100, 100)))
	if _, err := ProbeImage(p, Limits{MaxPixels: 9999}); !errors.Is(err, ErrTooManyPixels) || !strings.Contains(err.Error(), "0.009999 megapixels") {
		t.Errorf("custom limit: %v", err)
	}
}

func TestTruncatedJPEG(t *testing.T) {
	m := image.NewRGBA(image.Rect(0, 0, 256, 256))
	rand.New(rand.NewSource(3)).Read(m.Pix)
	data := encode(t, "jpeg", m)
	p := writeFile(t, "cut.jpg", data[:len(data)/2])
	// The header is intact, so probing works.
	if _, err := ProbeImage(p, DefaultLimits); err != nil {
		t.Fatalf("ProbeImage: %v", err)
	}
	_, err := RenderImage(p, []Profile{{Width: 64, Height: 64}}, DefaultLimits)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("RenderImage: %v, want ErrCorrupt", err)
	}
	if want := "damaged: the image data is truncated or corrupt: Premature end of JPEG file"; native.Available && err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	if !strings.HasPrefix(err.Error(), "damaged: the image data is truncated or corrupt: ") {
		t.Errorf("message %q", err)
	}
}

func TestCorruptHeaders(t *testing.T) {
	good := encode(t, "png", pattern(20, 20))
	tests := map[string][]byte{
		"png magic only":   good[:8],
		"png bad ihdr crc": append(append([]byte{}, good[:29]...), 0, 0, 0, 0),
		"jpeg soi only":    {0xFF, 0xD8, 0xFF},
		"gif magic only":   []byte("GIF89a"),
		"tiff bad ifd":     []byte("II*\x00\xff\xff\xff\x7f"),
		"webp no chunks":   []byte("RIFF\x04\x00\x00\x00WEBP"),
		"bmp magic only":   []byte("BM"),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			p := writeFile(t, "x", data)
			if _, err := ProbeImage(p, DefaultLimits); !errors.Is(err, ErrCorrupt) {
				t.Errorf("ProbeImage: %v, want ErrCorrupt", err)
			}
			if _, err := RenderImage(p, []Profile{{Width: 8, Height: 8}}, DefaultLimits); !errors.Is(err, ErrCorrupt) {
				t.Errorf("RenderImage: %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestGarbageBytes(t *testing.T) {
	noise := make([]byte, 4096)
	rand.New(rand.NewSource(9)).Read(noise)
	noise[0] = 'x'
	tests := map[string][]byte{
		"empty": nil,
		"noise": noise,
		"text":  []byte("this is a playlist, not a picture"),
		"pdf":   []byte("%PDF-1.7\n"),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			p := writeFile(t, "poster.jpg", data)
			_, err := ProbeImage(p, DefaultLimits)
			if !errors.Is(err, ErrNotImage) {
				t.Fatalf("ProbeImage: %v, want ErrNotImage", err)
			}
			if err.Error() != "not a supported image (JPEG, PNG, GIF, WebP, BMP, TIFF, HEIC/HEIF, AVIF)" {
				t.Errorf("message %q", err)
			}
			if _, err := RenderImage(p, []Profile{{Width: 8, Height: 8}}, DefaultLimits); !errors.Is(err, ErrNotImage) {
				t.Errorf("RenderImage: %v, want ErrNotImage", err)
			}
		})
	}
}

// exifJPEG inserts an APP1 EXIF segment holding orientation o right after
// the SOI marker; odd orientations use Intel byte order, even Motorola.
func exifJPEG(jpg []byte, o int) []byte {
	var tiffHdr bytes.Buffer
	var bo binary.ByteOrder = binary.BigEndian
	tiffHdr.WriteString("MM\x00*")
	if o%2 == 1 {
		bo = binary.LittleEndian
		tiffHdr.Reset()
		tiffHdr.WriteString("II*\x00")
	}
	binary.Write(&tiffHdr, bo, uint32(8)) // IFD0 offset
	binary.Write(&tiffHdr, bo, uint16(2)) // entries
	// An unrelated tag first (ImageDescription, ASCII, 4 bytes inline).
	binary.Write(&tiffHdr, bo, uint16(0x010E))
	binary.Write(&tiffHdr, bo, uint16(2))
	binary.Write(&tiffHdr, bo, uint32(4))
	tiffHdr.WriteString("abc\x00")
	binary.Write(&tiffHdr, bo, uint16(0x0112))
	binary.Write(&tiffHdr, bo, uint16(3))
	binary.Write(&tiffHdr, bo, uint32(1))
	binary.Write(&tiffHdr, bo, uint16(o))
	binary.Write(&tiffHdr, bo, uint16(0))
	binary.Write(&tiffHdr, bo, uint32(0)) // no next IFD

	payload := append([]byte("Exif\x00\x00"), tiffHdr.Bytes()...)
	var out bytes.Buffer
	out.Write(jpg[:2])
	out.Write([]byte{0xFF, 0xE1})
	binary.Write(&out, binary.BigEndian, uint16(len(payload)+2))
	out.Write(payload)
	out.Write(jpg[2:])
	return out.Bytes()
}

func TestEXIFOrientation(t *testing.T) {
	// Upright: 64×32 with red top-left, green top-right, blue bottom-left,
	// white bottom-right quadrants.
	red := color.NRGBA{255, 0, 0, 255}
	green := color.NRGBA{0, 255, 0, 255}
	blue := color.NRGBA{0, 0, 255, 255}
	white := color.NRGBA{255, 255, 255, 255}
	upright := image.NewNRGBA(image.Rect(0, 0, 64, 32))
	for i, c := range []color.NRGBA{red, green, blue, white} {
		x, y := i%2*32, i/2*16
		draw.Draw(upright, image.Rect(x, y, x+32, y+16), image.NewUniform(c), image.Point{}, draw.Src)
	}
	// How each orientation's stored pixels relate to the upright picture
	// (the inverse of the transform a viewer applies).
	stored := map[int]func(image.Image) *image.NRGBA{
		1: imaging.Clone,
		2: imaging.FlipH,
		3: imaging.Rotate180,
		4: imaging.FlipV,
		5: imaging.Transpose,
		6: imaging.Rotate90,
		7: imaging.Transverse,
		8: imaging.Rotate270,
	}
	for o := 1; o <= 8; o++ {
		s := stored[o](upright)
		p := writeFile(t, "o.jpg", exifJPEG(encode(t, "jpeg", s), o))
		info, err := ProbeImage(p, DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		if info.Orientation != o {
			t.Errorf("orientation %d: probed %d", o, info.Orientation)
		}
		if w, h := info.DisplaySize(); w != 64 || h != 32 {
			t.Errorf("orientation %d: display size %dx%d, want 64x32", o, w, h)
		}
		rs, err := RenderImage(p, []Profile{
			{Width: 128, Height: 64, Fit: FitStretch},
			{Width: 64, Height: 64, Fit: FitContain},
			{Width: 32, Height: 32, Fit: FitCover},
		}, DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		m := checkJPEG(t, rs[0], 128, 64)
		for _, q := range []struct {
			x, y int
			c    color.NRGBA
		}{{32, 16, red}, {96, 16, green}, {32, 48, blue}, {96, 48, white}} {
			if !near(m, q.x, q.y, q.c, 40) {
				t.Errorf("orientation %d stretch: (%d,%d) is %v, want %v", o, q.x, q.y, m.At(q.x, q.y), q.c)
			}
		}
		// Contain puts the 64×32 picture at rows 16..47.
		m = checkJPEG(t, rs[1], 64, 64)
		if !near(m, 16, 24, red, 40) || !near(m, 48, 40, white, 40) || !near(m, 32, 4, color.NRGBA{0, 0, 0, 255}, 10) {
			t.Errorf("orientation %d contain: %v %v %v", o, m.At(16, 24), m.At(16, 40), m.At(32, 4))
		}
		// Cover keeps the middle 32×32: red top-left of it.
		m = checkJPEG(t, rs[2], 32, 32)
		if !near(m, 8, 8, red, 40) || !near(m, 24, 24, white, 40) {
			t.Errorf("orientation %d cover: %v %v", o, m.At(8, 8), m.At(24, 24))
		}
	}
}

func TestParseFitColorName(t *testing.T) {
	for in, want := range map[string]Fit{"": FitContain, "contain": FitContain, "Cover": FitCover, " stretch ": FitStretch} {
		if got, err := ParseFit(in); err != nil || got != want {
			t.Errorf("ParseFit(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseFit("zoom"); err == nil {
		t.Error("ParseFit(zoom) accepted")
	}
	colors := map[string]color.NRGBA{
		"":        {0, 0, 0, 255},
		"#000000": {0, 0, 0, 255},
		"ff8000":  {255, 128, 0, 255},
		"#A0b1C2": {0xa0, 0xb1, 0xc2, 255},
	}
	for in, want := range colors {
		if got, err := ParseColor(in); err != nil || got != want {
			t.Errorf("ParseColor(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"#fff", "red", "#gg0000", "#12345678", "#-12345"} {
		if _, err := ParseColor(bad); err == nil {
			t.Errorf("ParseColor(%q) accepted", bad)
		}
	}
	names := map[string]Profile{
		"1920x1080-contain-000000": {Width: 1920, Height: 1080},
		"384x192-cover-ff8000":     {Width: 384, Height: 192, Fit: FitCover, Background: color.NRGBA{255, 128, 0, 255}},
	}
	for want, p := range names {
		if p.Name() != want {
			t.Errorf("Name = %q, want %q", p.Name(), want)
		}
	}
	if w, h := (ImageInfo{Width: 4, Height: 3, Orientation: 6}).DisplaySize(); w != 3 || h != 4 {
		t.Errorf("DisplaySize for orientation 6 = %dx%d", w, h)
	}
	if w, h := (ImageInfo{Width: 4, Height: 3, Orientation: 3}).DisplaySize(); w != 4 || h != 3 {
		t.Errorf("DisplaySize for orientation 3 = %dx%d", w, h)
	}
	p := writeFile(t, "a.png", encode(t, "png", pattern(4, 4)))
	for _, bad := range []Profile{{Width: 0, Height: 10}, {Width: 10, Height: -1}, {Width: 10, Height: 10, Fit: "zoom"}, {Width: 20000, Height: 10}} {
		if _, err := RenderImage(p, []Profile{bad}, DefaultLimits); err == nil {
			t.Errorf("profile %+v accepted", bad)
		}
	}
}

// FuzzProbeImage feeds arbitrary bytes to ProbeImage and, for small
// pictures, RenderImage: neither may panic, and every failure must be one
// of the package's input errors.
func FuzzProbeImage(f *testing.F) {
	src := pattern(6, 5)
	for _, format := range []string{"jpeg", "png", "gif", "bmp", "tiff"} {
		f.Add(encode(f, format, src))
	}
	f.Add(exifJPEG(encode(f, "jpeg", src), 6))
	f.Add(mustHex(webpLossless))
	f.Add(mustHex(webpLossy))
	f.Add(bombPNG(100000, 100000))
	dir := f.TempDir()
	lim := Limits{MaxPixels: 1 << 16, MaxSide: 1024}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "in")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		info, err := ProbeImage(p, lim)
		if err != nil {
			if !errors.Is(err, ErrNotImage) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooManyPixels) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("ProbeImage: unexpected error %v", err)
			}
			return
		}
		if info.Orientation < 1 || info.Orientation > 8 {
			t.Fatalf("orientation %d", info.Orientation)
		}
		rs, err := RenderImage(p, []Profile{{Width: 8, Height: 6}, {Width: 3, Height: 3, Fit: FitCover}}, lim)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooManyPixels) {
				t.Fatalf("RenderImage: unexpected error %v", err)
			}
			return
		}
		if len(rs) != 2 || rs[0].Width != 8 || rs[1].Height != 3 {
			t.Fatalf("renditions %+v", rs)
		}
	})
}

// TestRenderConcurrent runs several renders at once (the semaphore queues
// them); run with -race.
func TestRenderConcurrent(t *testing.T) {
	p := writeFile(t, "a.jpg", encode(t, "jpeg", pattern(300, 200)))
	want, err := RenderImage(p, []Profile{{Width: 120, Height: 80}, {Width: 40, Height: 40, Fit: FitCover}}, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			rs, err := RenderImage(p, []Profile{{Width: 120, Height: 80}, {Width: 40, Height: 40, Fit: FitCover}}, DefaultLimits)
			if err == nil && (!bytes.Equal(rs[0].Data, want[0].Data) || !bytes.Equal(rs[1].Data, want[1].Data)) {
				err = errors.New("renditions differ between runs")
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
