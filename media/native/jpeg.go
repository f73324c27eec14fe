//go:build cgo

package native

/*
#cgo pkg-config: libturbojpeg
#include <stdlib.h>
#include <turbojpeg.h>
#include "convert.h"

*/
import "C"

import (
	"fmt"
	"image"
	"runtime"
	"strings"
	"unsafe"
)

// Available reports whether the C decoders are linked in.
const Available = true

// JPEGInfo describes a JPEG's header.
type JPEGInfo struct {
	Width, Height int
	Subsamp       int // TurboJPEG's TJSAMP_* value
	Colorspace    int // TurboJPEG's TJCS_* value
}

// tjError turns the last TurboJPEG error into one of the package's errors.
func tjError(h C.tjhandle, what string) error {
	msg := strings.TrimSpace(C.GoString(C.tjGetErrorStr2(h)))
	if unsupportedMsg(msg) {
		return fmt.Errorf("%w: JPEG: %s", ErrUnsupported, msg)
	}
	return fmt.Errorf("%w: %s: %s", ErrDamaged, what, msg)
}

// unsupportedMsg recognises libjpeg's messages for valid JPEG features it
// does not decode (12-bit samples, lossless coding …). "Unsupported marker
// type" is not one of them: libjpeg says it of a marker byte no JPEG
// defines, which is damage.
func unsupportedMsg(msg string) bool {
	if strings.Contains(msg, "Unsupported marker type") {
		return false
	}
	return strings.Contains(msg, "Unsupported") || strings.Contains(msg, "not supported") || strings.Contains(msg, "not implemented")
}

// JPEGProbe reads a JPEG's header.
func JPEGProbe(data []byte) (JPEGInfo, error) {
	if len(data) == 0 {
		return JPEGInfo{}, fmt.Errorf("%w: empty file", ErrDamaged)
	}
	h := C.tjInitDecompress()
	if h == nil {
		return JPEGInfo{}, fmt.Errorf("turbojpeg: %s", C.GoString(C.tjGetErrorStr2(nil)))
	}
	defer C.tjDestroy(h)
	return jpegHeader(h, data)
}

func jpegHeader(h C.tjhandle, data []byte) (JPEGInfo, error) {
	var w, ht, ss, cs C.int
	if C.tjDecompressHeader3(h, (*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)), &w, &ht, &ss, &cs) != 0 {
		return JPEGInfo{}, tjError(h, "reading the header")
	}
	return JPEGInfo{Width: int(w), Height: int(ht), Subsamp: int(ss), Colorspace: int(cs)}, nil
}

