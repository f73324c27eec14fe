package media

import (
	"encoding/binary"
	"testing"
)

// FuzzStillHeaderParsers: the Go parsers of HEIF item boxes, HEIF EXIF and bit-field
// BMP headers never panic on any input.
func FuzzStillHeaderParsers(f *testing.F) {
	box := func(typ string, payload ...byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(8+len(payload)))
		return append(append(b, typ...), payload...)
	}
	infe := box("infe", append([]byte{2, 0, 0, 0, 0, 1, 0, 0}, "avc1\x00"...)...)
	iinf := box("iinf", append([]byte{0, 0, 0, 0, 0, 1}, infe...)...)
	pitm := box("pitm", 0, 0, 0, 0, 0, 1)
	meta := box("meta", append(append([]byte{0, 0, 0, 0}, pitm...), iinf...)...)
	f.Add(append(box("ftyp", []byte("heic\x00\x00\x00\x00mif1")...), meta...))
	f.Add(BitfieldsBMPForTest())
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = heifPrimaryType(b)
		_ = heifPrimaryTransformed(b)
		_ = heifExifOrientation(b)
		if _, err := parseBitfieldsBMP(b); err == nil {
			if f, _ := parseBitfieldsBMP(b); int64(f.w)*int64(f.h) <= 1<<20 {
				_, _ = decodeBitfieldsBMP(b)
			}
		}
	})
}

// BitfieldsBMPForTest is a 2×2 32-bit BMP with RGBA masks.
func BitfieldsBMPForTest() []byte {
	b := make([]byte, 14+40+16+16)
	le := binary.LittleEndian
	copy(b, "BM")
	le.PutUint32(b[10:], 14+40+16)
	le.PutUint32(b[14:], 40)
	le.PutUint32(b[18:], 2)
	le.PutUint32(b[22:], 2)
	le.PutUint16(b[26:], 1)
	le.PutUint16(b[28:], 32)
	le.PutUint32(b[30:], 6)
	for i, m := range []uint32{0xff, 0xff00, 0xff0000, 0xff000000} {
		le.PutUint32(b[54+4*i:], m)
	}
	return b
}

func TestHEIFPrimaryType(t *testing.T) {
	box := func(typ string, payload ...byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(8+len(payload)))
		return append(append(b, typ...), payload...)
	}
	infe1 := box("infe", append([]byte{2, 0, 0, 0, 0, 1, 0, 0}, "hvc1\x00"...)...)
	infe2 := box("infe", append([]byte{2, 0, 0, 1, 0, 2, 0, 0}, "j2k1\x00"...)...)
	iinf := box("iinf", append(append([]byte{0, 0, 0, 0, 0, 2}, infe1...), infe2...)...)
	pitm := box("pitm", 0, 0, 0, 0, 0, 2)
	file := append(box("ftyp", []byte("heic\x00\x00\x00\x00mif1")...), box("meta", append(append([]byte{0, 0, 0, 0}, pitm...), iinf...)...)...)
	if got := heifPrimaryType(file); got != "j2k1" {
		t.Fatalf("primary type %q, want j2k1", got)
	}
}
