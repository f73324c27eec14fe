// Package corpus builds, for tests, the still pictures people upload that
// need more than Go's own decoders: HEIC and AVIF (with rotations,
// thumbnails, alpha, 10-bit), Ultra HDR and CMYK JPEGs, bit-field BMPs, a
// tiled CMYK TIFF with JPEG compression, and the damaged, unsupported and
// oversized variants that must be refused, each with the outcome the
// server must give it. The files are made with the real tools (heif-enc,
// avifenc, ImageMagick's convert, ffmpeg) in a temporary directory; a case
// whose tool is missing is left out and named by Skipped.
package corpus

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Outcome kinds.
const (
	Ready       = "ready"
	TooLarge    = "too large"
	Unsupported = "not supported"
	Damaged     = "damaged"
)

// Case is one file and what must become of it.
type Case struct {
	Name   string
	Path   string
	Format string // the media package's format name
	Want   string // Ready, TooLarge, Unsupported or Damaged
	// For Ready: the displayed size, and which quarter of the upright
	// picture holds the red mark ("tl", "tr", "bl" or "br"); "" when the
	// picture has no mark.
	Width, Height int
	Red           string
	// For refusals: text the message must contain.
	Message string
	// GoRefuses: Go's own decoder cannot read this file (the reason for a
	// second decoder).
	GoRefuses bool
}

// Source size of the marked pictures.
const W, H = 320, 240

// Marked is a W×H picture, blue with a red top-left quarter, so a test can
// tell where its top-left corner ends up.
func Marked() *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, W, H))
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			c := color.NRGBA{20, 40, 220, 255}
			if x < W/2 && y < H/2 {
				c = color.NRGBA{230, 20, 20, 255}
			}
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}

