package av

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astiav"
)

// Options are the encoding settings shared by all renditions of a job.
type Options struct {
	Preset         string  `json:"preset,omitempty"`          // libx264 preset; default veryfast
	CRF            int     `json:"crf,omitempty"`             // libx264 CRF; 0 = 23
	LoudnessLUFS   float64 `json:"loudness_lufs,omitempty"`   // EBU R128 target; 0 = -23
	AudioBitrate   int     `json:"audio_bitrate,omitempty"`   // AAC bits per second; 0 = 128000
	DecoderThreads int     `json:"decoder_threads,omitempty"` // 0 = one per core
	EncoderThreads int     `json:"encoder_threads,omitempty"` // 0 = libx264's own choice, as the ffmpeg CLI
	Deinterlacer   string  `json:"deinterlacer,omitempty"`    // bwdif (default) or yadif
	NoAudio        bool    `json:"no_audio,omitempty"`        // drop the audio
}

func (o Options) withDefaults() Options {
	if o.Preset == "" {
		o.Preset = "veryfast"
	}
	if o.CRF <= 0 {
		o.CRF = 23
	}
	if o.LoudnessLUFS == 0 {
		o.LoudnessLUFS = -23
	}
	if o.AudioBitrate <= 0 {
		o.AudioBitrate = 128000
	}
	if o.Deinterlacer == "" {
		o.Deinterlacer = "bwdif"
	}
	return o
}

// Progress reports how far a job is.
type Progress struct {
	Percent    float64 `json:"percent"`
	ETASeconds float64 `json:"eta_s"`
	OutTime    float64 `json:"out_time_s"`
}

// Output is one finished file.
type Output struct {
	Profile  string  `json:"profile"`
	Path     string  `json:"path"`
	Width    int     `json:"width,omitempty"`
	Height   int     `json:"height,omitempty"`
	Duration float64 `json:"duration_s"`
	Size     int64   `json:"size"`
	SHA256   string  `json:"sha256"`
}

// X264Options are the libx264 settings Beacon uses for a profile at the
// given output frame rate (also given to the ffmpeg CLI by the benchmark so
// both sides do the same work).
func X264Options(p VideoProfile, fps float64, opt Options) map[string]string {
	opt = opt.withDefaults()
	rate := p.maxBitrate(fps)
	m := map[string]string{
		"preset":  opt.Preset,
		"crf":     strconv.Itoa(opt.CRF),
		"profile": p.h264Profile(),
		"maxrate": strconv.Itoa(rate),
		"bufsize": strconv.Itoa(2 * rate),
	}
	if p.H264Level != "" {
		m["level"] = p.H264Level
	}
	return m
}

// VideoFilter is the whole filter chain Beacon applies for a profile to a
// picture of the given size, rotation and interlacing (also given to the
// ffmpeg CLI by the benchmark).
func VideoFilter(p VideoProfile, s StreamInfo, rate string, opt Options) string {
	pre := commonFilter(s.Rotation, s.Interlaced, opt.withDefaults())
	w, h := s.displaySize()
	f := "fps=fps=" + rate + "," + p.scaleFilter(w, h, 1)
	if pre != "" {
		f = pre + "," + f
	}
	return f
}

// commonFilter is the part of the chain shared by all renditions:
// deinterlacing, then rotation.
func commonFilter(rotation int, interlaced bool, opt Options) string {
	var f string
	add := func(s string) {
		if f != "" {
			f += ","
		}
		f += s
	}
	if interlaced {
		add(opt.Deinterlacer + "=mode=send_frame:deint=interlaced")
	}
	switch rotation {
	case 90:
		add("transpose=clock")
	case 180:
		add("hflip,vflip")
	case 270:
		add("transpose=cclock")
	}
	return f
}

// outputRate picks the constant output frame rate: the source's, capped
// at maxFPS. For variable-frame-rate sources the average rate is used.
func outputRate(fc *astiav.FormatContext, st *astiav.Stream, maxFPS float64) astiav.Rational {
	// r_frame_rate is the rate that shows every frame of a variable-rate
	// source; fall back to the average when it is missing or absurd.
	r := st.RFrameRate()
	if r.Num() <= 0 || r.Den() <= 0 || r.Float64() > 240 {
		r = st.AvgFrameRate()
	}
	if r.Num() <= 0 || r.Den() <= 0 || r.Float64() > 1000 {
		r = astiav.NewRational(25, 1)
	}
	if r.Float64() > maxFPS+0.001 {
		if maxFPS == math.Trunc(maxFPS) {
			return astiav.NewRational(int(maxFPS), 1)
		}
		return astiav.NewRational(int(math.Round(maxFPS*1000)), 1000)
	}
	return r
}

