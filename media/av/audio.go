package av

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/asticode/go-astiav"
)

const audioRate = 48000

// loudness is an EBU R128 measurement.
type loudness struct {
	I, LRA, TP float64 // LUFS, LU, dBTP
}

// audioTrack decodes, loudness-normalises and encodes one audio stream to
// AAC once; every output muxes the same packets.
type audioTrack struct {
	in     string
	index  int
	start  int64 // input start time, microseconds
	opt    Options
	enc    *astiav.CodecContext
	layout astiav.ChannelLayout

	mu       sync.Mutex
	cond     *sync.Cond
	pkts     []*astiav.Packet
	done     bool
	err      error
	measured loudness
}

func newAudioTrack(in string, index int, channels int, startUs int64, opt Options) (*audioTrack, error) {
	codec := astiav.FindEncoder(astiav.CodecIDAac)
	if codec == nil {
		return nil, errors.New("av: no AAC encoder")
	}
	enc := astiav.AllocCodecContext(codec)
	layout := astiav.ChannelLayoutStereo
	if channels == 1 {
		layout = astiav.ChannelLayoutMono
	}
	enc.SetChannelLayout(layout)
	enc.SetChannels(layout.NbChannels())
	enc.SetSampleRate(audioRate)
	enc.SetSampleFormat(astiav.SampleFormatFltp)
	enc.SetTimeBase(astiav.NewRational(1, audioRate))
	enc.SetBitRate(int64(opt.AudioBitrate))
	enc.SetFlags(enc.Flags().Add(astiav.CodecContextFlagGlobalHeader))
	if err := enc.Open(codec, nil); err != nil {
		enc.Free()
		return nil, fmt.Errorf("av: opening the AAC encoder: %w", err)
	}
	a := &audioTrack{in: in, index: index, start: startUs, opt: opt, enc: enc, layout: layout}
	a.cond = sync.NewCond(&a.mu)
	return a, nil
}

func (a *audioTrack) free() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range a.pkts {
		p.Free()
	}
	a.pkts = nil
	if a.enc != nil {
		a.enc.Free()
		a.enc = nil
	}
}

func (a *audioTrack) timeBase() astiav.Rational { return astiav.NewRational(1, audioRate) }

// run measures the loudness, then normalises and encodes. Packets become
// visible to the outputs as they are made.
func (a *audioTrack) run(ctx context.Context) {
	err := a.process(ctx)
	a.mu.Lock()
	a.done, a.err = true, err
	a.cond.Broadcast()
	a.mu.Unlock()
}

func (a *audioTrack) process(ctx context.Context) error {
	m, err := measureLoudness(ctx, a.in, a.index)
	if err != nil {
		return err
	}
	a.measured = m
	desc := normaliseFilter(m, a.opt.LoudnessLUFS) +
		fmt.Sprintf(",aresample=%d,aformat=sample_fmts=fltp:channel_layouts=%s,asetnsamples=n=%d:p=0",
			audioRate, a.layout.String(), max(a.enc.FrameSize(), 1024))
	startTB := int64(0)
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	var g *graph
	defer func() { g.free() }()
	filt := astiav.AllocFrame()
	defer filt.Free()
	// Timestamps handed to the encoder only move forward: a demuxer that
	// estimates them from byte positions (ADPCM in WAV, for one) can step
	// back or leave them unset, and the MP4 muxer refuses packets whose
	// time goes back ("writing audio: Invalid argument").
	next := int64(astiav.NoPtsValue)
	encode := func(f *astiav.Frame) error {
		if f != nil {
			pts := f.Pts()
			if pts != astiav.NoPtsValue {
				pts = astiav.RescaleQ(pts, g.outTimeBase(), a.enc.TimeBase())
			}
			if next != astiav.NoPtsValue && (pts == astiav.NoPtsValue || pts < next) {
				pts = next
			} else if pts == astiav.NoPtsValue {
				pts = 0
			}
			f.SetPts(pts)
			next = pts + int64(f.NbSamples())
		}
		if err := a.enc.SendFrame(f); err != nil {
			return fmt.Errorf("av: encoding audio: %w", err)
		}
		for {
			err := a.enc.ReceivePacket(pkt)
			if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("av: encoding audio: %w", err)
			}
			p := pkt.Clone()
			pkt.Unref()
			a.mu.Lock()
			a.pkts = append(a.pkts, p)
			a.cond.Broadcast()
			a.mu.Unlock()
		}
	}
	err = decodeStream(ctx, a.in, a.index, func(f *astiav.Frame, tb astiav.Rational) error {
		if g == nil {
			var err error
			if g, err = newAudioGraph(desc, f, tb); err != nil {
				return err
			}
			if a.start != astiav.NoPtsValue {
				startTB = astiav.RescaleQ(a.start, astiav.NewRational(1, 1_000_000), tb)
			}
		}
		if f.Pts() != astiav.NoPtsValue {
			f.SetPts(f.Pts() - startTB)
		}
		return g.push(f, filt, encode)
	})
	if err != nil {
		return err
	}
	if g == nil {
		return nil // no audio frames at all
	}
	if err := g.push(nil, filt, encode); err != nil {
		return err
	}
	return encode(nil)
}

