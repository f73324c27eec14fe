package media

import (
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"strings"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"beacon/media/native"
)

// This file routes the still formats that need more than Go's own
// decoders: HEIF/HEIC and AVIF (libheif), every JPEG (libjpeg-turbo, which
// is faster than Go's decoder and reads Ultra HDR, CMYK and unusual
// progressive files Go refuses), TIFFs Go's decoder lacks (libtiff) and
// BMPs with bit-field masks. Built without cgo, JPEG falls back to Go's
// decoder and HEIF/AVIF are refused as not supported.

// ErrUnsupported: the file is a real picture format, or uses a real
// feature of one, that Beacon does not decode. The wrapping error reads
// "not supported: …".
var ErrUnsupported = errors.New("not supported")

func unsupported(err error) error {
	if errors.Is(err, ErrUnsupported) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrUnsupported, err)
}

// maxHEIFFile bounds the HEIF/AVIF files read into memory to be parsed.
const maxHEIFFile = 512 << 20

// jpegMaxReduce is the largest factor per side by which a JPEG over the
// pixel limits is reduced while it is decoded (libjpeg-turbo decodes at
// 1/2, 1/4 or 1/8 scale without holding the full-size picture).
const jpegMaxReduce = 2

// sniffISOBMFF names HEIF-family files ("heic" or "avif") from their ftyp
// box, or returns "". Both HEVC- and AV1-coded stills and image
// sequences count, so such a file is never taken for a video.
func sniffISOBMFF(b []byte) string {
	if len(b) < 16 || string(b[4:8]) != "ftyp" {
		return ""
	}
	n := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	n = min(max(n, 16), len(b))
	brands := [][]byte{b[8:12]}
	for i := 16; i+4 <= n; i += 4 {
		brands = append(brands, b[i:i+4])
	}
	kind := ""
	for _, br := range brands {
		switch string(br) {
		case "avif", "avis":
			return "avif"
		case "heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs":
			kind = "heic"
		case "mif1", "msf1", "mif2", "miaf":
			if kind == "" {
				kind = "heif"
			}
		}
	}
	return kind
}

// probeStill reads the header of the formats this file handles and returns
// handled=false for the others. It fills in info's size and orientation
// and checks them against lim.
func probeStill(format string, ra io.ReaderAt, size int64, lim Limits) (info ImageInfo, handled bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			handled, err = true, corrupt(fmt.Errorf("header reader failed: %v", p))
		}
	}()
	info = ImageInfo{Format: format, Orientation: 1}
	switch format {
	case "heic", "heif", "avif":
		if !native.Available {
			return info, true, fmt.Errorf("%w: %s pictures need the server built with cgo and libheif", ErrUnsupported, formatName(format))
		}
		if size > maxHEIFFile {
			return info, true, &limitError{fmt.Sprintf("too large: the file is %d MB, the limit for %s is %d MB", size>>20, formatName(format), maxHEIFFile>>20)}
		}
		data := make([]byte, size)
		if _, err := ra.ReadAt(data, 0); err != nil && !(errors.Is(err, io.EOF) && len(data) == int(size)) {
			return info, true, err
		}
		hi, err := native.HEIFProbe(data)
		if err != nil {
			switch t := heifPrimaryType(data); t {
			case "", "hvc1", "av01", "grid", "iden", "iovl":
			default:
				return info, true, fmt.Errorf("%w: a HEIF picture coded as %q (Beacon decodes HEVC and AV1)", ErrUnsupported, t)
			}
			return info, true, nativeErr(err)
		}
		info.Width, info.Height = hi.Width, hi.Height
		// The file's own transforms are authoritative and already applied;
		// an EXIF orientation counts only in a file without them (as some
		// converters write: the EXIF of a JPEG copied, no irot).
		if o := heifExifOrientation(hi.Exif); o != 1 && !heifPrimaryTransformed(data) {
			info.Orientation = o
		}
		if err := lim.check(hi.CodedWidth, hi.CodedHeight); err != nil {
			return info, true, err
		}
		return info, true, lim.check(hi.Width, hi.Height)
	case "jpeg":
		if !native.Available {
			return info, false, nil
		}
		// The header ends before the first scan; 1 MB holds any usual one
		// and up to 64 MB (EXIF, XMP and ICC segments) is read if needed.
		head := make([]byte, min(size, 1<<20))
		n, _ := ra.ReadAt(head, 0)
		ji, err := native.JPEGProbe(head[:n])
		if err != nil && int64(n) < size {
			all := make([]byte, min(size, 64<<20))
			m, _ := ra.ReadAt(all, 0)
			ji, err = native.JPEGProbe(all[:m])
		}
		if err != nil {
			return info, true, nativeErr(err)
		}
		info.Width, info.Height = ji.Width, ji.Height
		info.Orientation = jpegOrientation(ra, size)
		r, err := lim.reduction(ji.Width, ji.Height, jpegMaxReduce)
		if r > 1 {
			info.Reduce = r
		}
		return info, true, err
	case "tiff", "bmp":
		// Go's header readers first; libtiff and the bit-field BMP reader
		// for what they refuse.
		_, gerr := decodeConfig(format, io.NewSectionReader(ra, 0, size))
		if gerr == nil {
			return info, false, nil
		}
		if format == "bmp" {
			w, h, err := bitfieldsBMPSize(io.NewSectionReader(ra, 0, size))
			if err != nil {
				return info, true, goErr(gerr)
			}
			info.Width, info.Height = w, h
			return info, true, lim.check(w, h)
		}
		if !native.Available {
			return info, true, goErr(gerr)
		}
		info.Orientation = tiffOrientation(io.NewSectionReader(ra, 0, size))
		w, h, err := tiffSize(io.NewSectionReader(ra, 0, size))
		if err != nil {
			return info, true, goErr(gerr)
		}
		info.Width, info.Height = w, h
		return info, true, lim.check(w, h)
	}
	return info, false, nil
}

