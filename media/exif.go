package media

import (
	"encoding/binary"
	"io"
)

// jpegOrientation finds the EXIF orientation in a JPEG's APP1 segment. It
// walks the marker segments before the first scan and returns 1 when there
// is no (valid) orientation tag.
func jpegOrientation(ra io.ReaderAt, size int64) int {
	var hdr [4]byte
	off := int64(2) // after SOI
	for off+4 <= size {
		if _, err := ra.ReadAt(hdr[:], off); err != nil {
			return 1
		}
		if hdr[0] != 0xFF {
			return 1
		}
		marker := hdr[1]
		if marker == 0xFF { // fill byte
			off++
			continue
		}
		if marker == 0xD8 || marker >= 0xD0 && marker <= 0xD7 || marker == 0x01 {
			off += 2 // markers without a length
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // start of scan, end of image
			return 1
		}
		segLen := int64(binary.BigEndian.Uint16(hdr[2:]))
		if segLen < 2 {
			return 1
		}
		if marker == 0xE1 && segLen >= 2+6+8 {
			n := segLen - 2
			if n > 1<<16 {
				n = 1 << 16
			}
			seg := make([]byte, n)
			if _, err := ra.ReadAt(seg, off+4); err == nil || err == io.EOF {
				if string(seg[:6]) == "Exif\x00\x00" {
					if o := tiffOrientationBytes(seg[6:]); o != 0 {
						return o
					}
				}
			}
		}
		off += 2 + segLen
	}
	return 1
}

// tiffOrientation reads tag 0x0112 of IFD0 from a TIFF file, 1 if absent.
func tiffOrientation(r *io.SectionReader) int {
	var hdr [8]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return 1
	}
	bo := byteOrder(hdr[:])
	if bo == nil {
		return 1
	}
	ifd := int64(bo.Uint32(hdr[4:]))
	var cnt [2]byte
	if _, err := r.ReadAt(cnt[:], ifd); err != nil {
		return 1
	}
	n := int64(bo.Uint16(cnt[:]))
	entries := make([]byte, n*12)
	if _, err := r.ReadAt(entries, ifd+2); err != nil {
		return 1
	}
	if o := findOrientation(bo, entries); o != 0 {
		return o
	}
	return 1
}

// tiffOrientationBytes reads the orientation from a TIFF structure held in
// memory (the body of an EXIF segment); 0 if absent or invalid.
func tiffOrientationBytes(b []byte) int {
	if len(b) < 8 {
		return 0
	}
	bo := byteOrder(b)
	if bo == nil {
		return 0
	}
	ifd := uint64(bo.Uint32(b[4:]))
	if ifd+2 > uint64(len(b)) {
		return 0
	}
	n := uint64(bo.Uint16(b[ifd:]))
	end := ifd + 2 + n*12
	if end > uint64(len(b)) {
		end = ifd + 2 + (uint64(len(b))-ifd-2)/12*12
	}
	return findOrientation(bo, b[ifd+2:end])
}

func byteOrder(b []byte) binary.ByteOrder {
	switch {
	case b[0] == 'I' && b[1] == 'I' && b[2] == 42 && b[3] == 0:
		return binary.LittleEndian
	case b[0] == 'M' && b[1] == 'M' && b[2] == 0 && b[3] == 42:
		return binary.BigEndian
	}
	return nil
}

// findOrientation scans 12-byte IFD entries for tag 0x0112 (SHORT, count 1).
func findOrientation(bo binary.ByteOrder, entries []byte) int {
	for len(entries) >= 12 {
		e := entries[:12]
		entries = entries[12:]
		if bo.Uint16(e) != 0x0112 {
			continue
		}
		var v int
		switch bo.Uint16(e[2:]) {
		case 3: // SHORT
			v = int(bo.Uint16(e[8:]))
		case 4: // LONG, seen in some writers
			v = int(bo.Uint32(e[8:]))
		default:
			return 0
		}
		if v >= 1 && v <= 8 {
			return v
		}
		return 0
	}
	return 0
}