// Build writes the corpus into dir. big adds a 200-megapixel JPEG (a
// phone's largest photo), which takes longer to make.
func Build(t testing.TB, dir string, big bool) (cases []Case, skipped []string) {
	t.Helper()
	src := filepath.Join(dir, "marked.png")
	writePNG(t, src, Marked())
	alpha := Marked()
	for i := 3; i < len(alpha.Pix); i += 4 {
		if (i/4)%W >= W*3/4 {
			alpha.Pix[i] = 0
		}
	}
	srcAlpha := filepath.Join(dir, "alpha.png")
	writePNG(t, srcAlpha, alpha)

	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, Marked(), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	base := buf.Bytes()

	have := func(tool string) bool { _, err := exec.LookPath(tool); return err == nil }
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	add := func(c Case) { cases = append(cases, c) }
	ready := func(name, path, format string, w, h int, red string) {
		add(Case{Name: name, Path: path, Format: format, Want: Ready, Width: w, Height: h, Red: red})
	}

	if have("heif-enc") {
		run("heif-enc", "-q", "70", src, "-o", p("plain.heic"))
		ready("heic", p("plain.heic"), "heic", W, H, "tl")
		run("heif-enc", "-q", "70", "-t", "64", src, "-o", p("thumb.heic"))
		ready("heic with a thumbnail", p("thumb.heic"), "heic", W, H, "tl")
		run("heif-enc", "-q", "70", srcAlpha, "-o", p("alpha.heic"))
		ready("heic with alpha", p("alpha.heic"), "heic", W, H, "tl")
		// A 16-bit PNG makes heif-enc write a 10-bit HEIC, as HDR phones do.
		src16 := p("marked16.png")
		m16 := image.NewNRGBA64(image.Rect(0, 0, W, H))
		draw.Draw(m16, m16.Rect, Marked(), image.Point{}, draw.Src)
		writePNG(t, src16, m16)
		run("heif-enc", "-q", "70", "-b", "10", src16, "-o", p("ten.heic"))
		ready("heic 10-bit", p("ten.heic"), "heic", W, H, "tl")
		// A 2×2 grid of 160×120 tiles, as iPhones store photos, plain and
		// rotated as a whole.
		var tiles [][]byte
		for ty := 0; ty < 2; ty++ {
			for tx := 0; tx < 2; tx++ {
				tile := Marked().SubImage(image.Rect(tx*W/2, ty*H/2, (tx+1)*W/2, (ty+1)*H/2))
				tp := p(fmt.Sprintf("tile%d%d.png", ty, tx))
				writePNG(t, tp, tile)
				run("heif-enc", "-q", "70", tp, "-o", tp+".heic")
				tiles = append(tiles, readFile(t, tp+".heic"))
			}
		}
		for _, g := range []struct {
			name, file string
			irot       int
			w, h       int
			red        string
		}{{"heic grid of 2×2 tiles", "grid.heic", 0, W, H, "tl"}, {"heic grid rotated (irot)", "grid-irot90.heic", 1, H, W, "bl"}} {
			grid, err := GridHEIC(tiles, 2, 2, W/2, H/2, g.irot)
			if err != nil {
				t.Fatalf("grid: %v", err)
			}
			writeFile(t, p(g.file), grid)
			ready(g.name, p(g.file), "heic", g.w, g.h, g.red)
		}
		// A portrait photo with a depth map stored first: the picture is
		// shown, not the depth map.
		depthPNG := p("depth.png")
		writePNG(t, depthPNG, gainMapImage())
		run("heif-enc", "-q", "70", depthPNG, "-o", depthPNG+".heic")
		if d, err := DepthHEIC(readFile(t, p("plain.heic")), readFile(t, depthPNG+".heic"), W, H, W/4, H/4); err != nil {
			t.Fatal(err)
		} else {
			writeFile(t, p("depth.heic"), d)
			ready("heic with a depth map", p("depth.heic"), "heic", W, H, "tl")
		}
		// A grid whose own size is small but whose tiles claim to be huge:
		// inconsistent, so damaged (and never allocated).
		grid, err := GridHEIC(tiles, 2, 2, W/2, H/2, 0)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(grid, []byte("ispe")); i > 0 { // the tiles' ispe comes first
			binary.BigEndian.PutUint32(grid[i+8:], 20000)
			binary.BigEndian.PutUint32(grid[i+12:], 20000)
			writeFile(t, p("grid-tile-bomb.heic"), grid)
			add(Case{Name: "heic grid with 20000×20000 tiles", Path: p("grid-tile-bomb.heic"), Format: "heic", Want: Damaged, Message: "Invalid grid data"})
		}
		// A HEIC whose only orientation is EXIF's (heif-enc 1.15 copies a
		// JPEG's EXIF and writes no irot): orientation 6 turns it clockwise.
		j6 := p("exif6.jpg")
		writeFile(t, j6, WithEXIFOrientation(base, 6))
		run("heif-enc", "-q", "70", j6, "-o", p("exif6.heic"))
		ready("heic with EXIF orientation only", p("exif6.heic"), "heic", H, W, "tr")
		// As phones write: the rotation as irot (3: 270° anticlockwise)
		// and the same in EXIF; it is applied once.
		both := readFile(t, p("exif6.heic"))
		if replaceProperty(both, "pixi", "irot", 3) {
			writeFile(t, p("irot-and-exif.heic"), both)
			ready("heic with irot and the same EXIF orientation", p("irot-and-exif.heic"), "heic", H, W, "tr")
		}
		// irot 1 is 90° anticlockwise: the top-left corner goes bottom-left.
		rot := readFile(t, p("plain.heic"))
		if replaceProperty(rot, "pixi", "irot", 1) {
			writeFile(t, p("irot90.heic"), rot)
			ready("heic rotated (irot)", p("irot90.heic"), "heic", H, W, "bl")
		} else {
			skipped = append(skipped, "heic rotated (irot): no pixi property to replace")
		}
		huge := readFile(t, p("plain.heic"))
		if setISPE(huge, 20000, 20000) {
			writeFile(t, p("huge.heic"), huge)
			add(Case{Name: "heic announcing 20000×20000", Path: p("huge.heic"), Format: "heic", Want: TooLarge, Message: "too large: 20000×20000, the limit is 150 megapixels"})
		}
		writeFile(t, p("avc.heif"), OtherCodecHEIF("avc1", W, H))
		add(Case{Name: "heif coded with H.264", Path: p("avc.heif"), Format: "heif", Want: Unsupported, Message: `coded as "avc1"`})
		plain := readFile(t, p("plain.heic"))
		writeFile(t, p("cut.heic"), plain[:len(plain)*2/3])
		add(Case{Name: "heic cut short", Path: p("cut.heic"), Format: "heic", Want: Damaged, Message: "damaged"})
	} else {
		skipped = append(skipped, "HEIC cases: heif-enc is missing (apt-get install libheif-examples)")
	}

	if have("avifenc") {
		run("avifenc", "-j", "1", "-s", "8", src, p("plain.avif"))
		ready("avif", p("plain.avif"), "avif", W, H, "tl")
		run("avifenc", "-j", "1", "-s", "8", "-d", "10", src, p("ten.avif"))
		ready("avif 10-bit", p("ten.avif"), "avif", W, H, "tl")
		// irot 3 is 270° anticlockwise: the top-left corner goes top-right.
		run("avifenc", "-j", "1", "-s", "8", "--irot", "3", src, p("irot270.avif"))
		ready("avif rotated (irot)", p("irot270.avif"), "avif", H, W, "tr")
		// Mirroring (imir): mode 0 exchanges top and bottom, 1 left and right.
		run("avifenc", "-j", "1", "-s", "8", "--imir", "0", src, p("imir0.avif"))
		ready("avif mirrored top to bottom (imir)", p("imir0.avif"), "avif", W, H, "bl")
		run("avifenc", "-j", "1", "-s", "8", "--imir", "1", src, p("imir1.avif"))
		ready("avif mirrored left to right (imir)", p("imir1.avif"), "avif", W, H, "tr")
		// A centred crop (clap) to 160×120: the red quarter stays top-left.
		run("avifenc", "-j", "1", "-s", "8", "--clap", "160,1,120,1,0,1,0,1", src, p("clap.avif"))
		ready("avif cropped (clap)", p("clap.avif"), "avif", W/2, H/2, "tl")
		// The same crop of a picture whose coded size is 20000×20000: the
		// displayed size is small, what decoding would allocate is not.
		bomb := readFile(t, p("clap.avif"))
		if setISPE(bomb, 20000, 20000) {
			writeFile(t, p("clap-bomb.avif"), bomb)
			add(Case{Name: "avif cropped from 20000×20000", Path: p("clap-bomb.avif"), Format: "avif", Want: TooLarge, Message: "too large: 20000×20000, the limit is 150 megapixels"})
		}
		// An animated AVIF (an image sequence with a still first frame):
		// the still is shown.
		run("avifenc", "-j", "1", "-s", "8", src, srcAlpha, p("sequence.avif"))
		ready("avif image sequence", p("sequence.avif"), "avif", W, H, "tl")
		run("avifenc", "-j", "1", "-s", "8", srcAlpha, p("alpha.avif"))
		ready("avif with alpha", p("alpha.avif"), "avif", W, H, "tl")
		plain := readFile(t, p("plain.avif"))
		writeFile(t, p("cut.avif"), plain[:len(plain)*2/3])
		add(Case{Name: "avif cut short", Path: p("cut.avif"), Format: "avif", Want: Damaged, Message: "damaged"})
	} else {
		skipped = append(skipped, "AVIF cases: avifenc is missing (apt-get install libavif-bin)")
	}

	// JPEGs.
	writeFile(t, p("ultrahdr.jpg"), UltraHDR(base, gainMap(t)))
	ready("jpeg Ultra HDR (gain map appended)", p("ultrahdr.jpg"), "jpeg", W, H, "tl")
	// Phone and camera encoders sometimes end the last scan a few bits
	// short of its final blocks; libjpeg pads them (a warning), browsers
	// show the picture, Go's decoder refuses it ("short Huffman data").
	short := append(append([]byte{}, base[:len(base)-6]...), 0xFF, 0xD9)
	writeFile(t, p("short-scan.jpg"), short)
	add(Case{Name: "jpeg whose last scan ends short", Path: p("short-scan.jpg"), Format: "jpeg", Want: Ready, Width: W, Height: H, Red: "tl", GoRefuses: true})
	twelve := append([]byte{}, base...)
	if setSOF(twelve, 12, 0, 0) {
		writeFile(t, p("twelve.jpg"), twelve)
		add(Case{Name: "jpeg 12-bit", Path: p("twelve.jpg"), Format: "jpeg", Want: Unsupported, Message: "not supported"})
	}
	bomb := append([]byte{}, base...)
	if setSOF(bomb, 8, 40000, 40000) {
		writeFile(t, p("bomb.jpg"), bomb)
		add(Case{Name: "jpeg announcing 40000×40000", Path: p("bomb.jpg"), Format: "jpeg", Want: TooLarge, Message: "too large: 40000×40000, the limit is 600 megapixels"})
	}
	writeFile(t, p("cut.jpg"), base[:len(base)/2])
	add(Case{Name: "jpeg cut short", Path: p("cut.jpg"), Format: "jpeg", Want: Damaged, Message: "damaged"})
	if have("convert") {
		run("convert", src, "-interlace", "JPEG", "-quality", "90", p("progressive.jpg"))
		ready("jpeg progressive", p("progressive.jpg"), "jpeg", W, H, "tl")
		run("convert", src, "-colorspace", "CMYK", "-quality", "90", p("cmyk.jpg"))
		ready("jpeg CMYK (Adobe)", p("cmyk.jpg"), "jpeg", W, H, "tl")
		run("convert", src, "-colorspace", "CMYK", "-compress", "JPEG", "-define", "tiff:tile-geometry=64x64", p("tiled-cmyk-jpeg.tif"))
		ready("tiff tiled CMYK JPEG-compressed", p("tiled-cmyk-jpeg.tif"), "tiff", W, H, "tl")
		run("convert", src, "-colorspace", "Lab", p("lab.tif"))
		ready("tiff CIELab", p("lab.tif"), "tiff", W, H, "tl")
		run("convert", src, "-depth", "32", "-define", "quantum:format=floating-point", "-compress", "zip", p("float.tif"))
		add(Case{Name: "tiff with floating-point samples", Path: p("float.tif"), Format: "tiff", Want: Unsupported, Message: "can not handle"})
		run("convert", srcAlpha, "-define", "bmp:subtype=ARGB4444", p("argb4444.bmp"))
		ready("bmp 16-bit ARGB4444", p("argb4444.bmp"), "bmp", W, H, "tl")
	} else {
		skipped = append(skipped, "ImageMagick cases: convert is missing (apt-get install imagemagick)")
	}
	writeFile(t, p("rgba32.bmp"), BitfieldsBMP(alpha))
	ready("bmp 32-bit with alpha (bit fields)", p("rgba32.bmp"), "bmp", W, H, "tl")

	if big {
		if have("ffmpeg") {
			run("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=16384x12288", "-frames:v", "1", "-q:v", "3", "-pix_fmt", "yuvj420p", p("200mp.jpg"))
			ready("jpeg 200 megapixels", p("200mp.jpg"), "jpeg", 16384, 12288, "")
		} else {
			skipped = append(skipped, "200-megapixel JPEG: ffmpeg is missing")
		}
	}
	return cases, skipped
}

