//go:build cgo

package native

/*
#cgo pkg-config: libheif
#include <stdlib.h>
#include <string.h>
#include <libheif/heif.h>
#include "convert.h"

// copy_rgba copies interleaved RGBA rows (8-bit, or 16-bit little-endian
// samples holding `bits` bits) into 8-bit rows.
static void copy_rgba(const unsigned char* src, int sstride, int bits, unsigned char* dst, int w, int h) {
	int shift = bits - 8;
	for (int j = 0; j < h; j++) {
		const unsigned char* s = src + (size_t)j * sstride;
		unsigned char* d = dst + (size_t)j * 4 * w;
		if (bits <= 8) { memcpy(d, s, (size_t)4 * w); continue; }
		const unsigned short* p = (const unsigned short*)s;
		for (int i = 0; i < 4 * w; i++) d[i] = p[i] >> shift;
	}
}

// copy_plane copies h rows of w bytes; limited says the samples use the
// video range (16-235 for luma, 16-240 for chroma) and are stretched to
// full range on the way, as JFIF YCbCr wants.
static void copy_plane(const unsigned char* src, int sstride, unsigned char* dst, int dstride, int w, int h, int limited, int chroma) {
	unsigned char lut[256];
	if (limited) {
		for (int v = 0; v < 256; v++) {
			int o = chroma ? ((v - 128) * 255 + (v >= 128 ? 112 : -112)) / 224 + 128 : ((v - 16) * 255 + 109) / 219;
			lut[v] = o < 0 ? 0 : o > 255 ? 255 : o;
		}
	}
	for (int j = 0; j < h; j++) {
		const unsigned char* s = src + (size_t)j * sstride;
		unsigned char* d = dst + (size_t)j * dstride;
		if (!limited) { memcpy(d, s, w); continue; }
		for (int i = 0; i < w; i++) d[i] = lut[s[i]];
	}
}

// ycc_matrix reports how the decoded image's YCbCr relates to JFIF's:
// 0 the same (BT.601 matrix, full range), 1 BT.601 in video range,
// -1 another matrix. libheif 1.15 converts what it returns to its default,
// BT.601 in full range, and attaches no profile (measured: BT.709 and
// video-range files come back like that); a library that passed the
// file's own coding through would attach it, and it is honoured here.
static int ycc_matrix(const struct heif_image* img) {
	struct heif_color_profile_nclx* n = NULL;
	struct heif_error e = heif_image_get_nclx_color_profile(img, &n);
	if (e.code != heif_error_Ok || !n) return 0;
	int m = n->matrix_coefficients, full = n->full_range_flag;
	heif_nclx_color_profile_free(n);
	if (m != heif_matrix_coefficients_ITU_R_BT_601_6 && m != heif_matrix_coefficients_ITU_R_BT_470_6_System_B_G &&
	    m != heif_matrix_coefficients_unspecified) return -1;
	return full ? 0 : 1;
}

static struct heif_decoding_options* decode_options(void) {
	struct heif_decoding_options* o = heif_decoding_options_alloc();
	return o;
}
*/
import "C"

import (
	"fmt"
	"image"
	"runtime"
	"strings"
	"unsafe"
)

// HEIFInfo describes the primary image of a HEIF/AVIF file.
type HEIFInfo struct {
	Width, Height int // as displayed: rotation, mirroring and cropping applied
	// The coded size (the ispe property) before the transforms: what
	// decoding allocates. A crop can make it far larger than the displayed
	// size, so limits are checked against both.
	CodedWidth, CodedHeight int
	HasAlpha                bool
	// Exif is the primary image's EXIF block as stored (a 4-byte offset,
	// then the TIFF structure), or nil; at most 256 KB are read.
	Exif []byte
}

// heifFile is a parsed HEIF container and its primary image.
type heifFile struct {
	ctx    *C.struct_heif_context
	handle *C.struct_heif_image_handle
	mem    unsafe.Pointer
}