// OutputRate is the frame rate (as "num/den") Beacon will produce for a
// source with the given rates and a profile's cap.
func OutputRate(in string, p VideoProfile) (string, error) {
	initFFmpeg()
	fc, err := openInput(in)
	if err != nil {
		return "", err
	}
	defer closeInput(fc)
	for _, st := range fc.Streams() {
		if st.CodecParameters().MediaType() == astiav.MediaTypeVideo {
			return outputRate(fc, st, p.maxFPS()).String(), nil
		}
	}
	return "", ErrNoVideo
}

// rendition is one profile's filter graph, encoder and output file.
type rendition struct {
	p       VideoProfile
	rate    astiav.Rational
	opt     Options
	in      chan *astiav.Frame
	enc     *astiav.CodecContext
	mux     *muxer
	audio   *audioTrack
	g       *graph
	filt    *astiav.Frame
	pkt     *astiav.Packet
	outTime atomic.Uint64 // float64 bits, seconds written
	err     error
	done    chan struct{}    // closed when run returns
	pending []*astiav.Packet // encoded video waiting for the audio to catch up
	last    *astiav.Frame    // last picture in, and its duration
	lastDur int64
}

func newRendition(outDir string, p VideoProfile, rate astiav.Rational, audio *audioTrack, opt Options) (_ *rendition, err error) {
	r := &rendition{p: p, rate: rate, opt: opt, audio: audio, in: make(chan *astiav.Frame, 4), done: make(chan struct{})}
	defer func() {
		if err != nil {
			r.free()
		}
	}()
	if r.mux, err = newMuxer(filepath.Join(outDir, p.Name()+".mp4")); err != nil {
		return nil, err
	}
	codec := astiav.FindEncoderByName("libx264")
	if codec == nil {
		return nil, errors.New("av: FFmpeg has no libx264 encoder")
	}
	r.enc = astiav.AllocCodecContext(codec)
	w, h := p.size()
	r.enc.SetWidth(w)
	r.enc.SetHeight(h)
	r.enc.SetPixelFormat(astiav.PixelFormatYuv420P)
	r.enc.SetSampleAspectRatio(astiav.NewRational(1, 1))
	r.enc.SetTimeBase(astiav.NewRational(rate.Den(), rate.Num()))
	r.enc.SetFramerate(rate)
	r.enc.SetThreadCount(opt.EncoderThreads)
	if r.mux.globalHeader() {
		r.enc.SetFlags(r.enc.Flags().Add(astiav.CodecContextFlagGlobalHeader))
	}
	d := astiav.NewDictionary()
	defer d.Free()
	for k, v := range X264Options(p, rate.Float64(), opt) {
		_ = d.Set(k, v, astiav.NewDictionaryFlags())
	}
	if err = r.enc.Open(codec, d); err != nil {
		return nil, fmt.Errorf("av: opening the H.264 encoder for %s: %w", p.Name(), err)
	}
	if r.mux.vst, err = r.mux.addStream(r.enc); err != nil {
		return nil, err
	}
	if audio != nil {
		if r.mux.ast, err = r.mux.addStream(audio.enc); err != nil {
			return nil, err
		}
	}
	if err = r.mux.start(); err != nil {
		return nil, err
	}
	r.filt = astiav.AllocFrame()
	r.pkt = astiav.AllocPacket()
	return r, nil
}

func (r *rendition) free() {
	r.g.free()
	if r.enc != nil {
		r.enc.Free()
		r.enc = nil
	}
	for _, p := range r.pending {
		p.Free()
	}
	r.pending = nil
	if r.last != nil {
		r.last.Free()
		r.last = nil
	}
	if r.filt != nil {
		r.filt.Free()
		r.filt = nil
	}
	if r.pkt != nil {
		r.pkt.Free()
		r.pkt = nil
	}
	if r.mux != nil {
		r.mux.abort() // no-op on the file once renamed
	}
}