// gainMapImage is a small grey ramp, standing in for an Ultra HDR gain map
// or a depth map.
func gainMapImage() *image.Gray {
	g := image.NewGray(image.Rect(0, 0, W/4, H/4))
	for i := range g.Pix {
		g.Pix[i] = uint8(i)
	}
	return g
}

// gainMap is gainMapImage as a JPEG.
func gainMap(t testing.TB) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, gainMapImage(), &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// UltraHDR lays a JPEG out as Android's Ultra HDR format does: the primary
// picture with an XMP hdrgm segment and an MPF (APP2) index naming a
// second picture, the gain map, which follows the primary's EOI.
func UltraHDR(primary, gain []byte) []byte {
	xmp := []byte("http://ns.adobe.com/xap/1.0/\x00" +
		`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">` +
		`<rdf:Description xmlns:hdrgm="http://ns.adobe.com/hdr-gain-map/1.0/" hdrgm:Version="1.0"/></rdf:RDF></x:xmpmeta>`)
	seg := func(marker byte, payload []byte) []byte {
		out := []byte{0xFF, marker, 0, 0}
		binary.BigEndian.PutUint16(out[2:], uint16(len(payload)+2))
		return append(out, payload...)
	}
	// MPF: "MPF\0", then a little TIFF-like header with one MP entry list.
	mpfLen := 4 + 8 + 2 + 3*12 + 4 + 2*16
	mpfSegLen := 4 + mpfLen
	xmpSeg := seg(0xE1, xmp)
	primaryLen := len(primary) + len(xmpSeg) + mpfSegLen
	mp := new(bytes.Buffer)
	mp.WriteString("MPF\x00")
	le := binary.BigEndian
	w := func(v any) { binary.Write(mp, le, v) }
	mp.WriteString("MM\x00\x2A")
	w(uint32(8))
	w(uint16(3))
	w([]uint16{0xB000, 7}) // version
	w(uint32(4))
	mp.WriteString("0100")
	w([]uint16{0xB001, 4}) // number of images
	w(uint32(1))
	w(uint32(2))
	w([]uint16{0xB002, 7}) // MP entries
	w(uint32(32))
	w(uint32(8 + 2 + 3*12 + 4))
	w(uint32(0)) // next IFD
	// Entry 1: the primary; entry 2: the gain map, offset from the MPF header.
	w([]uint32{0x030000, uint32(primaryLen), 0, 0})
	mpfHeaderPos := 2 + len(xmpSeg) + 4 + 4 // SOI, XMP, APP2 marker+len, "MPF\0"
	w([]uint32{0, uint32(len(gain)), uint32(primaryLen - mpfHeaderPos), 0})
	out := append([]byte{}, primary[:2]...)
	out = append(out, xmpSeg...)
	out = append(out, seg(0xE2, mp.Bytes())...)
	out = append(out, primary[2:]...)
	return append(out, gain...)
}