func (f *heifFile) close() {
	if f.handle != nil {
		C.heif_image_handle_release(f.handle)
	}
	if f.ctx != nil {
		C.heif_context_free(f.ctx)
	}
	if f.mem != nil {
		C.free(f.mem)
	}
}

// heifErr turns a libheif error into one of the package's errors.
func heifErr(e C.struct_heif_error, what string) error {
	msg := strings.TrimSpace(C.GoString(e.message))
	switch e.code {
	case C.heif_error_Ok:
		return nil
	case C.heif_error_Unsupported_filetype, C.heif_error_Unsupported_feature:
		return fmt.Errorf("%w: %s: %s", ErrUnsupported, what, msg)
	case C.heif_error_Decoder_plugin_error:
		if e.subcode == C.heif_suberror_Unsupported_codec {
			return fmt.Errorf("%w: %s: %s", ErrUnsupported, what, msg)
		}
	case C.heif_error_Memory_allocation_error:
		if e.subcode == C.heif_suberror_Security_limit_exceeded {
			return fmt.Errorf("%w: %s", ErrTooLarge, msg)
		}
	}
	return fmt.Errorf("%w: %s: %s", ErrDamaged, what, msg)
}

func openHEIF(data []byte) (*heifFile, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty file", ErrDamaged)
	}
	f := &heifFile{ctx: C.heif_context_alloc()}
	if f.ctx == nil {
		return nil, fmt.Errorf("libheif: cannot allocate a context")
	}
	f.mem = C.CBytes(data)
	// An error's message lives in the context: read it before freeing.
	if e := C.heif_context_read_from_memory_without_copy(f.ctx, f.mem, C.size_t(len(data)), nil); e.code != C.heif_error_Ok {
		err := heifErr(e, "reading the file")
		f.close()
		return nil, err
	}
	if e := C.heif_context_get_primary_image_handle(f.ctx, &f.handle); e.code != C.heif_error_Ok {
		err := heifErr(e, "finding the primary image")
		f.handle = nil
		f.close()
		return nil, err
	}
	return f, nil
}

func (f *heifFile) info() HEIFInfo {
	var exif []byte
	var id C.heif_item_id
	typ := C.CString("Exif")
	defer C.free(unsafe.Pointer(typ))
	if C.heif_image_handle_get_list_of_metadata_block_IDs(f.handle, typ, &id, 1) == 1 {
		if n := C.heif_image_handle_get_metadata_size(f.handle, id); n > 0 && n <= 256<<10 {
			exif = make([]byte, n)
			if e := C.heif_image_handle_get_metadata(f.handle, id, unsafe.Pointer(&exif[0])); e.code != C.heif_error_Ok {
				exif = nil
			}
		}
	}
	return HEIFInfo{
		Exif:        exif,
		Width:       int(C.heif_image_handle_get_width(f.handle)),
		Height:      int(C.heif_image_handle_get_height(f.handle)),
		HasAlpha:    C.heif_image_handle_has_alpha_channel(f.handle) != 0,
		CodedWidth:  int(C.heif_image_handle_get_ispe_width(f.handle)),
		CodedHeight: int(C.heif_image_handle_get_ispe_height(f.handle)),
	}
}

// HEIFProbe reads the primary image's size (with its transformations
// applied) from the container, without decoding pixels.
func HEIFProbe(data []byte) (HEIFInfo, error) {
	f, err := openHEIF(data)
	if err != nil {
		return HEIFInfo{}, err
	}
	defer f.close()
	return f.info(), nil
}

