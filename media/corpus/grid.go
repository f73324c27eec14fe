package corpus

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// iPhones store photos as a grid: the picture is cut into tiles coded as
// separate HEVC images, and a "grid" item, the primary one, says how they
// are laid out; its rotation (irot) turns the whole. heif-enc 1.15 cannot
// write grids, so GridHEIC assembles one in the same way from HEICs that
// heif-enc made of each tile.

// box is one ISOBMFF box: its type and payload.
type box struct {
	typ     string
	payload []byte
}

// readBoxes splits b into boxes.
func readBoxes(b []byte) ([]box, error) {
	var out []box
	for len(b) >= 8 {
		n := int(binary.BigEndian.Uint32(b))
		typ := string(b[4:8])
		hdr := 8
		if n == 1 {
			if len(b) < 16 {
				return nil, errors.New("short box")
			}
			n, hdr = int(binary.BigEndian.Uint64(b[8:])), 16
		} else if n == 0 {
			n = len(b)
		}
		if n < hdr || n > len(b) {
			return nil, errors.New("bad box size")
		}
		out = append(out, box{typ, b[hdr:n]})
		b = b[n:]
	}
	return out, nil
}

func find(bs []box, typ string) (box, bool) {
	for _, b := range bs {
		if b.typ == typ {
			return b, true
		}
	}
	return box{}, false
}

// tileOf returns the hvcC box (whole) and the coded data of a one-image
// HEIC as heif-enc writes it (no thumbnail, no metadata: the image's data
// is all of mdat).
func tileOf(heic []byte) (hvcC, data []byte, err error) {
	top, err := readBoxes(heic)
	if err != nil {
		return nil, nil, err
	}
	meta, ok := find(top, "meta")
	mdat, ok2 := find(top, "mdat")
	if !ok || !ok2 || len(meta.payload) < 4 {
		return nil, nil, errors.New("no meta or mdat")
	}
	inner, err := readBoxes(meta.payload[4:])
	if err != nil {
		return nil, nil, err
	}
	iprp, ok := find(inner, "iprp")
	if !ok {
		return nil, nil, errors.New("no iprp")
	}
	props, err := readBoxes(iprp.payload)
	if err != nil {
		return nil, nil, err
	}
	ipco, ok := find(props, "ipco")
	if !ok {
		return nil, nil, errors.New("no ipco")
	}
	list, err := readBoxes(ipco.payload)
	if err != nil {
		return nil, nil, err
	}
	h, ok := find(list, "hvcC")
	if !ok {
		return nil, nil, errors.New("no hvcC")
	}
	return mkbox("hvcC", h.payload), mdat.payload, nil
}

func mkbox(typ string, parts ...[]byte) []byte {
	n := 8
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 8, n)
	binary.BigEndian.PutUint32(out, uint32(n))
	copy(out[4:], typ)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func full(version byte, flags uint32) []byte {
	return []byte{version, byte(flags >> 16), byte(flags >> 8), byte(flags)}
}

