package media

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// Fit says how a picture is fitted into a profile's exact size.
type Fit string

const (
	// FitContain scales the picture to fit inside the profile and fills the
	// rest (letterbox or pillarbox) with the profile's Background.
	FitContain Fit = "contain"
	// FitCover scales the picture to fill the profile and crops the overflow
	// equally on both sides.
	FitCover Fit = "cover"
	// FitStretch scales each axis independently to the profile's size.
	FitStretch Fit = "stretch"
)

// ParseFit parses a fit mode; "" means FitContain.
func ParseFit(s string) (Fit, error) {
	switch f := Fit(strings.ToLower(strings.TrimSpace(s))); f {
	case "":
		return FitContain, nil
	case FitContain, FitCover, FitStretch:
		return f, nil
	}
	return "", fmt.Errorf("unknown fit %q: want contain, cover or stretch", s)
}

// Profile is one output size for a screen.
type Profile struct {
	Width, Height int
	Fit           Fit         // "" means FitContain
	Background    color.NRGBA // letterbox colour for contain, and what shows through transparent pixels; alpha is ignored (zero value: black)
}

// Name identifies the profile, e.g. "1920x1080-contain-000000".
func (p Profile) Name() string {
	return fmt.Sprintf("%dx%d-%s-%02x%02x%02x", p.Width, p.Height, p.fit(), p.Background.R, p.Background.G, p.Background.B)
}

func (p Profile) fit() Fit {
	if p.Fit == "" {
		return FitContain
	}
	return p.Fit
}

// maxProfileSide bounds a profile's sides (well above any screen).
const maxProfileSide = 16384

func (p Profile) validate() error {
	if p.Width < 1 || p.Height < 1 || p.Width > maxProfileSide || p.Height > maxProfileSide {
		return fmt.Errorf("media: invalid profile size %dx%d (each side must be 1..%d)", p.Width, p.Height, maxProfileSide)
	}
	switch p.fit() {
	case FitContain, FitCover, FitStretch:
		return nil
	}
	return fmt.Errorf("media: unknown fit %q", p.Fit)
}

// ParseColor parses "#rrggbb" or "rrggbb"; "" means opaque black.
func ParseColor(hex string) (color.NRGBA, error) {
	s := strings.TrimPrefix(strings.TrimSpace(hex), "#")
	if s == "" {
		return color.NRGBA{A: 255}, nil
	}
	if len(s) != 6 {
		return color.NRGBA{}, fmt.Errorf("invalid colour %q: want #rrggbb", hex)
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return color.NRGBA{}, fmt.Errorf("invalid colour %q: want #rrggbb", hex)
	}
	return color.NRGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 255}, nil
}

// Limits bound the pictures the package agrees to decode. A zero field
// means the DefaultLimits value.
type Limits struct {
	MaxPixels int64 // width × height
	MaxSide   int   // longest side
	Anim      AnimLimits
}

// DefaultLimits allow any real photograph or poster while refusing
// decompression bombs.
var DefaultLimits = Limits{MaxPixels: 150_000_000, MaxSide: 30000}

func (l Limits) withDefaults() Limits {
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultLimits.MaxPixels
	}
	if l.MaxSide <= 0 {
		l.MaxSide = DefaultLimits.MaxSide
	}
	return l
}

// check refuses dimensions over the limits.
func (l Limits) check(w, h int) error {
	l = l.withDefaults()
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: image has no pixels (%d×%d)", ErrCorrupt, w, h)
	}
	if int64(w)*int64(h) > l.MaxPixels {
		return &limitError{fmt.Sprintf("too large: %d×%d, the limit is %s megapixels", w, h,
			strconv.FormatFloat(float64(l.MaxPixels)/1e6, 'f', -1, 64))}
	}
	if w > l.MaxSide || h > l.MaxSide {
		return &limitError{fmt.Sprintf("too large: %d×%d, the limit is %d pixels per side", w, h, l.MaxSide)}
	}
	return nil
}

// limitError carries a full sentence and unwraps to ErrTooManyPixels.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }
func (e *limitError) Unwrap() error { return ErrTooManyPixels }

// Errors returned (wrapped) by ProbeImage and RenderImage.
var (
	// ErrNotImage: the bytes are not in a supported image format.
	ErrNotImage = errors.New("not a supported image (JPEG, PNG, GIF, WebP, BMP, TIFF, HEIC/HEIF, AVIF)")
	// ErrTooManyPixels: the header announces more pixels than Limits allow.
	// The wrapping error reads like "too large: 100000×100000, the limit
	// is 150 megapixels".
	ErrTooManyPixels = errors.New("image has too many pixels")
	// ErrCorrupt: the format was recognised but the data is damaged or cut
	// short. The wrapping error reads "damaged: the image data is truncated
	// or corrupt: …".
	ErrCorrupt = errors.New("damaged: the image data is truncated or corrupt")
)

