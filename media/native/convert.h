// Colour conversions shared by the decoders: to full-resolution Y, Cb and
// Cr planes with JFIF's matrix, using the integer formula of Go's
// color.RGBToYCbCr so the results equal what Go would compute.
#ifndef BEACON_NATIVE_CONVERT_H
#define BEACON_NATIVE_CONVERT_H

static inline void ycc_store(int r, int g, int b, unsigned char* y, unsigned char* cb, unsigned char* cr) {
	int Y = (19595 * r + 38470 * g + 7471 * b + (1 << 15)) >> 16;
	int Cb = -11056 * r - 21712 * g + 32768 * b + (257 << 15);
	int Cr = 32768 * r - 27440 * g - 5328 * b + (257 << 15);
	Cb = (unsigned)Cb & 0xff000000 ? (~Cb >> 31) & 0xff : Cb >> 16;
	Cr = (unsigned)Cr & 0xff000000 ? (~Cr >> 31) & 0xff : Cr >> 16;
	*y = Y; *cb = Cb; *cr = Cr;
}

// rgb_to_ycc converts interleaved RGB rows (8-bit, or 16-bit native-endian
// samples holding `bits` bits) to planes of w×h.
static inline void rgb_to_ycc(const unsigned char* src, int w, int h, int sstride, int bits,
                              unsigned char* y, unsigned char* cb, unsigned char* cr) {
	int wide = bits > 8, shift = bits - 8;
	for (int j = 0; j < h; j++) {
		const unsigned char* s = src + (size_t)j * sstride;
		size_t o = (size_t)j * w;
		for (int i = 0; i < w; i++) {
			int r, g, b;
			if (wide) {
				const unsigned short* p = (const unsigned short*)s + 3 * i;
				r = p[0] >> shift; g = p[1] >> shift; b = p[2] >> shift;
			} else {
				const unsigned char* p = s + 3 * i;
				r = p[0]; g = p[1]; b = p[2];
			}
			ycc_store(r, g, b, y + o + i, cb + o + i, cr + o + i);
		}
	}
}

// cmyk_to_ycc converts interleaved CMYK rows to planes of w×h. Adobe files
// store CMYK inverted; inverted says so.
static inline void cmyk_to_ycc(const unsigned char* src, int w, int h, int sstride,
                               unsigned char* y, unsigned char* cb, unsigned char* cr, int inverted) {
	for (int j = 0; j < h; j++) {
		const unsigned char* s = src + (size_t)j * sstride;
		size_t o = (size_t)j * w;
		for (int i = 0; i < w; i++, s += 4) {
			int c = s[0], m = s[1], yy = s[2], k = s[3];
			if (!inverted) { c = 255 - c; m = 255 - m; yy = 255 - yy; k = 255 - k; }
			ycc_store((c * k + 127) / 255, (m * k + 127) / 255, (yy * k + 127) / 255, y + o + i, cb + o + i, cr + o + i);
		}
	}
}

#endif