func be16(v int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
func be32(v int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

// heifItem is one item of a HEIF file being assembled.
type heifItem struct {
	typ    string   // "hvc1", "grid"
	data   []byte   // its coded data
	props  [][]byte // its property boxes (shared ones may repeat: they are deduplicated)
	hidden bool
}

// heifRef is an item reference: from → to, of a type ("dimg", "auxl", "thmb").
type heifRef struct {
	typ  string
	from int
	to   []int
}

// writeHEIF assembles a HEIF file: items are numbered from 1 in order, and
// primary is the number of the primary item. Properties marked essential
// are the hvcC and the transforms.
func writeHEIF(items []heifItem, refs []heifRef, primary int) []byte {
	ftyp := mkbox("ftyp", []byte("heic"), be32(0), []byte("mif1heicmiaf"))
	hdlr := mkbox("hdlr", full(0, 0), be32(0), []byte("pict"), make([]byte, 12), []byte{0})
	pitm := mkbox("pitm", full(0, 0), be16(primary))
	var infes [][]byte
	for i, it := range items {
		flags := uint32(0)
		if it.hidden {
			flags = 1
		}
		infes = append(infes, mkbox("infe", full(2, flags), be16(i+1), be16(0), []byte(it.typ), []byte{0}))
	}
	iinf := mkbox("iinf", append([][]byte{full(0, 0), be16(len(items))}, infes...)...)
	var irefs [][]byte
	for _, r := range refs {
		var b bytes.Buffer
		b.Write(be16(r.from))
		b.Write(be16(len(r.to)))
		for _, to := range r.to {
			b.Write(be16(to))
		}
		irefs = append(irefs, mkbox(r.typ, b.Bytes()))
	}
	iref := mkbox("iref", append([][]byte{full(0, 0)}, irefs...)...)

	var ipco [][]byte
	index := map[string]int{}
	var ipma bytes.Buffer
	ipma.Write(full(0, 0))
	ipma.Write(be32(len(items)))
	for i, it := range items {
		ipma.Write(be16(i + 1))
		ipma.WriteByte(byte(len(it.props)))
		for _, p := range it.props {
			k, ok := index[string(p)]
			if !ok {
				ipco = append(ipco, p)
				k = len(ipco)
				index[string(p)] = k
			}
			essential := byte(0)
			switch string(p[4:8]) {
			case "hvcC", "irot", "imir", "clap":
				essential = 0x80
			}
			ipma.WriteByte(essential | byte(k))
		}
	}
	iprp := mkbox("iprp", mkbox("ipco", ipco...), mkbox("ipma", ipma.Bytes()))

	// iloc needs absolute offsets into mdat, which follows meta: meta's
	// size does not depend on the offsets, so build it once to learn it.
	iloc := func(mdatStart int) []byte {
		var b bytes.Buffer
		b.Write(full(0, 0))
		b.Write([]byte{0x44, 0x00}) // 4-byte offsets and lengths, no base offset
		b.Write(be16(len(items)))
		off := mdatStart
		for i, it := range items {
			b.Write(be16(i + 1))
			b.Write(be16(0))
			b.Write(be16(1))
			b.Write(be32(off))
			b.Write(be32(len(it.data)))
			off += len(it.data)
		}
		return mkbox("iloc", b.Bytes())
	}
	meta := func(mdatStart int) []byte {
		parts := [][]byte{full(0, 0), hdlr, pitm, iloc(mdatStart), iinf}
		if len(refs) > 0 {
			parts = append(parts, iref)
		}
		return mkbox("meta", append(parts, iprp)...)
	}
	start := len(ftyp) + len(meta(0)) + 8
	var payload [][]byte
	for _, it := range items {
		payload = append(payload, it.data)
	}
	out := append(append([]byte{}, ftyp...), meta(start)...)
	return append(out, mkbox("mdat", payload...)...)
}

func ispe(w, h int) []byte { return mkbox("ispe", full(0, 0), be32(w), be32(h)) }

// GridHEIC lays tiles (HEICs of tileW×tileH each, row by row) out as one
// cols×rows grid picture; irot, when not 0, rotates the grid by irot×90°
// anticlockwise.
func GridHEIC(tiles [][]byte, cols, rows, tileW, tileH, irot int) ([]byte, error) {
	if len(tiles) != cols*rows {
		return nil, errors.New("tile count does not match the grid")
	}
	var items []heifItem
	var ids []int
	for i, t := range tiles {
		h, d, err := tileOf(t)
		if err != nil {
			return nil, err
		}
		items = append(items, heifItem{typ: "hvc1", data: d, props: [][]byte{h, ispe(tileW, tileH)}, hidden: true})
		ids = append(ids, i+1)
	}
	W, H := cols*tileW, rows*tileH
	grid := heifItem{typ: "grid", data: append([]byte{0, 0, byte(rows - 1), byte(cols - 1)}, append(be16(W), be16(H)...)...),
		props: [][]byte{ispe(W, H)}}
	if irot != 0 {
		grid.props = append(grid.props, mkbox("irot", []byte{byte(irot & 3)}))
	}
	items = append(items, grid)
	gridID := len(items)
	return writeHEIF(items, []heifRef{{"dimg", gridID, ids}}, gridID), nil
}

// DepthHEIC stores a picture (a one-image HEIC of w×h) with a depth map
// (another, of dw×dh) as an auxiliary image, as portrait-mode photos do.
func DepthHEIC(picture, depth []byte, w, h, dw, dh int) ([]byte, error) {
	ph, pd, err := tileOf(picture)
	if err != nil {
		return nil, err
	}
	dhv, dd, err := tileOf(depth)
	if err != nil {
		return nil, err
	}
	auxC := mkbox("auxC", full(0, 0), []byte("urn:mpeg:hevc:2015:auxid:2\x00"))
	items := []heifItem{
		{typ: "hvc1", data: dd, props: [][]byte{dhv, ispe(dw, dh), auxC}, hidden: true},
		{typ: "hvc1", data: pd, props: [][]byte{ph, ispe(w, h)}},
	}
	return writeHEIF(items, []heifRef{{"auxl", 1, []int{2}}}, 2), nil
}

// OtherCodecHEIF is a HEIF whose only picture is coded as itemType (for
// example "avc1", H.264, which libheif 1.15 does not decode).
func OtherCodecHEIF(itemType string, w, h int) []byte {
	return writeHEIF([]heifItem{{typ: itemType, data: []byte{0, 0, 0, 1, 0x67}, props: [][]byte{ispe(w, h)}}}, nil, 1)
}
