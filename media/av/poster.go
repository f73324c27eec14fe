package av

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"

	"github.com/asticode/go-astiav"
)

// Thumbnail sizes for videos.
const (
	ThumbnailWidth  = 320
	ThumbnailHeight = 180
)

// Poster writes a JPEG poster frame of a video, fitted inside maxW×maxH
// (aspect kept, upright, progressive), taken about 10% in. A nearly black
// picture (fade-in, title card) is skipped for one further in when there is
// one.
func Poster(in, out string, maxW, maxH int) error {
	initFFmpeg()
	if maxW < 16 || maxH < 16 || maxW > MaxWidth || maxH > MaxHeight {
		return fmt.Errorf("av: poster size %dx%d out of range", maxW, maxH)
	}
	if err := precheck(in); err != nil {
		return err
	}
	info, err := Probe(in)
	if err != nil {
		return err
	}
	vi := info.Video()
	if vi == nil {
		return ErrNoVideo
	}
	var best image.Image
	bestLuma := -1.0
	for _, frac := range []float64{0.10, 0.25, 0.50, 0} {
		img, err := grab(in, *vi, info.Duration*frac, maxW, maxH)
		if err != nil {
			if best != nil {
				break
			}
			if frac == 0 {
				return err
			}
			continue
		}
		l := meanLuma(img)
		if l > bestLuma {
			best, bestLuma = img, l
		}
		if l >= 24 {
			break
		}
	}
	if best == nil {
		return fmt.Errorf("%w: no picture could be decoded", ErrCorrupt)
	}
	return writeJPEG(out, best)
}

// Thumbnail writes a small JPEG of a video (ThumbnailWidth×ThumbnailHeight
// at most).
func Thumbnail(in, out string) error {
	return Poster(in, out, ThumbnailWidth, ThumbnailHeight)
}

func writeJPEG(out string, img image.Image) error {
	tmp := filepath.Join(filepath.Dir(out), fmt.Sprintf("%s%d-%s", PartialPrefix, os.Getpid(), filepath.Base(out)))
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	err = jpeg.Encode(w, img, &jpeg.Options{Quality: 85})
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, out)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// grab decodes the first picture at or after at seconds.
func grab(in string, vi StreamInfo, at float64, maxW, maxH int) (image.Image, error) {
	fc, err := openInput(in)
	if err != nil {
		return nil, err
	}
	defer closeInput(fc)
	st := fc.Streams()[vi.Index]
	dec, err := openDecoder(fc, st, 0)
	if err != nil {
		return nil, err
	}
	defer dec.Free()
	tb := st.TimeBase()
	target := int64(astiav.NoPtsValue)
	if at > 0 {
		ts := int64(at * 1e6)
		if s := fc.StartTime(); s != astiav.NoPtsValue {
			ts += s
		}
		if err := fc.SeekFrame(-1, ts, astiav.NewSeekFlags(astiav.SeekFlagBackward)); err == nil {
			target = astiav.RescaleQ(ts, astiav.NewRational(1, 1_000_000), tb)
		}
	}
	w, h := vi.displaySize()
	s := math.Min(1, math.Min(float64(maxW)/float64(max(w, 1)), float64(maxH)/float64(max(h, 1))))
	ow, oh := max(int(math.Round(float64(w)*s)), 1), max(int(math.Round(float64(h)*s)), 1)
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	frame := astiav.AllocFrame()
	defer frame.Free()
	filt := astiav.AllocFrame()
	defer filt.Free()
	var img image.Image
	var g *graph
	defer func() { g.free() }()
	take := func(f *astiav.Frame) error {
		d := f.Data()
		im, err := d.GuessImageFormat()
		if err != nil {
			return err
		}
		if err := d.ToImage(im); err != nil {
			return err
		}
		img = im
		return nil
	}
	use := func(f *astiav.Frame) error {
		if target != astiav.NoPtsValue && f.Pts() != astiav.NoPtsValue && f.Pts() < target {
			return nil
		}
		il, _ := frameInterlaced(f)
		desc := commonFilter(vi.Rotation, il, Options{}.withDefaults())
		if desc != "" {
			desc += ","
		}
		desc += fmt.Sprintf("scale=%d:%d,format=rgba", ow, oh)
		var err error
		if g, err = newVideoGraph(desc, f, tb, 1); err != nil {
			return err
		}
		if err := g.push(f, filt, take); err != nil {
			return err
		}
		if img == nil { // a deinterlacer holds one frame back
			return g.push(nil, filt, take)
		}
		return nil
	}
	err = decodeLoop(context.Background(), fc, dec, st.Index(), pkt, frame, func(f *astiav.Frame) (bool, error) {
		if err := use(f); err != nil {
			return false, err
		}
		return img != nil, nil
	})
	if err != nil {
		return nil, err
	}
	if img == nil {
		return nil, errors.New("av: no picture at that time")
	}
	return img, nil
}

// decodeLoop demuxes the stream index into the decoder and hands each
// decoded frame to each until it says stop; damaged packets are skipped,
// as FFmpeg's tools do. Posters, audio and video transcodes share it.
func decodeLoop(ctx context.Context, fc *astiav.FormatContext, dec *astiav.CodecContext, index int,
	pkt *astiav.Packet, frame *astiav.Frame, each func(*astiav.Frame) (stop bool, err error)) error {
	receive := func() (bool, error) {
		for {
			err := dec.ReceiveFrame(frame)
			if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
				return false, nil
			}
			if err != nil {
				return false, fmt.Errorf("%w: %v", ErrCorrupt, err)
			}
			stop, err := each(frame)
			frame.Unref()
			if stop || err != nil {
				return stop, err
			}
		}
	}
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err := fc.ReadFrame(pkt)
		if errors.Is(err, astiav.ErrEof) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if pkt.StreamIndex() != index {
			pkt.Unref()
			continue
		}
		_ = dec.SendPacket(pkt)
		pkt.Unref()
		if stop, err := receive(); stop || err != nil {
			return err
		}
	}
	_ = dec.SendPacket(nil)
	_, err := receive()
	return err
}

// meanLuma is the average brightness (0–255) on a sparse grid.
func meanLuma(img image.Image) float64 {
	b := img.Bounds()
	var sum float64
	n := 0
	stepX, stepY := max(b.Dx()/32, 1), max(b.Dy()/32, 1)
	for y := b.Min.Y; y < b.Max.Y; y += stepY {
		for x := b.Min.X; x < b.Max.X; x += stepX {
			r, g, bb, _ := img.At(x, y).RGBA()
			sum += (0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(bb)) / 257
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}