// HEIFDecode decodes the primary image (never a thumbnail, depth map or
// other auxiliary image) with its rotation, mirroring and cropping applied
// and grid tiles assembled. check is called with the coded and the
// displayed size before any pixel is decoded. Opaque pictures come back as a 4:4:4 *image.YCbCr,
// pictures with alpha as *image.NRGBA (or *image.RGBA when the file's
// alpha is premultiplied). Pictures with more than 8 bits per sample (HDR
// phone photos, 10-bit AVIF) are reduced to 8.
func HEIFDecode(data []byte, check Check) (image.Image, error) {
	f, err := openHEIF(data)
	if err != nil {
		return nil, err
	}
	defer f.close()
	info := f.info()
	if err := check(info.CodedWidth, info.CodedHeight); err != nil {
		return nil, err
	}
	if err := check(info.Width, info.Height); err != nil {
		return nil, err
	}
	// Grid tiles decode in parallel: as many threads as the renderer's
	// own workers, so one picture cannot take every core.
	C.heif_context_set_max_decoding_threads(f.ctx, C.int(min(2, runtime.GOMAXPROCS(0))))
	// The coded size was checked; no tile or other part may be longer on
	// either side (libheif refuses sizes reaching its limit, hence +1).
	C.heif_context_set_maximum_image_size_limit(f.ctx, C.int(max(info.Width, info.Height, info.CodedWidth, info.CodedHeight)+1))
	opts := C.decode_options()
	if opts == nil {
		return nil, fmt.Errorf("libheif: cannot allocate decoding options")
	}
	defer C.heif_decoding_options_free(opts)

	// Opaque 8-bit pictures are used as decoded, in YCbCr with their own
	// chroma subsampling, as the renderer uses a JPEG: converting them to
	// RGB and back would cost more than the rest of the rendition.
	wide := C.heif_image_handle_get_luma_bits_per_pixel(f.handle) > 8
	if !info.HasAlpha && !wide {
		img, ok, err := f.decodeYCbCr(opts, check)
		if err != nil || ok {
			return img, err
		}
	}
	// Deeper pictures are decoded at their depth and reduced to 8 bits
	// here (libheif 1.15 does not reduce interleaved output itself).
	chroma := C.enum_heif_chroma(C.heif_chroma_interleaved_RGB)
	switch {
	case info.HasAlpha && wide:
		chroma = C.heif_chroma_interleaved_RRGGBBAA_LE
	case info.HasAlpha:
		chroma = C.heif_chroma_interleaved_RGBA
	case wide:
		chroma = C.heif_chroma_interleaved_RRGGBB_LE
	}
	var img *C.struct_heif_image
	if e := C.heif_decode_image(f.handle, &img, C.heif_colorspace_RGB, chroma, opts); e.code != C.heif_error_Ok {
		return nil, heifErr(e, "decoding")
	}
	defer C.heif_image_release(img)
	w := int(C.heif_image_get_primary_width(img))
	h := int(C.heif_image_get_primary_height(img))
	if w != info.Width || h != info.Height {
		if err := check(w, h); err != nil {
			return nil, err
		}
	}
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("%w: decoded image has no pixels", ErrDamaged)
	}
	var stride C.int
	pix := C.heif_image_get_plane_readonly(img, C.heif_channel_interleaved, &stride)
	if pix == nil {
		return nil, fmt.Errorf("%w: decoded image has no pixel plane", ErrDamaged)
	}
	bits := C.heif_image_get_bits_per_pixel_range(img, C.heif_channel_interleaved)
	if bits < 8 || bits > 16 || (bits > 8) != wide {
		return nil, fmt.Errorf("%w: %d-bit samples", ErrUnsupported, bits)
	}
	if !info.HasAlpha {
		out := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio444)
		C.rgb_to_ycc(pix, C.int(w), C.int(h), stride, bits,
			(*C.uchar)(unsafe.Pointer(&out.Y[0])), (*C.uchar)(unsafe.Pointer(&out.Cb[0])), (*C.uchar)(unsafe.Pointer(&out.Cr[0])))
		return out, nil
	}
	r := image.Rect(0, 0, w, h)
	var dst []byte
	var out image.Image
	if C.heif_image_handle_is_premultiplied_alpha(f.handle) != 0 {
		m := image.NewRGBA(r)
		dst, out = m.Pix, m
	} else {
		m := image.NewNRGBA(r)
		dst, out = m.Pix, m
	}
	C.copy_rgba(pix, stride, bits, (*C.uchar)(unsafe.Pointer(&dst[0])), C.int(w), C.int(h))
	return out, nil
}

