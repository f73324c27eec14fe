//go:build cgo

package native

/*
#cgo pkg-config: libtiff-4
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

typedef struct { const unsigned char* data; toff_t size, pos; } memsrc;

static tmsize_t mem_read(thandle_t h, void* buf, tmsize_t n) {
	memsrc* m = (memsrc*)h;
	if (m->pos >= m->size) return 0;
	if ((toff_t)n > m->size - m->pos) n = (tmsize_t)(m->size - m->pos);
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return n;
}
static tmsize_t mem_write(thandle_t h, void* buf, tmsize_t n) { return -1; }
static toff_t mem_seek(thandle_t h, toff_t off, int whence) {
	memsrc* m = (memsrc*)h;
	toff_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->size : 0;
	m->pos = base + off;
	return m->pos;
}
static int mem_close(thandle_t h) { return 0; }
static toff_t mem_size(thandle_t h) { return ((memsrc*)h)->size; }
static int mem_map(thandle_t h, void** base, toff_t* size) { return 0; }
static void mem_unmap(thandle_t h, void* base, toff_t size) {}

static void quiet(const char* module, const char* fmt, va_list ap) {}

static _Thread_local char last_error[256];
static void keep_error(const char* module, const char* fmt, va_list ap) {
	vsnprintf(last_error, sizeof last_error, fmt, ap);
}

static const char* tiff_last_error(void) { return last_error; }

static TIFF* open_mem(memsrc* m) {
	TIFFSetWarningHandler(quiet);
	TIFFSetErrorHandler(keep_error);
	last_error[0] = 0;
	return TIFFClientOpen("upload", "rm", (thandle_t)m, mem_read, mem_write, mem_seek, mem_close, mem_size, mem_map, mem_unmap);
}

static int tiff_size(TIFF* t, uint32_t* w, uint32_t* h, uint16_t* orient) {
	if (!TIFFGetField(t, TIFFTAG_IMAGEWIDTH, w) || !TIFFGetField(t, TIFFTAG_IMAGELENGTH, h)) return 0;
	if (!TIFFGetFieldDefaulted(t, TIFFTAG_ORIENTATION, orient)) *orient = ORIENTATION_TOPLEFT;
	return 1;
}

// read_rgba decodes the first directory to 8-bit RGBA rows, top row first
// as stored (the caller applies the orientation tag), whatever the
// compression, tiling, photometric (CMYK, YCbCr, palette) or bit depth.
static int read_rgba(TIFF* t, uint32_t w, uint32_t h, uint16_t orient, uint32_t* raster) {
	char emsg[1024];
	TIFFRGBAImage img;
	if (!TIFFRGBAImageOK(t, emsg) || !TIFFRGBAImageBegin(&img, t, 1, emsg)) {
		snprintf(last_error, sizeof last_error, "%s", emsg);
		return 0;
	}
	// Ask for the file's own orientation so libtiff flips nothing.
	img.req_orientation = orient;
	int ok = TIFFRGBAImageGet(&img, raster, w, h);
	TIFFRGBAImageEnd(&img);
	return ok;
}
*/
import "C"

import (
	"fmt"
	"image"
	"strings"
	"unsafe"
)

// TIFFDecode decodes the first picture of a TIFF with libtiff, which reads
// what Go's decoder does not: JPEG and other compressions, CMYK, tiles with
// any photometric interpretation. The picture comes back in its stored
// orientation as *image.NRGBA; check is called with its size before any
// pixel is decoded.
func TIFFDecode(data []byte, check Check) (image.Image, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty file", ErrDamaged)
	}
	mem := C.CBytes(data)
	defer C.free(mem)
	src := (*C.memsrc)(C.malloc(C.sizeof_memsrc))
	defer C.free(unsafe.Pointer(src))
	src.data, src.size, src.pos = (*C.uchar)(mem), C.toff_t(len(data)), 0
	t := C.open_mem(src)
	if t == nil {
		return nil, fmt.Errorf("%w: TIFF: %s", ErrDamaged, C.GoString(C.tiff_last_error()))
	}
	defer C.TIFFClose(t)
	var w, h C.uint32_t
	var orient C.uint16_t
	if C.tiff_size(t, &w, &h, &orient) == 0 {
		return nil, fmt.Errorf("%w: TIFF has no image size", ErrDamaged)
	}
	if err := check(int(w), int(h)); err != nil {
		return nil, err
	}
	img := image.NewNRGBA(image.Rect(0, 0, int(w), int(h)))
	if C.read_rgba(t, w, h, orient, (*C.uint32_t)(unsafe.Pointer(&img.Pix[0]))) == 0 {
		msg := strings.TrimSpace(C.GoString(C.tiff_last_error()))
		// libtiff words what it cannot handle "Sorry, can not handle …".
		if strings.HasPrefix(msg, "Sorry") {
			return nil, fmt.Errorf("%w: TIFF: %s", ErrUnsupported, msg)
		}
		return nil, fmt.Errorf("%w: TIFF: %s", ErrDamaged, msg)
	}
	return img, nil
}
