package media

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Animation describes an animated picture (a GIF with more than one frame,
// an APNG, an animated WebP) as read from its structure, without decoding
// any frame. Animated pictures are played as video: the server turns them
// into a video rendition per display.
type Animation struct {
	Frames   int     // number of frames
	Duration float64 // one play of the animation, in seconds
	Width    int     // canvas size
	Height   int
	Loops    int // plays wanted by the file; 0 = for ever
}

// AnimLimits bound what animations are accepted: a file of a few kilobytes
// can announce hundreds of thousands of frames (a "frame flood"). A zero
// field means the DefaultAnimLimits value.
type AnimLimits struct {
	MaxFrames      int     // frames in one play
	MaxDuration    float64 // seconds in one play
	MaxPixelFrames int64   // width × height × frames: the work of decoding it once
}

// DefaultAnimLimits allow any real animated logo, sticker or banner
// (a 1080p animation of 40 s at 25 frames per second fits) and refuse
// floods.
var DefaultAnimLimits = AnimLimits{MaxFrames: 3000, MaxDuration: 600, MaxPixelFrames: 2_500_000_000}

func (l AnimLimits) withDefaults() AnimLimits {
	if l.MaxFrames <= 0 {
		l.MaxFrames = DefaultAnimLimits.MaxFrames
	}
	if l.MaxDuration <= 0 {
		l.MaxDuration = DefaultAnimLimits.MaxDuration
	}
	if l.MaxPixelFrames <= 0 {
		l.MaxPixelFrames = DefaultAnimLimits.MaxPixelFrames
	}
	return l
}

// Check refuses an animation over the limits with an error that wraps
// ErrTooManyPixels and reads like "animation has 100000 frames; the limit
// is 3000 frames".
func (l AnimLimits) Check(a Animation) error {
	l = l.withDefaults()
	switch {
	case a.Frames > l.MaxFrames:
		return &limitError{fmt.Sprintf("animation has %d frames; the limit is %d frames", a.Frames, l.MaxFrames)}
	case a.Duration > l.MaxDuration:
		return &limitError{fmt.Sprintf("animation lasts %.0f seconds; the limit is %.0f seconds", a.Duration, l.MaxDuration)}
	case int64(a.Width)*int64(a.Height)*int64(a.Frames) > l.MaxPixelFrames:
		return &limitError{fmt.Sprintf("animation has %d frames of %d×%d pixels (%.0f megapixels in all); the limit is %.0f megapixels in all",
			a.Frames, a.Width, a.Height, float64(a.Width)*float64(a.Height)*float64(a.Frames)/1e6, float64(l.MaxPixelFrames)/1e6)}
	}
	return nil
}

// errNotAnimated: a still picture.
var errNotAnimated = errors.New("not animated")

// ProbeAnimation reports whether the picture at path (already identified
// as format) is animated, and how. Stills give ok == false. A structure
// that cannot be read gives an error wrapping ErrCorrupt.
func ProbeAnimation(path, format string) (a Animation, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return a, false, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	switch format {
	case "gif":
		a, err = gifAnimation(r)
	case "png":
		a, err = apngAnimation(r)
	case "webp":
		a, err = webpAnimation(r)
	default:
		return a, false, nil
	}
	if errors.Is(err, errNotAnimated) {
		return a, false, nil
	}
	if err != nil {
		return a, false, corrupt(err)
	}
	return a, true, nil
}

// frameDelay is how long a frame with a declared delay shows: like
// browsers, delays of 10 ms or less count as 100 ms.
func frameDelay(seconds float64) float64 {
	if seconds <= 0.011 {
		return 0.1
	}
	return seconds
}

func gifAnimation(r *bufio.Reader) (Animation, error) {
	var hdr [13]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Animation{}, err
	}
	a := Animation{Width: int(binary.LittleEndian.Uint16(hdr[6:])), Height: int(binary.LittleEndian.Uint16(hdr[8:])), Loops: 1}
	if hdr[10]&0x80 != 0 {
		if _, err := r.Discard(3 << (hdr[10]&7 + 1)); err != nil {
			return a, err
		}
	}
	skipBlocks := func() error {
		for {
			n, err := r.ReadByte()
			if err != nil {
				return err
			}
			if n == 0 {
				return nil
			}
			if _, err := r.Discard(int(n)); err != nil {
				return err
			}
		}
	}
	delay := 0.0
	for {
		b, err := r.ReadByte()
		if err != nil {
			if a.Frames > 1 && errors.Is(err, io.EOF) {
				break // no trailer: what is there still plays
			}
			return a, err
		}
		switch b {
		case 0x3B: // trailer
			if a.Frames <= 1 {
				return a, errNotAnimated
			}
			return a, nil
		case 0x21: // extension
			label, err := r.ReadByte()
			if err != nil {
				return a, err
			}
			switch label {
			case 0xF9: // graphic control: the next frame's delay
				var gce [6]byte
				if _, err := io.ReadFull(r, gce[:]); err != nil {
					return a, err
				}
				delay = float64(binary.LittleEndian.Uint16(gce[2:])) / 100
				if gce[5] != 0 {
					return a, errors.New("malformed graphic control extension")
				}
				continue
			case 0xFF: // application: NETSCAPE2.0 loop count
				n, err := r.ReadByte()
				if err != nil {
					return a, err
				}
				app := make([]byte, n)
				if _, err := io.ReadFull(r, app); err != nil {
					return a, err
				}
				if string(app) == "NETSCAPE2.0" || string(app) == "ANIMEXTS1.0" {
					sub, _ := r.Peek(4)
					if len(sub) == 4 && sub[0] == 3 && sub[1] == 1 {
						a.Loops = int(binary.LittleEndian.Uint16(sub[2:]))
					}
				}
			}
			if err := skipBlocks(); err != nil {
				return a, err
			}
		case 0x2C: // image descriptor
			var id [9]byte
			if _, err := io.ReadFull(r, id[:]); err != nil {
				return a, err
			}
			if id[8]&0x80 != 0 {
				if _, err := r.Discard(3 << (id[8]&7 + 1)); err != nil {
					return a, err
				}
			}
			if _, err := r.ReadByte(); err != nil { // LZW minimum code size
				return a, err
			}
			if err := skipBlocks(); err != nil {
				return a, err
			}
			a.Frames++
			a.Duration += frameDelay(delay)
			delay = 0
		default:
			if a.Frames > 1 {
				return a, nil // trailing garbage after the frames
			}
			return a, fmt.Errorf("unknown GIF block 0x%02x", b)
		}
	}
	return a, nil
}

