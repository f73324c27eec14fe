package av

// Animated WebP: FFmpeg 5.1's webp decoder reads stills only (it stops at
// the ANIM/ANMF chunks), so animated WebP files are decoded with libwebp's
// own animation decoder (libwebpdemux) and rewritten as a lossless APNG,
// which FFmpeg reads with every frame's timing and alpha.

//#cgo pkg-config: libwebpdemux
//#include <stdlib.h>
//#include <string.h>
//#include <webp/demux.h>
//
//static WebPAnimDecoder *beacon_webp_open(const uint8_t *data, size_t size) {
//	WebPAnimDecoderOptions opts;
//	if (!WebPAnimDecoderOptionsInit(&opts)) return NULL;
//	opts.color_mode = MODE_RGBA;
//	opts.use_threads = 0;
//	WebPData d = { data, size };
//	return WebPAnimDecoderNew(&d, &opts);
//}
import "C"

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"os"
	"strconv"
	"unsafe"
)

// AnimatedWebP reports whether the file is a WebP with its animation flag
// set.
func AnimatedWebP(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [21]byte
	if n, _ := io.ReadFull(f, b[:]); n < 21 {
		return false
	}
	return string(b[0:4]) == "RIFF" && string(b[8:12]) == "WEBP" && string(b[12:16]) == "VP8X" && b[20]&0x02 != 0
}

// maxWebPFile bounds the animated WebP files decoded (they are read into
// memory whole).
const maxWebPFile = 512 << 20

// PrepareInput returns the file FFmpeg should read for in: in itself, or,
// for an animated WebP, an APNG made from it in dir (removed by cleanup):
// of its first maxFrames frames when maxFrames > 0 (enough to probe it).
func PrepareInput(in, dir string, maxFrames int) (path string, cleanup func(), err error) {
	if !AnimatedWebP(in) {
		return in, func() {}, nil
	}
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := os.CreateTemp(dir, PartialPrefix+strconv.Itoa(os.Getpid())+"-anim-*.png")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.Remove(f.Name()) }
	err = webpToAPNG(in, f, maxFrames)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		cleanup()
		return "", nil, err
	}
	return f.Name(), cleanup, nil
}

func webpToAPNG(in string, w io.Writer, maxFrames int) error {
	st, err := os.Stat(in)
	if err != nil {
		return err
	}
	if st.Size() > maxWebPFile {
		return fmt.Errorf("%w: animated WebP of %d bytes; the limit is %d", ErrAbsurd, st.Size(), maxWebPFile)
	}
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	cdata := C.CBytes(data)
	defer C.free(cdata)
	dec := C.beacon_webp_open((*C.uint8_t)(cdata), C.size_t(len(data)))
	if dec == nil {
		return fmt.Errorf("%w: the animated WebP cannot be read", ErrCorrupt)
	}
	defer C.WebPAnimDecoderDelete(dec)
	var info C.WebPAnimInfo
	if C.WebPAnimDecoderGetInfo(dec, &info) == 0 {
		return fmt.Errorf("%w: the animated WebP cannot be read", ErrCorrupt)
	}
	W, H := int(info.canvas_width), int(info.canvas_height)
	if W > MaxWidth || H > MaxHeight {
		return absurdSize(W, H)
	}
	frames := int(info.frame_count)
	if maxFrames > 0 {
		frames = min(frames, maxFrames)
	}
	aw := &apngWriter{w: w, frames: frames, loops: int(info.loop_count)}
	img := image.NewNRGBA(image.Rect(0, 0, W, H))
	prev := 0
	n := 0
	for n < frames && C.WebPAnimDecoderHasMoreFrames(dec) != 0 {
		var buf *C.uint8_t
		var ts C.int
		if C.WebPAnimDecoderGetNext(dec, &buf, &ts) == 0 {
			return fmt.Errorf("%w: frame %d of the animated WebP cannot be decoded", ErrCorrupt, n+1)
		}
		copy(img.Pix, unsafe.Slice((*byte)(unsafe.Pointer(buf)), W*H*4))
		d := int(ts) - prev
		prev = int(ts)
		if err := aw.frame(img, d); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("%w: the animated WebP has no frames", ErrCorrupt)
	}
	return aw.end(n)
}

// apngWriter writes an APNG of full-canvas frames, each replacing the last.
type apngWriter struct {
	w      io.Writer
	frames int // announced in acTL
	loops  int
	seq    uint32
	n      int
	err    error
	enc    png.Encoder
	buf    bytes.Buffer
}

func (a *apngWriter) chunk(typ string, data []byte) {
	if a.err != nil {
		return
	}
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(data)))
	copy(hdr[4:], typ)
	crc := crc32.NewIEEE()
	crc.Write(hdr[4:])
	crc.Write(data)
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc.Sum32())
	for _, b := range [][]byte{hdr[:], data, sum[:]} {
		if _, err := a.w.Write(b); err != nil {
			a.err = err
			return
		}
	}
}

// frame adds one picture shown for ms milliseconds.
func (a *apngWriter) frame(img *image.NRGBA, ms int) error {
	a.buf.Reset()
	a.enc.CompressionLevel = png.BestSpeed
	if err := a.enc.Encode(&a.buf, img); err != nil {
		return err
	}
	chunks, err := pngChunks(a.buf.Bytes())
	if err != nil {
		return err
	}
	if a.n == 0 {
		if _, err := a.w.Write([]byte("\x89PNG\r\n\x1a\n")); err != nil {
			return err
		}
		a.chunk("IHDR", chunks["IHDR"][0])
		actl := make([]byte, 8)
		binary.BigEndian.PutUint32(actl, uint32(a.frames))
		binary.BigEndian.PutUint32(actl[4:], uint32(a.loops))
		a.chunk("acTL", actl)
	}
	num, den := ms, 1000
	if num > 65535 {
		num, den = ms/10, 100
	}
	fctl := make([]byte, 26)
	binary.BigEndian.PutUint32(fctl, a.seq)
	binary.BigEndian.PutUint32(fctl[4:], uint32(img.Rect.Dx()))
	binary.BigEndian.PutUint32(fctl[8:], uint32(img.Rect.Dy()))
	binary.BigEndian.PutUint16(fctl[20:], uint16(min(num, 65535)))
	binary.BigEndian.PutUint16(fctl[22:], uint16(den))
	// dispose_op 0 (none), blend_op 0 (source): the frame replaces the canvas.
	a.chunk("fcTL", fctl)
	a.seq++
	for _, d := range chunks["IDAT"] {
		if a.n == 0 {
			a.chunk("IDAT", d)
			continue
		}
		fd := make([]byte, 4+len(d))
		binary.BigEndian.PutUint32(fd, a.seq)
		copy(fd[4:], d)
		a.chunk("fdAT", fd)
		a.seq++
	}
	a.n++
	return a.err
}

func (a *apngWriter) end(n int) error {
	if n != a.frames {
		return errors.New("av: animated WebP frame count changed while decoding")
	}
	a.chunk("IEND", nil)
	return a.err
}

// pngChunks splits an encoded PNG into its chunks' payloads by type.
func pngChunks(b []byte) (map[string][][]byte, error) {
	out := map[string][][]byte{}
	if len(b) < 8 {
		return nil, errors.New("av: short PNG")
	}
	b = b[8:]
	for len(b) >= 12 {
		n := int(binary.BigEndian.Uint32(b))
		if n < 0 || 12+n > len(b) {
			return nil, errors.New("av: malformed PNG chunk")
		}
		typ := string(b[4:8])
		out[typ] = append(out[typ], b[8:8+n])
		b = b[12+n:]
	}
	return out, nil
}
