package av

import (
	"bufio"
	"io"
	"os"
)

// MPEG audio files in the wild sometimes carry junk before their first
// frame: a broken or oversized ID3 tag, padding, the tail of an HTTP
// response, another file's bytes. FFmpeg's mp3 demuxer then decodes the
// junk as noise (wrong duration, loudness measured on garbage) or does not
// recognise the file at all. mp3Start finds where the real stream starts:
// the first offset at which several frame headers in a row chain exactly.

// mp3ScanLimit bounds how far into a file the scanner looks for the first
// frame.
const mp3ScanLimit = 32 << 20

// mp3Chain is how many consecutive frames must chain for a sync to count.
const mp3Chain = 6

var mp3Bitrates = [2][3][16]int{ // [mpeg1, mpeg2/2.5][layer I, II, III][index] in kb/s
	{
		{0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448, 0},
		{0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 0},
		{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0},
	},
	{
		{0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256, 0},
		{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0},
		{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0},
	},
}

var mp3Rates = [4][3]int{ // [version bits][index]
	{11025, 12000, 8000},  // MPEG 2.5
	{},                    // reserved
	{22050, 24000, 16000}, // MPEG 2
	{44100, 48000, 32000}, // MPEG 1
}

// mp3Frame parses a frame header: its length in bytes and a key that all
// frames of one stream share (version, layer, sample rate), or 0, 0.
func mp3Frame(h []byte) (length int, key uint32) {
	if len(h) < 4 || h[0] != 0xFF || h[1]&0xE0 != 0xE0 {
		return 0, 0
	}
	ver := int(h[1]>>3) & 3
	layer := int(h[1]>>1) & 3 // 3 = I, 2 = II, 1 = III
	bri := int(h[2] >> 4)
	sri := int(h[2]>>2) & 3
	pad := int(h[2]>>1) & 1
	if ver == 1 || layer == 0 || bri == 0 || bri == 15 || sri == 3 {
		return 0, 0
	}
	v := 1
	if ver == 3 {
		v = 0
	}
	l := 3 - layer // 0 = I, 1 = II, 2 = III
	br := mp3Bitrates[v][l][bri] * 1000
	sr := mp3Rates[ver][sri]
	switch {
	case l == 0:
		length = (12*br/sr + pad) * 4
	case l == 2 && v == 1:
		length = 72*br/sr + pad
	default:
		length = 144*br/sr + pad
	}
	return length, uint32(h[1]&0xFE)<<8 | uint32(h[2]&0x0C)
}

// id3Size is the length of an ID3v2 tag at the start of b, or 0.
func id3Size(b []byte) int64 {
	if len(b) < 10 || string(b[:3]) != "ID3" || b[6]|b[7]|b[8]|b[9] >= 0x80 {
		return 0
	}
	n := int64(b[6])<<21 | int64(b[7])<<14 | int64(b[8])<<7 | int64(b[9])
	n += 10
	if b[5]&0x10 != 0 {
		n += 10 // footer
	}
	return n
}

// mp3Start returns the offset of the first run of chained MPEG audio frames
// after the file's ID3v2 tag (if any), where that tag ends (0 without one),
// and whether frames were found.
func mp3Start(path string) (start, tagEnd int64, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, 0, false
	}
	size := st.Size()
	var head [10]byte
	if n, _ := f.ReadAt(head[:], 0); n == 10 {
		tagEnd = id3Size(head[:])
		if tagEnd > size {
			tagEnd = 0 // a tag longer than the file: junk
		}
	}
	chains := func(off int64) bool {
		var h [4]byte
		var key0 uint32
		for i := 0; i < mp3Chain; i++ {
			if n, _ := f.ReadAt(h[:], off); n < 4 {
				return i >= 2 && off == size // a short file ending exactly after its frames
			}
			l, key := mp3Frame(h[:])
			if l < 4 || (i > 0 && key != key0) {
				return false
			}
			key0 = key
			off += int64(l)
		}
		return true
	}
	r := bufio.NewReaderSize(io.NewSectionReader(f, tagEnd, max(0, min(size, tagEnd+mp3ScanLimit)-tagEnd)), 1<<16)
	var prev byte
	for off := tagEnd; ; off++ {
		c, err := r.ReadByte()
		if err != nil {
			return 0, tagEnd, false
		}
		if off > tagEnd && prev == 0xFF && c&0xE0 == 0xE0 && chains(off-1) {
			return off - 1, tagEnd, true
		}
		prev = c
	}
}