// BitfieldsBMP writes m as a 32-bit BMP with a 40-byte header and
// BI_BITFIELDS masks in RGBA byte order (not Go's default BGRA).
func BitfieldsBMP(m *image.NRGBA) []byte {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	const hdr = 14 + 40 + 16
	b := make([]byte, hdr+4*w*h)
	le := binary.LittleEndian
	copy(b, "BM")
	le.PutUint32(b[2:], uint32(len(b)))
	le.PutUint32(b[10:], hdr)
	le.PutUint32(b[14:], 40)
	le.PutUint32(b[18:], uint32(w))
	le.PutUint32(b[22:], uint32(h))
	le.PutUint16(b[26:], 1)
	le.PutUint16(b[28:], 32)
	le.PutUint32(b[30:], 6) // BI_ALPHABITFIELDS: four masks follow
	le.PutUint32(b[34:], uint32(4*w*h))
	for i, mask := range []uint32{0x000000ff, 0x0000ff00, 0x00ff0000, 0xff000000} {
		le.PutUint32(b[54+4*i:], mask)
	}
	for y := 0; y < h; y++ {
		row := b[hdr+4*w*(h-1-y):]
		copy(row[:4*w], m.Pix[y*m.Stride:y*m.Stride+4*w])
	}
	return b
}