func corrupt(err error) error {
	if errors.Is(err, ErrCorrupt) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrCorrupt, err)
}

// ImageInfo describes a picture as found in its header.
type ImageInfo struct {
	Format        string     // jpeg, png, gif, webp, bmp, tiff, heic, heif or avif
	Width, Height int        // as stored, before orientation (HEIF/AVIF: with their own transforms applied)
	Orientation   int        // EXIF orientation 1..8; 1 when absent
	Reduce        int        // a JPEG over the pixel limits is decoded at 1/Reduce of its size; 0 or 1: full size
	Animation     *Animation // set by CheckImage for an animated GIF, PNG or WebP
}

// DisplaySize is the size once the orientation is applied: width and height
// are swapped for orientations 5 to 8.
func (i ImageInfo) DisplaySize() (w, h int) {
	if i.Orientation >= 5 && i.Orientation <= 8 {
		return i.Height, i.Width
	}
	return i.Width, i.Height
}

// sniff names the format from the first bytes, or "" if unknown.
func sniff(b []byte) string {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return "jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a")):
		return "gif"
	case len(b) >= 12 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "webp"
	case len(b) >= 2 && b[0] == 'B' && b[1] == 'M':
		return "bmp"
	case bytes.HasPrefix(b, []byte("II*\x00")) || bytes.HasPrefix(b, []byte("MM\x00*")):
		return "tiff"
	}
	return sniffISOBMFF(b)
}

// ProbeImage reads the format, size and orientation of the picture at path
// from its header, without decoding the pixels, and checks the size against
// lim (an error wrapping ErrTooManyPixels). Non-images give ErrNotImage and
// damaged headers an error wrapping ErrCorrupt.
func ProbeImage(path string, lim Limits) (ImageInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return ImageInfo{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ImageInfo{}, err
	}
	return probe(f, st.Size(), lim)
}

func probe(ra io.ReaderAt, size int64, lim Limits) (info ImageInfo, err error) {
	var head [64]byte
	n, _ := ra.ReadAt(head[:], 0)
	format := sniff(head[:n])
	if format == "" {
		return ImageInfo{}, ErrNotImage
	}
	if info, ok, err := probeStill(format, ra, size, lim); ok {
		return info, err
	}
	cfg, err := decodeConfig(format, io.NewSectionReader(ra, 0, size))
	if err != nil {
		return ImageInfo{Format: format}, goErr(err)
	}
	info = ImageInfo{Format: format, Width: cfg.Width, Height: cfg.Height, Orientation: 1}
	switch format {
	case "jpeg":
		info.Orientation = jpegOrientation(ra, size)
	case "tiff":
		info.Orientation = tiffOrientation(io.NewSectionReader(ra, 0, size))
	}
	if err := lim.check(cfg.Width, cfg.Height); err != nil {
		return info, err
	}
	return info, nil
}

// decodeConfig reads a header with the decoder for format, turning decoder
// panics into errors.
func decodeConfig(format string, r *io.SectionReader) (cfg image.Config, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder failed: %v", p)
		}
	}()
	switch format {
	case "jpeg":
		return jpeg.DecodeConfig(bufio.NewReader(r))
	case "png":
		return png.DecodeConfig(bufio.NewReader(r))
	case "gif":
		return gif.DecodeConfig(bufio.NewReader(r))
	case "webp":
		return webp.DecodeConfig(bufio.NewReader(r))
	case "bmp":
		return bmp.DecodeConfig(bufio.NewReader(r))
	case "tiff":
		return tiff.DecodeConfig(r)
	}
	return image.Config{}, ErrNotImage
}

// decodeImage decodes data (already probed as format), turning decoder
// panics into errors. GIFs give their first frame.
func decodeImage(format string, data []byte) (img image.Image, err error) {
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("decoder failed: %v", p)
		}
	}()
	r := bytes.NewReader(data)
	switch format {
	case "jpeg":
		return jpeg.Decode(r)
	case "png":
		return png.Decode(r)
	case "gif":
		return gif.Decode(r)
	case "webp":
		return webp.Decode(r)
	case "bmp":
		return bmp.Decode(r)
	case "tiff":
		return tiff.Decode(r)
	}
	return nil, ErrNotImage
}