// run filters and encodes the frames sent on r.in (time base tb) until the
// channel closes, then finishes the file. On error it keeps draining.
func (r *rendition) run(tb astiav.Rational, fail func(error)) {
	for f := range r.in {
		if r.err == nil {
			r.err = r.frame(f, tb)
			if r.err != nil {
				fail(r.err)
			}
		}
		f.Free()
	}
	if r.err == nil {
		if r.err = r.finish(); r.err != nil {
			fail(r.err)
		}
	}
}

func (r *rendition) frame(f *astiav.Frame, tb astiav.Rational) error {
	// Keep the last picture: at the end it is repeated one frame later to
	// tell the fps filter when the last frame ends (otherwise it is dropped).
	if d := frameDuration(f); d > 0 {
		r.lastDur = d // animations: each frame has its own duration, the last one too
	} else if pts := f.Pts(); r.last != nil && r.last.Pts() != astiav.NoPtsValue && pts > r.last.Pts() {
		r.lastDur = pts - r.last.Pts()
	}
	if r.last == nil {
		r.last = astiav.AllocFrame()
	}
	r.last.Unref()
	if err := r.last.Ref(f); err != nil {
		return err
	}
	if r.g == nil {
		desc := "fps=fps=" + r.rate.String() + "," + r.p.scaleFilter(f.Width(), f.Height(), sarOf(f))
		if hasAlpha(f.PixelFormat()) {
			desc = flattenFilter(r.p.Background) + "," + desc
		}
		var err error
		if r.g, err = newVideoGraph(desc, f, tb, 1); err != nil {
			return err
		}
	}
	return r.g.push(f, r.filt, r.encode)
}

func sarOf(f *astiav.Frame) float64 {
	s := f.SampleAspectRatio()
	if s.Num() <= 0 || s.Den() <= 0 {
		return 1
	}
	return s.Float64()
}

func (r *rendition) encode(f *astiav.Frame) error {
	if f != nil {
		f.SetPts(astiav.RescaleQ(f.Pts(), r.g.outTimeBase(), r.enc.TimeBase()))
		f.SetPictureType(astiav.PictureTypeNone)
	}
	if err := r.enc.SendFrame(f); err != nil {
		return fmt.Errorf("av: encoding %s: %w", r.p.Name(), err)
	}
	for {
		err := r.enc.ReceivePacket(r.pkt)
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("av: encoding %s: %w", r.p.Name(), err)
		}
		if r.pkt.Duration() <= 0 {
			r.pkt.SetDuration(1) // one frame: the encoder time base is 1/fps
		}
		// Queue the packet rather than wait for the audio: the encoder
		// never stalls while the audio's loudness pass runs.
		r.pending = append(r.pending, r.pkt.Clone())
		r.pkt.Unref()
		if err := r.flushPending(false); err != nil {
			return err
		}
	}
}

// flushPending writes queued video packets (interleaved with audio) as far
// as the audio allows, or all of them when wait is set.
func (r *rendition) flushPending(wait bool) error {
	tb := r.enc.TimeBase()
	for len(r.pending) > 0 {
		p := r.pending[0]
		t := float64(p.Dts()) * tb.Float64()
		if r.audio != nil {
			if !wait && !r.audio.reached(t) {
				return nil
			}
			if err := r.audio.writeUpTo(r.mux, t); err != nil {
				return err
			}
		}
		end := float64(p.Pts()+p.Duration()) * tb.Float64()
		r.pending = r.pending[1:]
		err := r.mux.writeVideo(p, tb)
		p.Free()
		if err != nil {
			return err
		}
		if end > math.Float64frombits(r.outTime.Load()) {
			r.outTime.Store(math.Float64bits(end))
		}
	}
	return nil
}

func (r *rendition) finish() error {
	if r.g != nil && r.last != nil && r.lastDur > 0 {
		r.last.SetPts(r.last.Pts() + r.lastDur)
		if err := r.g.push(r.last, r.filt, r.encode); err != nil {
			return err
		}
	}
	if r.g != nil {
		if err := r.g.push(nil, r.filt, r.encode); err != nil {
			return err
		}
	}
	if err := r.encode(nil); err != nil {
		return err
	}
	if err := r.flushPending(true); err != nil {
		return err
	}
	if r.audio != nil {
		if err := r.audio.writeUpTo(r.mux, math.Inf(1)); err != nil {
			return err
		}
	}
	return r.mux.finish()
}

