package media

import (
	"encoding/binary"
	"errors"
	"image"
	"io"
	"math/bits"
)

// Go's BMP decoder reads 32-bit pictures only with the default channel
// masks; Windows and design tools also write 16- and 32-bit BMPs whose
// channels (alpha included) are given by bit-field masks, after a 40-byte
// header or inside a V2 to V5 header. This reader handles those.

type bmpFields struct {
	w, h, bpp  int
	topDown    bool
	offset     int
	masks      [4]uint32 // R, G, B, A
	compressed uint32
}

func parseBitfieldsBMP(b []byte) (bmpFields, error) {
	var f bmpFields
	if len(b) < 54 || string(b[:2]) != "BM" {
		return f, errors.New("bmp: short header")
	}
	le := binary.LittleEndian
	f.offset = int(le.Uint32(b[10:14]))
	infoLen := int(le.Uint32(b[14:18]))
	switch infoLen {
	case 40, 52, 56, 108, 124:
	default:
		return f, errors.New("bmp: unknown header size")
	}
	if len(b) < 14+infoLen {
		return f, io.ErrUnexpectedEOF
	}
	w, h := int(int32(le.Uint32(b[18:22]))), int(int32(le.Uint32(b[22:26])))
	if h < 0 {
		h, f.topDown = -h, true
	}
	f.w, f.h = w, h
	f.bpp = int(le.Uint16(b[28:30]))
	f.compressed = le.Uint32(b[30:34])
	if le.Uint16(b[26:28]) != 1 || (f.bpp != 16 && f.bpp != 32) || (f.compressed != 3 && f.compressed != 6 && f.compressed != 0) {
		return f, errors.New("bmp: not a bit-field picture")
	}
	if f.compressed == 0 {
		if f.bpp == 16 {
			f.masks = [4]uint32{0x7c00, 0x03e0, 0x001f, 0}
		} else {
			f.masks = [4]uint32{0xff0000, 0xff00, 0xff, 0}
			if infoLen > 40 {
				f.masks[3] = 0xff000000
			}
		}
	} else {
		// Masks follow a 40-byte header, or sit inside a longer one.
		n := 3
		if f.compressed == 6 || infoLen >= 56 {
			n = 4
		}
		if len(b) < 54+4*n {
			return f, io.ErrUnexpectedEOF
		}
		for i := range n {
			f.masks[i] = le.Uint32(b[54+4*i:])
		}
	}
	if w <= 0 || h <= 0 || f.offset < 14+infoLen {
		return f, errors.New("bmp: bad size or offset")
	}
	return f, nil
}

// bitfieldsBMPSize reads the size of a bit-field BMP.
func bitfieldsBMPSize(r io.ReaderAt) (w, h int, err error) {
	var hdr [14 + 124 + 16]byte
	n, _ := r.ReadAt(hdr[:], 0)
	f, err := parseBitfieldsBMP(hdr[:n])
	return f.w, f.h, err
}

// decodeBitfieldsBMP decodes a 16- or 32-bit BMP with channel masks into an
// *image.NRGBA. A picture whose alpha mask is set but whose alpha is zero
// everywhere is taken as opaque, as browsers do.
func decodeBitfieldsBMP(data []byte) (image.Image, error) {
	f, err := parseBitfieldsBMP(data)
	if err != nil {
		return nil, err
	}
	stride := ((f.w*f.bpp + 31) / 32) * 4
	if int64(f.offset)+int64(stride)*int64(f.h) > int64(len(data)) {
		return nil, io.ErrUnexpectedEOF
	}
	type ch struct {
		shift, width uint
		mask         uint32
	}
	var chs [4]ch
	for i, m := range f.masks {
		if m != 0 {
			shift := uint(bits.TrailingZeros32(m))
			chs[i] = ch{shift, uint(32 - bits.LeadingZeros32(m>>shift)), m} // width spans any gaps in the mask
		}
	}
	scale := func(v uint32, c ch) uint8 {
		if c.mask == 0 {
			return 0
		}
		v = (v & c.mask) >> c.shift
		if c.width >= 8 {
			return uint8(v >> (c.width - 8))
		}
		max := uint32(1)<<c.width - 1
		return uint8(min((v*255+max/2)/max, 255))
	}
	img := image.NewNRGBA(image.Rect(0, 0, f.w, f.h))
	anyAlpha := false
	for y := 0; y < f.h; y++ {
		sy := y
		if !f.topDown {
			sy = f.h - 1 - y
		}
		row := data[f.offset+sy*stride:]
		out := img.Pix[y*img.Stride:]
		for x := 0; x < f.w; x++ {
			var v uint32
			if f.bpp == 32 {
				v = binary.LittleEndian.Uint32(row[4*x:])
			} else {
				v = uint32(binary.LittleEndian.Uint16(row[2*x:]))
			}
			o := out[4*x : 4*x+4 : 4*x+4]
			o[0], o[1], o[2] = scale(v, chs[0]), scale(v, chs[1]), scale(v, chs[2])
			o[3] = 255
			if chs[3].mask != 0 {
				o[3] = scale(v, chs[3])
				anyAlpha = anyAlpha || o[3] != 0
			}
		}
	}
	if chs[3].mask != 0 && !anyAlpha {
		for i := 3; i < len(img.Pix); i += 4 {
			img.Pix[i] = 255
		}
	}
	return img, nil
}