// decodeYCbCr decodes an opaque 8-bit picture in its own YCbCr layout. It
// returns ok=false, and no error, when the picture's colours are coded in
// a way only libheif's RGB conversion handles (another matrix, another
// colourspace).
func (f *heifFile) decodeYCbCr(opts *C.struct_heif_decoding_options, check Check) (image.Image, bool, error) {
	var img *C.struct_heif_image
	// Phones and encoders store 4:2:0; libheif returns that as stored
	// (another layout is converted to it), in JFIF's BT.601 full range.
	if e := C.heif_decode_image(f.handle, &img, C.heif_colorspace_YCbCr, C.heif_chroma_420, opts); e.code != C.heif_error_Ok {
		return nil, false, heifErr(e, "decoding")
	}
	defer C.heif_image_release(img)
	if C.heif_image_get_colorspace(img) != C.heif_colorspace_YCbCr && C.heif_image_get_colorspace(img) != C.heif_colorspace_monochrome {
		return nil, false, nil
	}
	mode := C.ycc_matrix(img)
	if mode < 0 {
		return nil, false, nil
	}
	w := int(C.heif_image_get_width(img, C.heif_channel_Y))
	h := int(C.heif_image_get_height(img, C.heif_channel_Y))
	if w <= 0 || h <= 0 {
		return nil, false, fmt.Errorf("%w: decoded image has no pixels", ErrDamaged)
	}
	if err := check(w, h); err != nil {
		return nil, false, err
	}
	plane := func(ch C.enum_heif_channel) (*C.uint8_t, C.int, int, int, bool) {
		var stride C.int
		p := C.heif_image_get_plane_readonly(img, ch, &stride)
		if p == nil || C.heif_image_get_bits_per_pixel_range(img, ch) != 8 {
			return nil, 0, 0, 0, false
		}
		return p, stride, int(C.heif_image_get_width(img, ch)), int(C.heif_image_get_height(img, ch)), true
	}
	var ratio image.YCbCrSubsampleRatio
	switch C.heif_image_get_chroma_format(img) {
	case C.heif_chroma_monochrome:
		p, stride, _, _, ok := plane(C.heif_channel_Y)
		if !ok {
			return nil, false, nil
		}
		g := image.NewGray(image.Rect(0, 0, w, h))
		C.copy_plane(p, stride, (*C.uchar)(unsafe.Pointer(&g.Pix[0])), C.int(g.Stride), C.int(w), C.int(h), mode, 0)
		return g, true, nil
	case C.heif_chroma_420:
		ratio = image.YCbCrSubsampleRatio420
	case C.heif_chroma_422:
		ratio = image.YCbCrSubsampleRatio422
	case C.heif_chroma_444:
		ratio = image.YCbCrSubsampleRatio444
	default:
		return nil, false, nil
	}
	out := image.NewYCbCr(image.Rect(0, 0, w, h), ratio)
	cw, ch := out.CStride, len(out.Cb)/max(out.CStride, 1)
	for i, dst := range [][]byte{out.Y, out.Cb, out.Cr} {
		chans := []C.enum_heif_channel{C.heif_channel_Y, C.heif_channel_Cb, C.heif_channel_Cr}
		p, stride, pw, ph, ok := plane(chans[i])
		ww, hh, ds := w, h, out.YStride
		if i > 0 {
			ww, hh, ds = cw, ch, out.CStride
		}
		if !ok || pw < ww || ph < hh {
			return nil, false, nil
		}
		C.copy_plane(p, stride, (*C.uchar)(unsafe.Pointer(&dst[0])), C.int(ds), C.int(ww), C.int(hh), mode, C.int(b2i(i > 0)))
	}
	return out, true, nil
}