// Transcode decodes in once and writes one H.264/AAC MP4 per profile into
// outDir, named after VideoProfile.Name. Files appear under their final
// names only when all are complete. progress (may be nil) is called from
// one goroutine a few times a second.
func Transcode(ctx context.Context, in, outDir string, profiles []VideoProfile, opt Options, progress func(Progress)) (_ []Output, err error) {
	initFFmpeg()
	noHugePages()
	opt = opt.withDefaults()
	if len(profiles) == 0 {
		return nil, errors.New("av: no profiles")
	}
	seen := map[string]bool{}
	for _, p := range profiles {
		if err := p.Validate(); err != nil {
			return nil, err
		}
		if seen[p.Name()] {
			return nil, fmt.Errorf("av: profile %s given twice", p.Name())
		}
		seen[p.Name()] = true
	}
	if err := precheck(in); err != nil {
		return nil, err
	}
	fc, err := openInput(in)
	if err != nil {
		return nil, err
	}
	defer closeInput(fc)
	info := describe(fc)
	if err := checkLimits(info); err != nil {
		return nil, err
	}
	vi := info.Video()
	if vi == nil {
		return nil, ErrNoVideo
	}
	vst := fc.Streams()[vi.Index]
	dec, err := openDecoder(fc, vst, opt.DecoderThreads)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	defer dec.Free()
	startUs := fc.StartTime()
	if startUs == astiav.NoPtsValue {
		startUs = 0
	}

	var audio *audioTrack
	if ai := info.Audio(); ai != nil && !opt.NoAudio {
		if audio, err = newAudioTrack(in, ai.Index, ai.Channels, startUs, opt); err != nil {
			return nil, err
		}
		defer audio.free()
	}
	rends := make([]*rendition, 0, len(profiles))
	defer func() {
		for _, r := range rends {
			r.free()
		}
	}()
	for _, p := range profiles {
		r, err := newRendition(outDir, p, outputRate(fc, vst, p.maxFPS()), audio, opt)
		if err != nil {
			return nil, err
		}
		rends = append(rends, r)
	}

	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var failOnce sync.Once
	var firstErr error
	fail := func(e error) {
		failOnce.Do(func() { firstErr = e; cancel() })
	}
	var audioWG sync.WaitGroup
	if audio != nil {
		audioWG.Add(1)
		go func() { defer audioWG.Done(); audio.run(jctx) }()
	}
	defer func() { cancel(); audioWG.Wait() }()

	stopProgress := startProgress(progress, info.Duration, func() float64 {
		t := math.Inf(1)
		for _, r := range rends {
			t = math.Min(t, math.Float64frombits(r.outTime.Load()))
		}
		return t
	})

	derr := decodeVideo(jctx, fc, vst, dec, startUs, opt, rends, fail)
	if derr != nil {
		fail(derr)
	}
	for _, r := range rends {
		close(r.in)
	}
	// Renditions run in their own goroutines (started by decodeVideo).
	for _, r := range rends {
		<-r.doneCh()
	}
	stopProgress(firstErr == nil)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("av: transcoding stopped: %w", ctx.Err())
	}
	if firstErr != nil {
		return nil, firstErr
	}
	outs := make([]Output, 0, len(rends))
	for _, r := range rends {
		if err := os.Rename(r.mux.tmp, r.mux.path); err != nil {
			return nil, err
		}
	}
	for _, r := range rends {
		o, err := describeFile(r.mux.path)
		if err != nil {
			return nil, err
		}
		o.Profile = r.p.Name()
		outs = append(outs, o)
	}
	return outs, nil
}

func (r *rendition) doneCh() chan struct{} { return r.done }

