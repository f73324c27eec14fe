package av

import (
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"strconv"

	"github.com/asticode/go-astiav"
)

// RasterSVG renders an SVG document (already sanitised by media.SanitizeSVG)
// with librsvg, through FFmpeg's librsvg decoder, into a PNG of exactly
// w×h pixels (the drawing is scaled to that size, so it is as sharp as the
// screen allows). With w and h 0 it renders at the document's own size, or
// librsvg's measure of the drawing when the document gives none. It
// returns the size written.
func RasterSVG(in, out string, w, h int) (int, int, error) {
	initFFmpeg()
	if w < 0 || h < 0 || w > MaxWidth || h > MaxHeight {
		return 0, 0, absurdSize(w, h)
	}
	codec := astiav.FindDecoderByName("librsvg")
	if codec == nil {
		return 0, 0, errors.New("av: this FFmpeg has no librsvg decoder")
	}
	fc := astiav.AllocFormatContext()
	if fc == nil {
		return 0, 0, errors.New("av: cannot allocate a format context")
	}
	if err := fc.OpenInput(in, astiav.FindInputFormat("svg_pipe"), nil); err != nil {
		fc.Free()
		return 0, 0, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	defer closeInput(fc)
	if len(fc.Streams()) == 0 {
		return 0, 0, fmt.Errorf("%w: no picture", ErrCorrupt)
	}
	cc := astiav.AllocCodecContext(codec)
	if cc == nil {
		return 0, 0, errors.New("av: cannot allocate a decoder")
	}
	defer cc.Free()
	opts := astiav.NewDictionary()
	defer opts.Free()
	if w > 0 && h > 0 {
		_ = opts.Set("width", strconv.Itoa(w), 0)
		_ = opts.Set("height", strconv.Itoa(h), 0)
		_ = opts.Set("keep_ar", "0", 0)
	}
	if err := cc.Open(codec, opts); err != nil {
		return 0, 0, fmt.Errorf("av: opening librsvg: %w", err)
	}
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	frame := astiav.AllocFrame()
	defer frame.Free()
	if err := fc.ReadFrame(pkt); err != nil {
		return 0, 0, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if err := cc.SendPacket(pkt); err != nil {
		return 0, 0, fmt.Errorf("%w: the SVG cannot be rendered: %v", ErrCorrupt, err)
	}
	_ = cc.SendPacket(nil)
	if err := cc.ReceiveFrame(frame); err != nil {
		return 0, 0, fmt.Errorf("%w: the SVG cannot be rendered: %v", ErrCorrupt, err)
	}
	fw, fh := frame.Width(), frame.Height()
	if fw > MaxWidth || fh > MaxHeight {
		return 0, 0, absurdSize(fw, fh)
	}
	if pf := frame.PixelFormat().Name(); pf != "bgra" {
		return 0, 0, fmt.Errorf("av: librsvg gave %s pictures, not bgra", pf)
	}
	n, err := frame.ImageBufferSize(1)
	if err != nil {
		return 0, 0, err
	}
	buf := make([]byte, n)
	if _, err := frame.ImageCopyToBuffer(buf, 1); err != nil {
		return 0, 0, err
	}
	// Cairo's pixels are premultiplied BGRA: Go's RGBA is premultiplied too.
	img := image.NewRGBA(image.Rect(0, 0, fw, fh))
	for i := 0; i+3 < len(buf) && i+3 < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = buf[i+2], buf[i+1], buf[i], buf[i+3]
	}
	f, err := os.Create(out)
	if err != nil {
		return 0, 0, err
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(f, img); err != nil {
		f.Close()
		return 0, 0, err
	}
	return fw, fh, f.Close()
}