// decodeStill decodes a probed picture. It uses the C decoders where they
// apply and Go's decoders for the rest.
func decodeStill(info ImageInfo, data []byte, lim Limits) (img image.Image, err error) {
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, corrupt(fmt.Errorf("decoder failed: %v", p))
		}
	}()
	switch info.Format {
	case "heic", "heif", "avif":
		img, err := native.HEIFDecode(data, lim.check)
		return img, nativeErr(err)
	case "jpeg":
		if native.Available {
			img, err := native.JPEGDecode(data, max(info.Reduce, 1))
			return img, nativeErr(err)
		}
	case "tiff":
		img, gerr := decodeImage(info.Format, data)
		if gerr == nil || !native.Available {
			return img, goErr(gerr)
		}
		img, err := native.TIFFDecode(data, func(w, h int) error {
			if w != info.Width || h != info.Height {
				return fmt.Errorf("%w: TIFF size changed between reads", ErrCorrupt)
			}
			return nil
		})
		if err != nil {
			return nil, nativeErr(err)
		}
		return img, nil
	case "bmp":
		img, gerr := decodeImage(info.Format, data)
		if gerr == nil {
			return img, nil
		}
		img, err := decodeBitfieldsBMP(data)
		if err != nil {
			return nil, goErr(gerr)
		}
		return img, nil
	}
	img, err = decodeImage(info.Format, data)
	return img, goErr(err)
}

// nativeErr maps the C decoders' errors onto the package's.
func nativeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrCorrupt), errors.Is(err, ErrTooManyPixels), errors.Is(err, ErrUnsupported):
		return err
	case errors.Is(err, native.ErrUnavailable):
		return unsupported(errors.New(strings.TrimPrefix(err.Error(), "not supported: ")))
	case errors.Is(err, native.ErrUnsupported):
		return fmt.Errorf("%w: %s", ErrUnsupported, strings.TrimPrefix(err.Error(), native.ErrUnsupported.Error()+": "))
	case errors.Is(err, native.ErrTooLarge):
		return &limitError{err.Error()}
	case errors.Is(err, native.ErrDamaged):
		return fmt.Errorf("%w: %s", ErrCorrupt, strings.TrimPrefix(err.Error(), native.ErrDamaged.Error()+": "))
	}
	return err
}

// goErr tells Go decoders' "valid but unsupported" errors from damage.
func goErr(err error) error {
	var je jpeg.UnsupportedError
	var pe png.UnsupportedError
	var te tiff.UnsupportedError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrCorrupt), errors.Is(err, ErrTooManyPixels), errors.Is(err, ErrUnsupported), errors.Is(err, ErrNotImage):
		return err
	case errors.As(err, &je), errors.As(err, &pe), errors.As(err, &te), errors.Is(err, bmp.ErrUnsupported):
		return unsupported(err)
	}
	return corrupt(err)
}