// decodeVideo reads and decodes the video stream, applies the shared
// filters, and hands a reference of each picture to every rendition.
func decodeVideo(ctx context.Context, fc *astiav.FormatContext, vst *astiav.Stream, dec *astiav.CodecContext,
	startUs int64, opt Options, rends []*rendition, fail func(error)) error {
	tb := vst.TimeBase()
	startTB := astiav.RescaleQ(startUs, astiav.NewRational(1, 1_000_000), tb)
	frameDur := int64(0)
	if r := fc.GuessFrameRate(vst, nil); r.Num() > 0 && r.Den() > 0 {
		frameDur = astiav.RescaleQ(1, astiav.NewRational(r.Den(), r.Num()), tb)
	}
	var common *graph
	defer func() { common.free() }()
	started := false
	outTB := tb
	lastPts := int64(astiav.NoPtsValue)
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	frame := astiav.AllocFrame()
	defer frame.Free()
	filt := astiav.AllocFrame()
	defer filt.Free()

	startRenditions := func() {
		for _, r := range rends {
			go func(r *rendition) {
				defer close(r.doneCh())
				r.run(outTB, fail)
			}(r)
		}
		started = true
	}
	defer func() {
		if !started {
			for _, r := range rends {
				close(r.doneCh())
			}
		}
	}()
	fanout := func(f *astiav.Frame) error {
		for _, r := range rends {
			c := f.Clone()
			if c == nil {
				return errors.New("av: out of memory")
			}
			select {
			case r.in <- c:
			case <-ctx.Done():
				c.Free()
				return ctx.Err()
			}
		}
		return nil
	}
	handle := func(f *astiav.Frame) error {
		pts := f.Pts()
		if pts == astiav.NoPtsValue {
			if lastPts == astiav.NoPtsValue {
				pts = startTB
			} else {
				pts = lastPts + max(frameDur, 1)
			}
		}
		lastPts = pts
		f.SetPts(pts - startTB)
		if !started {
			il, _ := frameInterlaced(f)
			desc := commonFilter(streamRotation(vst), il, opt)
			if desc != "" {
				var err error
				if common, err = newVideoGraph(desc, f, tb, 0); err != nil {
					return err
				}
				outTB = common.outTimeBase()
			}
			startRenditions()
		}
		if common == nil {
			return fanout(f)
		}
		return common.push(f, filt, fanout)
	}
	err := decodeLoop(ctx, fc, dec, vst.Index(), pkt, frame, func(f *astiav.Frame) (bool, error) {
		return false, handle(f)
	})
	if err != nil {
		return err
	}
	if !started {
		return fmt.Errorf("%w: no picture could be decoded", ErrCorrupt)
	}
	if common != nil {
		return common.push(nil, filt, fanout)
	}
	return nil
}

// startProgress calls progress every 250 ms with the output time reported
// by now (seconds) against the duration. The returned stop function sends
// a last report (100% if complete).
func startProgress(progress func(Progress), duration float64, now func() float64) func(complete bool) {
	if progress == nil {
		return func(bool) {}
	}
	begin := time.Now()
	report := func(t float64) {
		if math.IsInf(t, 0) || math.IsNaN(t) {
			t = 0
		}
		p := Progress{OutTime: math.Round(t*100) / 100}
		if duration > 0 {
			p.Percent = math.Min(100, 100*t/duration)
			if p.Percent > 0 {
				el := time.Since(begin).Seconds()
				p.ETASeconds = math.Round(el*(100-p.Percent)/p.Percent*10) / 10
			}
			p.Percent = math.Round(p.Percent*10) / 10
		}
		progress(p)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				report(now())
			}
		}
	}()
	return func(complete bool) {
		close(stop)
		<-done
		if complete {
			progress(Progress{Percent: 100, OutTime: math.Round(duration*100) / 100})
		}
	}
}

// DefaultDecoderThreads is the decoder thread count used when
// Options.DecoderThreads is 0: one per core.
func DefaultDecoderThreads() int { return numCPU() }

// LoudnormFilter is the second-pass filter Beacon applies for a measured
// integrated loudness (LUFS), loudness range (LU) and true peak (dBTP).
func LoudnormFilter(i, lra, tp float64, opt Options) string {
	return normaliseFilter(loudness{I: i, LRA: lra, TP: tp}, opt.withDefaults().LoudnessLUFS)
}

// hasAlpha reports whether decoded pictures of this format can be
// transparent: animated GIF, APNG and WebP, PNG and ProRes 4444 video.
func hasAlpha(pf astiav.PixelFormat) bool {
	n := pf.Name()
	return n == "pal8" || strings.HasPrefix(n, "rgba") || strings.HasPrefix(n, "bgra") || strings.HasPrefix(n, "argb") ||
		strings.HasPrefix(n, "abgr") || strings.HasPrefix(n, "yuva") || strings.HasPrefix(n, "ya") || strings.HasPrefix(n, "gbrap")
}

// flattenFilter paints transparent pixels with the profile's background
// colour (H.264 has no alpha; dropping it would show whatever colour the
// transparent pixels happen to hold, often black).
func flattenFilter(bg color.NRGBA) string {
	return fmt.Sprintf("format=rgba,split[fg][bgin];[bgin]lutrgb=r=%d:g=%d:b=%d:a=255[bg];[bg][fg]overlay=format=auto:eof_action=pass", bg.R, bg.G, bg.B)
}