// replaceProperty turns the first `from` item property box into a `to`
// box of the same length whose first payload byte is v (for example pixi
// into irot), so no offset in the file moves.
func replaceProperty(b []byte, from, to string, v byte) bool {
	i := bytes.Index(b, []byte(from))
	if i < 4 || i+5 > len(b) {
		return false
	}
	copy(b[i:], to)
	b[i+4] = v
	return true
}

// setISPE rewrites every ispe (image spatial extents) box's size.
func setISPE(b []byte, w, h uint32) bool {
	found := false
	for off := 0; ; {
		i := bytes.Index(b[off:], []byte("ispe"))
		if i < 0 || off+i+16 > len(b) {
			return found
		}
		i += off
		binary.BigEndian.PutUint32(b[i+8:], w)
		binary.BigEndian.PutUint32(b[i+12:], h)
		found = true
		off = i + 16
	}
}

// setSOF rewrites the frame header's precision and, when w and h are not
// 0, its size.
func setSOF(b []byte, precision int, w, h uint16) bool {
	for i := 2; i+9 < len(b); {
		if b[i] != 0xFF {
			return false
		}
		m := b[i+1]
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if m == 0xC0 || m == 0xC1 || m == 0xC2 {
			b[i+4] = byte(precision)
			if w != 0 {
				binary.BigEndian.PutUint16(b[i+5:], h)
				binary.BigEndian.PutUint16(b[i+7:], w)
			}
			return true
		}
		i += 2 + n
	}
	return false
}

func writePNG(t testing.TB, path string, m image.Image) {
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, b.Bytes())
}

func writeFile(t testing.TB, path string, b []byte) {
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RedQuarter says which quarter of an upright picture is red, or "" when
// not exactly one is.
func RedQuarter(m image.Image) string {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	found := ""
	for _, q := range []struct {
		name string
		x, y int
	}{{"tl", w / 4, h / 4}, {"tr", 3 * w / 4, h / 4}, {"bl", w / 4, 3 * h / 4}, {"br", 3 * w / 4, 3 * h / 4}} {
		r, g, bb, _ := m.At(b.Min.X+q.x, b.Min.Y+q.y).RGBA()
		if r>>8 > 150 && g>>8 < 100 && bb>>8 < 100 {
			if found != "" {
				return ""
			}
			found = q.name
		}
	}
	return found
}

// String describes the expected outcome.
func (c Case) String() string {
	if c.Want == Ready {
		return fmt.Sprintf("%s: ready %d×%d", c.Name, c.Width, c.Height)
	}
	return fmt.Sprintf("%s: refused (%s)", c.Name, c.Message)
}

// WithEXIFOrientation inserts an EXIF segment holding only an orientation
// tag after a JPEG's SOI.
func WithEXIFOrientation(jpg []byte, orientation uint16) []byte {
	tiff := []byte("II*\x00\x08\x00\x00\x00\x01\x00")
	tiff = binary.LittleEndian.AppendUint16(tiff, 0x0112)
	tiff = binary.LittleEndian.AppendUint16(tiff, 3)
	tiff = binary.LittleEndian.AppendUint32(tiff, 1)
	tiff = binary.LittleEndian.AppendUint16(tiff, orientation)
	tiff = append(tiff, 0, 0, 0, 0, 0, 0)
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append(append([]byte{}, jpg[:2]...), seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}