func formatName(format string) string {
	switch format {
	case "heic":
		return "HEIC"
	case "heif":
		return "HEIF"
	case "avif":
		return "AVIF"
	}
	return format
}

// reduction returns the smallest factor (1, 2, 4 … up to maxReduce) by
// which a w×h picture must be reduced to fit the limits, or the limit
// error for the largest picture that may be reduced.
func (l Limits) reduction(w, h, maxReduce int) (int, error) {
	l = l.withDefaults()
	for r := 1; r <= maxReduce; r *= 2 {
		if l.check((w+r-1)/r, (h+r-1)/r) == nil {
			return r, nil
		}
	}
	if w <= 0 || h <= 0 {
		return 1, l.check(w, h)
	}
	big := Limits{MaxPixels: l.MaxPixels * int64(maxReduce*maxReduce), MaxSide: l.MaxSide * maxReduce}
	return 1, big.check(w, h)
}

// tiffSize reads the width and height of a TIFF's first directory.
func tiffSize(r io.ReaderAt) (w, h int, err error) {
	var hdr [8]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return 0, 0, err
	}
	var u16 func([]byte) uint32
	var u32 func([]byte) uint32
	switch string(hdr[:2]) {
	case "II":
		u16 = func(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 }
		u32 = func(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24 }
	case "MM":
		u16 = func(b []byte) uint32 { return uint32(b[1]) | uint32(b[0])<<8 }
		u32 = func(b []byte) uint32 { return uint32(b[3]) | uint32(b[2])<<8 | uint32(b[1])<<16 | uint32(b[0])<<24 }
	default:
		return 0, 0, errors.New("not a TIFF")
	}
	off := int64(u32(hdr[4:8]))
	var nb [2]byte
	if _, err := r.ReadAt(nb[:], off); err != nil {
		return 0, 0, err
	}
	n := int(u16(nb[:]))
	ents := make([]byte, 12*n)
	if _, err := r.ReadAt(ents, off+2); err != nil {
		return 0, 0, err
	}
	for i := 0; i < n; i++ {
		e := ents[12*i:]
		tag, typ := u16(e[0:2]), u16(e[2:4])
		v := u32(e[8:12])
		if typ == 3 {
			v = u16(e[8:10])
		}
		switch tag {
		case 256:
			w = int(v)
		case 257:
			h = int(v)
		}
	}
	if w <= 0 || h <= 0 {
		return 0, 0, errors.New("TIFF without a size")
	}
	return w, h, nil
}

// AcceptedStillFormats lists the still-picture formats this build decodes.
func AcceptedStillFormats() []string {
	f := []string{"jpeg", "png", "gif", "webp", "bmp", "tiff"}
	if native.Available {
		f = append(f, "heic", "heif", "avif")
	}
	return f
}

// checkOnly adjusts a probe for a decode that only proves the file whole:
// libjpeg-turbo reads every bit of a JPEG's coded data even at 1/8 scale,
// so damage is found as surely, while the inverse DCT and the pixels cost
// a sixty-fourth.
func checkOnly(info ImageInfo) ImageInfo {
	if info.Format == "jpeg" && native.Available {
		info.Reduce = 8
	}
	return info
}

// forProfiles picks the scale at which to decode a JPEG for profiles: the
// smallest of 1, 1/2, 1/4, 1/8 that keeps at least twice the resolution
// every profile takes from the picture, the margin the Lanczos resampler
// is given between its own stages too (a thumbnail from a 12-megapixel
// photo decodes at 1/4 or 1/8 of its size; a full-screen picture at full
// size).
func forProfiles(info ImageInfo, profiles []Profile) ImageInfo {
	if info.Format != "jpeg" || !native.Available || len(profiles) == 0 {
		return info
	}
	dw, dh := info.DisplaySize()
	if dw <= 0 || dh <= 0 {
		return info
	}
	reduce := 8.0
	for _, p := range profiles {
		sx, sy := float64(p.Width)/float64(dw), float64(p.Height)/float64(dh)
		s := max(sx, sy) // cover and stretch take the larger scale
		if p.fit() == FitContain {
			s = min(sx, sy)
		}
		reduce = min(reduce, 1/(2*s))
	}
	r := 1
	for r*2 <= int(reduce) && r < 8 {
		r *= 2
	}
	info.Reduce = max(info.Reduce, r)
	return info
}
