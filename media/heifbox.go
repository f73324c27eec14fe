package media

import "encoding/binary"

// heifPrimaryType reads the item type of a HEIF file's primary item
// ("hvc1", "av01", "grid", …) from its meta box, or "" when it cannot be
// found. libheif 1.15 skips items coded in ways it does not know, and then
// reports the file as broken; this tells such a file (a real picture
// coded, say, with H.264 or JPEG 2000) from a damaged one.
func heifPrimaryType(b []byte) string {
	meta := childBox(b, "meta")
	if len(meta) < 4 {
		return ""
	}
	meta = meta[4:] // version and flags
	pitm := childBox(meta, "pitm")
	if len(pitm) < 6 {
		return ""
	}
	var primary uint32
	if pitm[0] == 0 {
		primary = uint32(binary.BigEndian.Uint16(pitm[4:]))
	} else if len(pitm) >= 8 {
		primary = binary.BigEndian.Uint32(pitm[4:])
	}
	iinf := childBox(meta, "iinf")
	if len(iinf) < 6 {
		return ""
	}
	entries := iinf[6:]
	if iinf[0] != 0 {
		if len(iinf) < 8 {
			return ""
		}
		entries = iinf[8:]
	}
	for len(entries) >= 8 {
		n := int(binary.BigEndian.Uint32(entries))
		if n < 8 || n > len(entries) {
			return ""
		}
		infe := entries[8:n]
		entries = entries[n:]
		if len(infe) < 4 || infe[0] < 2 {
			continue
		}
		var id uint32
		rest := infe[4:]
		if infe[0] == 2 {
			if len(rest) < 8 {
				continue
			}
			id, rest = uint32(binary.BigEndian.Uint16(rest)), rest[4:]
		} else {
			if len(rest) < 10 {
				continue
			}
			id, rest = binary.BigEndian.Uint32(rest), rest[6:]
		}
		if id == primary {
			return string(rest[:4])
		}
	}
	return ""
}

// childBox returns the payload of the first box of type typ directly in b.
func childBox(b []byte, typ string) []byte {
	for len(b) >= 8 {
		n := int(binary.BigEndian.Uint32(b))
		hdr := 8
		if n == 1 && len(b) >= 16 {
			n, hdr = int(binary.BigEndian.Uint64(b[8:])), 16
		} else if n == 0 {
			n = len(b)
		}
		if n < hdr || n > len(b) {
			return nil
		}
		if string(b[4:8]) == typ {
			return b[hdr:n]
		}
		b = b[n:]
	}
	return nil
}

// heifPrimaryTransformed reports whether the primary item of a HEIF file
// has a rotation (irot) or mirroring (imir) property. It also returns
// false when the boxes cannot be read.
func heifPrimaryTransformed(b []byte) bool {
	meta := childBox(b, "meta")
	if len(meta) < 4 {
		return false
	}
	meta = meta[4:]
	pitm := childBox(meta, "pitm")
	if len(pitm) < 6 {
		return false
	}
	primary := uint32(binary.BigEndian.Uint16(pitm[4:]))
	if pitm[0] != 0 {
		if len(pitm) < 8 {
			return false
		}
		primary = binary.BigEndian.Uint32(pitm[4:])
	}
	iprp := childBox(meta, "iprp")
	ipco, ipma := childBox(iprp, "ipco"), childBox(iprp, "ipma")
	if len(ipma) < 8 {
		return false
	}
	// The property boxes, by 1-based index.
	var props []string
	for rest := ipco; len(rest) >= 8; {
		n := int(binary.BigEndian.Uint32(rest))
		if n < 8 || n > len(rest) {
			break
		}
		props = append(props, string(rest[4:8]))
		rest = rest[n:]
	}
	version, flags := ipma[0], ipma[3]
	count := binary.BigEndian.Uint32(ipma[4:])
	rest := ipma[8:]
	for range count {
		var id uint32
		if version < 1 {
			if len(rest) < 3 {
				return false
			}
			id, rest = uint32(binary.BigEndian.Uint16(rest)), rest[2:]
		} else {
			if len(rest) < 5 {
				return false
			}
			id, rest = binary.BigEndian.Uint32(rest), rest[4:]
		}
		n := int(rest[0])
		rest = rest[1:]
		size := 1
		if flags&1 != 0 {
			size = 2
		}
		if len(rest) < n*size {
			return false
		}
		for i := range n {
			idx := int(rest[i*size] & 0x7f)
			if size == 2 {
				idx = int(binary.BigEndian.Uint16(rest[i*size:]) & 0x7fff)
			}
			if id == primary && idx >= 1 && idx <= len(props) && (props[idx-1] == "irot" || props[idx-1] == "imir") {
				return true
			}
		}
		rest = rest[n*size:]
	}
	return false
}

// heifExifOrientation reads the orientation from a HEIF EXIF block (a
// 4-byte offset to the TIFF header, then the TIFF structure); 1 when absent.
func heifExifOrientation(exif []byte) int {
	if len(exif) < 4 {
		return 1
	}
	tiff := exif[4:]
	if off := int(binary.BigEndian.Uint32(exif)); off >= 0 && off < len(tiff) {
		tiff = tiff[off:]
	}
	// Some writers get the offset wrong: look for the TIFF header near it.
	for i := 0; i+4 <= len(tiff) && i < 16; i++ {
		if h := string(tiff[i : i+4]); h == "II*\x00" || h == "MM\x00*" {
			if o := tiffOrientationBytes(tiff[i:]); o >= 1 && o <= 8 {
				return o
			}
			break
		}
	}
	return 1
}