// JPEGDecode decodes a JPEG at 1/denom of its size (denom 1, 2, 4 or 8),
// with libjpeg-turbo's accurate IDCT. Colour pictures come back as
// *image.YCbCr with the file's own chroma subsampling (no colour
// conversion), grey ones as *image.Gray and CMYK ones converted to a 4:4:4
// *image.YCbCr. Data after the end of the picture (a gain map, a second
// image) is ignored. A picture that ends early is damaged, not shown grey.
func JPEGDecode(data []byte, denom int) (image.Image, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty file", ErrDamaged)
	}
	switch denom {
	case 1, 2, 4, 8:
	default:
		return nil, fmt.Errorf("native: scale 1/%d is not one of 1, 1/2, 1/4, 1/8", denom)
	}
	h := C.tjInitDecompress()
	if h == nil {
		return nil, fmt.Errorf("turbojpeg: %s", C.GoString(C.tjGetErrorStr2(nil)))
	}
	defer C.tjDestroy(h)
	info, err := jpegHeader(h, data)
	if err != nil {
		return nil, err
	}
	sw := (info.Width + denom - 1) / denom
	sh := (info.Height + denom - 1) / denom
	src := (*C.uchar)(unsafe.Pointer(&data[0]))
	flags := C.int(C.TJFLAG_LIMITSCANS)
	switch info.Colorspace {
	case C.TJCS_RGB:
		// Stored as RGB (no colour transform): the planes are not YCbCr,
		// so convert, as for CMYK.
		buf := C.malloc(C.size_t(sw) * C.size_t(sh) * 3)
		if buf == nil {
			return nil, fmt.Errorf("native: out of memory for a %d×%d RGB picture", sw, sh)
		}
		defer C.free(buf)
		if C.tjDecompress2(h, src, C.ulong(len(data)), (*C.uchar)(buf), C.int(sw), C.int(sw*3), C.int(sh), C.TJPF_RGB, flags) != 0 {
			if err := decodeFailed(h); err != nil {
				return nil, err
			}
		}
		img := image.NewYCbCr(image.Rect(0, 0, sw, sh), image.YCbCrSubsampleRatio444)
		C.rgb_to_ycc((*C.uchar)(buf), C.int(sw), C.int(sh), C.int(sw*3), 8,
			(*C.uchar)(unsafe.Pointer(&img.Y[0])), (*C.uchar)(unsafe.Pointer(&img.Cb[0])), (*C.uchar)(unsafe.Pointer(&img.Cr[0])))
		return img, nil
	case C.TJCS_CMYK, C.TJCS_YCCK:
		buf := C.malloc(C.size_t(sw) * C.size_t(sh) * 4)
		if buf == nil {
			return nil, fmt.Errorf("native: out of memory for a %d×%d CMYK picture", sw, sh)
		}
		defer C.free(buf)
		if C.tjDecompress2(h, src, C.ulong(len(data)), (*C.uchar)(buf), C.int(sw), C.int(sw*4), C.int(sh), C.TJPF_CMYK, flags) != 0 {
			if err := decodeFailed(h); err != nil {
				return nil, err
			}
		}
		img := image.NewYCbCr(image.Rect(0, 0, sw, sh), image.YCbCrSubsampleRatio444)
		C.cmyk_to_ycc((*C.uchar)(buf), C.int(sw), C.int(sh), C.int(sw*4),
			(*C.uchar)(unsafe.Pointer(&img.Y[0])), (*C.uchar)(unsafe.Pointer(&img.Cb[0])), (*C.uchar)(unsafe.Pointer(&img.Cr[0])),
			C.int(b2i(adobeMarker(data))))
		return img, nil
	}

	var planes [3]*C.uchar
	var strides [3]C.int
	var img image.Image
	if info.Subsamp == C.TJSAMP_GRAY || info.Colorspace == C.TJCS_GRAY {
		g := image.NewGray(image.Rect(0, 0, sw, sh))
		// TurboJPEG pads planes to whole blocks; decode into padded
		// memory and keep the visible part.
		pw := int(C.tjPlaneWidth(0, C.int(sw), C.TJSAMP_GRAY))
		ph := int(C.tjPlaneHeight(0, C.int(sh), C.TJSAMP_GRAY))
		pix := make([]byte, pw*ph)
		var pin runtime.Pinner
		pin.Pin(&pix[0])
		defer pin.Unpin()
		planes[0], strides[0] = (*C.uchar)(unsafe.Pointer(&pix[0])), C.int(pw)
		if C.tjDecompressToYUVPlanes(h, src, C.ulong(len(data)), &planes[0], C.int(sw), &strides[0], C.int(sh), flags) != 0 {
			if err := decodeFailed(h); err != nil {
				return nil, err
			}
		}
		g.Pix, g.Stride = pix[:pw*(sh-1)+sw], pw
		return g, nil
	}
	ratio, ok := subsampRatio[int(info.Subsamp)]
	if !ok {
		return nil, fmt.Errorf("%w: JPEG chroma subsampling %d", ErrUnsupported, info.Subsamp)
	}
	var bufs [3][]byte
	var pin runtime.Pinner
	defer pin.Unpin()
	for c := range 3 {
		pw := int(C.tjPlaneWidth(C.int(c), C.int(sw), C.int(info.Subsamp)))
		ph := int(C.tjPlaneHeight(C.int(c), C.int(sh), C.int(info.Subsamp)))
		if pw <= 0 || ph <= 0 {
			return nil, fmt.Errorf("%w: JPEG plane size", ErrDamaged)
		}
		bufs[c] = make([]byte, pw*ph)
		pin.Pin(&bufs[c][0])
		planes[c], strides[c] = (*C.uchar)(unsafe.Pointer(&bufs[c][0])), C.int(pw)
	}
	if C.tjDecompressToYUVPlanes(h, src, C.ulong(len(data)), &planes[0], C.int(sw), &strides[0], C.int(sh), flags) != 0 {
		if err := decodeFailed(h); err != nil {
			return nil, err
		}
	}
	img = &image.YCbCr{Y: bufs[0], Cb: bufs[1], Cr: bufs[2], YStride: int(strides[0]), CStride: int(strides[1]),
		SubsampleRatio: ratio, Rect: image.Rect(0, 0, sw, sh)}
	return img, nil
}

var subsampRatio = map[int]image.YCbCrSubsampleRatio{
	C.TJSAMP_444: image.YCbCrSubsampleRatio444,
	C.TJSAMP_422: image.YCbCrSubsampleRatio422,
	C.TJSAMP_420: image.YCbCrSubsampleRatio420,
	C.TJSAMP_440: image.YCbCrSubsampleRatio440,
	C.TJSAMP_411: image.YCbCrSubsampleRatio411,
}

// decodeFailed classifies a failed decompression. libjpeg reports some
// damage only as a warning and fills the rest grey: a picture that ends
// early ("Premature end of JPEG file") is refused; harmless warnings
// (extraneous bytes before a marker, as some cameras write) are not.
func decodeFailed(h C.tjhandle) error {
	msg := strings.TrimSpace(C.GoString(C.tjGetErrorStr2(h)))
	if C.tjGetErrorCode(h) == C.TJERR_WARNING && !strings.Contains(msg, "Premature end") {
		return nil
	}
	if unsupportedMsg(msg) {
		return fmt.Errorf("%w: JPEG: %s", ErrUnsupported, msg)
	}
	return fmt.Errorf("%w: %s", ErrDamaged, msg)
}

// adobeMarker reports whether the JPEG has an Adobe APP14 segment (whose
// CMYK is stored inverted) before its first scan.
func adobeMarker(data []byte) bool {
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xFF {
			return false
		}
		m := data[i+1]
		if m == 0xFF {
			i++
			continue
		}
		if m == 0xDA || m == 0xD9 {
			return false
		}
		n := int(data[i+2])<<8 | int(data[i+3])
		if m == 0xEE && n >= 7 && i+9 <= len(data) && string(data[i+4:i+9]) == "Adobe" {
			return true
		}
		i += 2 + n
	}
	return false
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