func apngAnimation(r *bufio.Reader) (Animation, error) {
	if _, err := r.Discard(8); err != nil {
		return Animation{}, err
	}
	var a Animation
	animated := false
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return a, err
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n > 1<<31-1 {
			return a, errors.New("PNG chunk too long")
		}
		typ := string(hdr[4:8])
		switch typ {
		case "IHDR", "acTL", "fcTL":
			if n > 64 {
				return a, fmt.Errorf("PNG %s chunk of %d bytes", typ, n)
			}
			b := make([]byte, n)
			if _, err := io.ReadFull(r, b); err != nil {
				return a, err
			}
			switch {
			case typ == "IHDR" && n >= 8:
				a.Width, a.Height = int(binary.BigEndian.Uint32(b)), int(binary.BigEndian.Uint32(b[4:]))
			case typ == "acTL" && n >= 8:
				animated = true
				a.Loops = int(binary.BigEndian.Uint32(b[4:]))
			case typ == "fcTL" && n >= 26:
				num, den := float64(binary.BigEndian.Uint16(b[20:])), float64(binary.BigEndian.Uint16(b[22:]))
				if den == 0 {
					den = 100
				}
				a.Frames++
				a.Duration += frameDelay(num / den)
			}
			if _, err := r.Discard(4); err != nil { // CRC
				return a, err
			}
		case "IDAT":
			if !animated {
				return a, errNotAnimated // acTL must come before the image data
			}
			fallthrough
		default:
			if _, err := r.Discard(int(n) + 4); err != nil {
				return a, err
			}
		}
		if typ == "IEND" {
			break
		}
	}
	if !animated || a.Frames <= 1 {
		return a, errNotAnimated
	}
	return a, nil
}

func webpAnimation(r *bufio.Reader) (Animation, error) {
	var a Animation
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return a, err
	}
	animated := false
	var ch [8]byte
	for {
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return a, err
		}
		n := int64(binary.LittleEndian.Uint32(ch[4:]))
		padded := n + n&1
		switch string(ch[:4]) {
		case "VP8X":
			var b [10]byte
			if n < 10 {
				return a, errors.New("short VP8X chunk")
			}
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return a, err
			}
			animated = b[0]&0x02 != 0
			a.Width = 1 + (int(b[4]) | int(b[5])<<8 | int(b[6])<<16)
			a.Height = 1 + (int(b[7]) | int(b[8])<<8 | int(b[9])<<16)
			padded -= 10
			if !animated {
				return a, errNotAnimated
			}
		case "ANIM":
			var b [6]byte
			if n < 6 {
				return a, errors.New("short ANIM chunk")
			}
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return a, err
			}
			a.Loops = int(binary.LittleEndian.Uint16(b[4:]))
			padded -= 6
		case "ANMF":
			var b [16]byte
			if n < 16 {
				return a, errors.New("short ANMF chunk")
			}
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return a, err
			}
			d := int(b[12]) | int(b[13])<<8 | int(b[14])<<16
			a.Frames++
			a.Duration += frameDelay(float64(d) / 1000)
			padded -= 16
		case "VP8 ", "VP8L":
			if !animated {
				return a, errNotAnimated
			}
		}
		if _, err := r.Discard(int(padded)); err != nil {
			if errors.Is(err, io.EOF) && a.Frames > 1 {
				return a, nil
			}
			return a, err
		}
	}
	if !animated || a.Frames <= 1 {
		return a, errNotAnimated
	}
	return a, nil
}