// normaliseFilter applies loudnorm in linear mode from a first-pass
// measurement (one constant gain, the most faithful), or leaves near-silent
// audio alone. loudnorm refuses measurements outside its option ranges
// (integrated loudness above 0 LUFS, as in clipped or noise-like audio;
// peaks below -99 dBTP) with "Numerical result out of range": very loud
// audio is first turned down by a plain gain so that what loudnorm is told
// stays within its ranges and is still the truth.
func normaliseFilter(m loudness, target float64) string {
	if m.I < -60 || math.IsInf(m.I, 0) || math.IsNaN(m.I) {
		return "anull"
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	pre := ""
	if m.I > -10 {
		g := -10 - m.I
		pre = "volume=" + f(g) + "dB:precision=double,"
		m.I += g
		m.TP += g
	}
	tp := m.TP
	if math.IsInf(tp, 0) || math.IsNaN(tp) || tp < -99 {
		tp = -99
	}
	tp = math.Min(tp, 99)
	lra := math.Min(math.Max(m.LRA, 0.1), 99)
	if math.IsNaN(m.LRA) {
		lra = 0.1
	}
	target = math.Min(math.Max(target, -70), -5)
	return pre + "loudnorm=I=" + f(target) + ":TP=-1:LRA=20" +
		":measured_I=" + f(m.I) + ":measured_LRA=" + f(lra) +
		":measured_TP=" + f(tp) + ":measured_thresh=" + f(math.Max(m.I-10, -99)) +
		":offset=0:linear=true"
}

// measureLoudness runs the ebur128 filter over the whole stream.
func measureLoudness(ctx context.Context, in string, index int) (loudness, error) {
	var g *graph
	defer func() { g.free() }()
	filt := astiav.AllocFrame()
	defer filt.Free()
	m := loudness{I: math.Inf(-1), TP: math.Inf(-1)}
	read := func(f *astiav.Frame) error {
		if v, err := strconv.ParseFloat(frameMeta(f, "lavfi.r128.I"), 64); err == nil {
			m.I = v
		}
		if v, err := strconv.ParseFloat(frameMeta(f, "lavfi.r128.LRA"), 64); err == nil {
			m.LRA = v
		}
		for ch := 0; ch < 8; ch++ {
			s := frameMeta(f, "lavfi.r128.true_peaks_ch"+strconv.Itoa(ch))
			if s == "" {
				break
			}
			if v, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil && v > m.TP {
				m.TP = v
			}
		}
		return nil
	}
	err := decodeStream(ctx, in, index, func(f *astiav.Frame, tb astiav.Rational) error {
		if g == nil {
			var err error
			if g, err = newAudioGraph("ebur128=peak=true:metadata=1", f, tb); err != nil {
				return err
			}
		}
		return g.push(f, filt, read)
	})
	if err != nil {
		return m, err
	}
	if g != nil {
		if err := g.push(nil, filt, read); err != nil {
			return m, err
		}
	}
	return m, nil
}

// decodeStream decodes every frame of one stream of a file, calling each
// with frames whose reference it may take.
func decodeStream(ctx context.Context, in string, index int, each func(*astiav.Frame, astiav.Rational) error) error {
	fc, err := openInput(in)
	if err != nil {
		return err
	}
	defer closeInput(fc)
	st := fc.Streams()[index]
	dec, err := openDecoder(fc, st, 1)
	if err != nil {
		return fmt.Errorf("av: audio decoder: %w", err)
	}
	defer dec.Free()
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	frame := astiav.AllocFrame()
	defer frame.Free()
	tb := st.TimeBase()
	return decodeLoop(ctx, fc, dec, index, pkt, frame, func(f *astiav.Frame) (bool, error) {
		return false, each(f, tb)
	})
}

// writeUpTo writes this track's packets up to t seconds into mux (which
// keeps its own position), waiting for the encoder if it is behind. With
// t = +Inf it writes the rest.
func (a *audioTrack) writeUpTo(m *muxer, t float64) error {
	for {
		a.mu.Lock()
		for m.audioNext >= len(a.pkts) && !a.done {
			a.cond.Wait()
		}
		if m.audioNext >= len(a.pkts) {
			err := a.err
			a.mu.Unlock()
			return err
		}
		p := a.pkts[m.audioNext]
		a.mu.Unlock()
		if float64(p.Dts())*a.timeBase().Float64() > t {
			return nil
		}
		m.audioNext++
		if err := m.writeAudio(p, a.timeBase()); err != nil {
			return err
		}
	}
}

// lastTime is how far the audio encoder has got, in seconds.
func (a *audioTrack) lastTime() (float64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.pkts) == 0 {
		return 0, a.done
	}
	p := a.pkts[len(a.pkts)-1]
	return float64(p.Pts()+p.Duration()) * a.timeBase().Float64(), a.done
}

// reached reports whether the audio is encoded past t seconds (or ended),
// so that writeUpTo(t) will not wait.
func (a *audioTrack) reached(t float64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done {
		return true
	}
	if len(a.pkts) == 0 {
		return false
	}
	return float64(a.pkts[len(a.pkts)-1].Dts())*a.timeBase().Float64() > t
}
