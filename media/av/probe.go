// Package av probes and transcodes video and audio with FFmpeg's libraries
// (through go-astiav). It is the only Beacon package that links FFmpeg: the
// media package and the player never import it. The server runs it inside
// a media worker subprocess (see media/worker) so that a crash or runaway
// file cannot take the server down.
package av

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/asticode/go-astiav"
)

// Sentinel errors for files a content manager uploaded. Each error returned
// by Probe or Transcode for bad input wraps one of these; the text is meant
// to be shown to that person as is.
var (
	ErrEmpty     = errors.New("the file is empty")
	ErrNotMedia  = errors.New("not a video or audio file FFmpeg can read")
	ErrTruncated = errors.New("the file is damaged or incomplete (it ends before its data does: was the upload cut short?)")
	ErrCorrupt   = errors.New("the file is damaged or incomplete (its structure cannot be read)")
	ErrNoVideo   = errors.New("the file has no video (it is audio only)")
	ErrNoAudio   = errors.New("the file has no audio")
	ErrAbsurd    = errors.New("the file is outside what Beacon accepts")
)

// Limits on what Beacon accepts.
const (
	MaxWidth    = 8192
	MaxHeight   = 8192
	MaxDuration = 24 * 3600.0 // seconds
)

// Info describes a media file.
type Info struct {
	Container string       `json:"container"`
	Duration  float64      `json:"duration_s"`
	Bitrate   int64        `json:"bitrate"`
	Streams   []StreamInfo `json:"streams"`
}

// StreamInfo describes one stream of a media file.
type StreamInfo struct {
	Index         int     `json:"index"`
	Type          string  `json:"type"` // video, audio, subtitle, data, attachment
	Codec         string  `json:"codec"`
	Profile       string  `json:"profile,omitempty"`
	Bitrate       int64   `json:"bitrate,omitempty"`
	Duration      float64 `json:"duration_s,omitempty"`
	Frames        int64   `json:"frames,omitempty"`
	Width         int     `json:"width,omitempty"`
	Height        int     `json:"height,omitempty"`
	AvgFrameRate  float64 `json:"avg_frame_rate,omitempty"`
	RFrameRate    float64 `json:"r_frame_rate,omitempty"`
	Rotation      int     `json:"rotation,omitempty"` // degrees clockwise to apply for display: 0, 90, 180, 270
	PixelFormat   string  `json:"pixel_format,omitempty"`
	FieldOrder    string  `json:"field_order,omitempty"` // progressive, tt (top first), bb
	Interlaced    bool    `json:"interlaced,omitempty"`
	Channels      int     `json:"channels,omitempty"`
	SampleRate    int     `json:"sample_rate,omitempty"`
	ChannelLayout string  `json:"channel_layout,omitempty"`
}

// Video returns the first video stream, or nil.
func (i Info) Video() *StreamInfo { return i.first("video") }

// Audio returns the first audio stream, or nil.
func (i Info) Audio() *StreamInfo { return i.first("audio") }

func (i Info) first(t string) *StreamInfo {
	for k := range i.Streams {
		if i.Streams[k].Type == t {
			return &i.Streams[k]
		}
	}
	return nil
}

// Display size after rotation.
func (s *StreamInfo) displaySize() (int, int) {
	if s.Rotation == 90 || s.Rotation == 270 {
		return s.Height, s.Width
	}
	return s.Width, s.Height
}

// ---- FFmpeg log capture ----

var (
	logOnce sync.Once
	logMu   sync.Mutex
	logRing []string
)

// initFFmpeg routes FFmpeg's log to a small ring buffer, used to explain
// failures, instead of stderr.
func initFFmpeg() {
	logOnce.Do(func() {
		astiav.SetLogLevel(astiav.LogLevelError)
		astiav.SetLogCallback(func(_ astiav.Classer, l astiav.LogLevel, _, msg string) {
			logMu.Lock()
			defer logMu.Unlock()
			logRing = append(logRing, strings.TrimSpace(msg))
			if len(logRing) > 32 {
				logRing = logRing[len(logRing)-32:]
			}
		})
	})
}

func recentLog() []string {
	logMu.Lock()
	defer logMu.Unlock()
	return append([]string(nil), logRing...)
}

var badSizeRE = regexp.MustCompile(`Picture size (\d+)x(\d+) is invalid`)

// ---- Probe ----

// Probe reads a file's container and streams. Bad input gives an error
// wrapping one of the sentinel errors above.
func Probe(path string) (Info, error) {
	initFFmpeg()
	if err := precheck(path); err != nil {
		return Info{}, err
	}
	fc, err := openInput(path)
	if err != nil {
		return Info{}, err
	}
	defer closeInput(fc)
	info := describe(fc)
	if err := checkDecodes(fc, &info); err != nil {
		return info, err
	}
	if err := checkLimits(info); err != nil {
		return info, err
	}
	return info, nil
}

// precheck catches empty files and ISO-BMFF (MP4/MOV/M4A) files whose boxes
// run past the end of the file.
func precheck(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() == 0 {
		return ErrEmpty
	}
	return checkBoxes(f, st.Size())
}

// checkBoxes walks the top-level boxes of an ISO-BMFF file. A box that
// claims more bytes than the file has means the file was cut short.
func checkBoxes(r io.ReaderAt, size int64) error {
	var hdr [16]byte
	if _, err := r.ReadAt(hdr[:8], 0); err != nil || string(hdr[4:8]) != "ftyp" {
		return nil // not ISO-BMFF
	}
	var off int64
	for off < size {
		n, _ := r.ReadAt(hdr[:], off)
		if n < 8 {
			return fmt.Errorf("%w", ErrTruncated)
		}
		bsize := int64(binary.BigEndian.Uint32(hdr[:4]))
		switch bsize {
		case 0: // to the end of the file
			return nil
		case 1:
			if n < 16 {
				return ErrTruncated
			}
			bsize = int64(binary.BigEndian.Uint64(hdr[8:16]))
		}
		if bsize < 8 {
			return fmt.Errorf("%w", ErrCorrupt)
		}
		if off+bsize > size {
			return fmt.Errorf("%w", ErrTruncated)
		}
		off += bsize
	}
	return nil
}

// looksLikeMedia reports whether the file starts like a known container,
// so that a failure to open it means damage rather than a wrong file type.
func looksLikeMedia(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [12]byte
	n, _ := io.ReadFull(f, b[:])
	h := b[:n]
	s := string(h)
	switch {
	case n >= 8 && (s[4:8] == "ftyp" || s[4:8] == "moov" || s[4:8] == "mdat" || s[4:8] == "free" || s[4:8] == "wide"):
		return true
	case strings.HasPrefix(s, "RIFF"), strings.HasPrefix(s, "ID3"), strings.HasPrefix(s, "fLaC"),
		strings.HasPrefix(s, "OggS"), strings.HasPrefix(s, "\x1a\x45\xdf\xa3"), strings.HasPrefix(s, "FLV"),
		strings.HasPrefix(s, "YUV4MPEG2"), strings.HasPrefix(s, "\x00\x00\x01\xba"), strings.HasPrefix(s, "\x47"):
		return true
	case n >= 2 && h[0] == 0xff && h[1]&0xe0 == 0xe0: // MPEG audio / ADTS sync
		return true
	}
	return false
}

// openInput opens a file for reading and finds its streams. An MPEG audio
// file with junk before its first frame (or one FFmpeg does not recognise
// because of that junk) is opened again from its first real frame.
func openInput(path string) (*astiav.FormatContext, error) {
	fc, err := openInputAt(path, 0, nil)
	isMP3 := err == nil && fc.InputFormat() != nil && fc.InputFormat().Name() == "mp3"
	if err == nil && !isMP3 {
		return fc, nil
	}
	if err != nil && !errors.Is(err, ErrNotMedia) && !errors.Is(err, ErrCorrupt) {
		return nil, err
	}
	start, tagEnd, ok := mp3Start(path)
	if !ok || start <= tagEnd {
		return fc, err
	}
	fc2, err2 := openInputAt(path, start, astiav.FindInputFormat("mp3"))
	if err2 != nil {
		return fc, err
	}
	if fc != nil {
		closeInput(fc)
	}
	return fc2, nil
}

// openInputAt opens a file from byte skip on, with a given format (nil:
// probe it).
func openInputAt(path string, skip int64, format *astiav.InputFormat) (*astiav.FormatContext, error) {
	fc := astiav.AllocFormatContext()
	if fc == nil {
		return nil, errors.New("av: cannot allocate a format context")
	}
	var opts *astiav.Dictionary
	if skip > 0 {
		opts = astiav.NewDictionary()
		defer opts.Free()
		_ = opts.Set("skip_initial_bytes", strconv.FormatInt(skip, 10), 0)
	}
	if err := fc.OpenInput(path, format, opts); err != nil {
		fc.Free()
		if os.IsNotExist(err) {
			return nil, err
		}
		if e := absurdFromLog(); e != nil {
			return nil, e
		}
		if looksLikeMedia(path) {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return nil, ErrNotMedia
	}
	if err := fc.FindStreamInfo(nil); err != nil {
		fc.CloseInput()
		fc.Free()
		if e := absurdFromLog(); e != nil {
			return nil, e
		}
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if len(fc.Streams()) == 0 {
		closeInput(fc)
		if looksLikeMedia(path) {
			return nil, fmt.Errorf("%w: no streams", ErrCorrupt)
		}
		return nil, ErrNotMedia
	}
	return fc, nil
}

func closeInput(fc *astiav.FormatContext) {
	fc.CloseInput()
	fc.Free()
}

func absurdFromLog() error {
	lines := recentLog()
	for i := len(lines) - 1; i >= 0 && i >= len(lines)-4; i-- {
		if m := badSizeRE.FindStringSubmatch(lines[i]); m != nil {
			w, _ := strconv.Atoi(m[1])
			h, _ := strconv.Atoi(m[2])
			return absurdSize(w, h)
		}
	}
	return nil
}

func absurdSize(w, h int) error {
	return fmt.Errorf("%w: video is %d×%d pixels; the limit is %d×%d", ErrAbsurd, w, h, MaxWidth, MaxHeight)
}

func describe(fc *astiav.FormatContext) Info {
	info := Info{Bitrate: fc.BitRate()}
	if f := fc.InputFormat(); f != nil {
		info.Container = f.Name()
	}
	if d := fc.Duration(); d > 0 {
		info.Duration = float64(d) / 1e6
	}
	for _, s := range fc.Streams() {
		cp := s.CodecParameters()
		si := StreamInfo{
			Index:   s.Index(),
			Type:    cp.MediaType().String(),
			Codec:   cp.CodecID().Name(),
			Profile: profileName(cp.CodecID(), cp.Profile()),
			Bitrate: cp.BitRate(),
			Frames:  s.NbFrames(),
		}
		if d := s.Duration(); d > 0 && d != astiav.NoPtsValue {
			si.Duration = math.Round(float64(d)*s.TimeBase().Float64()*1e4) / 1e4
		}
		switch cp.MediaType() {
		case astiav.MediaTypeVideo:
			si.Width, si.Height = cp.Width(), cp.Height()
			si.AvgFrameRate = ratF(s.AvgFrameRate())
			si.RFrameRate = ratF(s.RFrameRate())
			si.PixelFormat = cp.PixelFormat().Name()
			si.Rotation = streamRotation(s)
		case astiav.MediaTypeAudio:
			si.Channels = cp.ChannelLayout().NbChannels()
			if si.Channels == 0 {
				si.Channels = cp.Channels()
			}
			si.SampleRate = cp.SampleRate()
			si.ChannelLayout = cp.ChannelLayout().String()
		}
		if si.Type == "" {
			si.Type = "unknown"
		}
		info.Streams = append(info.Streams, si)
	}
	return info
}

func ratF(r astiav.Rational) float64 {
	if r.Den() == 0 || r.Num() == 0 {
		return 0
	}
	return math.Round(r.Float64()*1000) / 1000
}

// streamRotation returns the clockwise rotation that shows the picture
// upright, from the stream's display matrix, as FFmpeg's own tools apply it.
func streamRotation(s *astiav.Stream) int {
	b := s.SideData(astiav.PacketSideDataTypeDisplaymatrix)
	if len(b) < 36 {
		return 0
	}
	m, err := astiav.NewDisplayMatrixFromBytes(b)
	if err != nil {
		return 0
	}
	theta := m.Rotation() // already negated: clockwise
	if math.IsNaN(theta) {
		return 0
	}
	r := int(math.Round(theta/90)) * 90 % 360
	if r < 0 {
		r += 360
	}
	return r
}

// checkDecodes decodes the first video frame (to learn the field order and
// prove the data is readable) and, for audio-only files, the first audio
// frame.
func checkDecodes(fc *astiav.FormatContext, info *Info) error {
	target := -1
	for _, t := range []string{"video", "audio"} {
		if s := info.first(t); s != nil {
			target = s.Index
			break
		}
	}
	if target < 0 {
		return nil
	}
	// Size limits before allocating a decoder for an absurd picture.
	if err := checkLimits(*info); err != nil {
		return err
	}
	st := fc.Streams()[target]
	dec, err := openDecoder(fc, st, 1)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	defer dec.Free()
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	frame := astiav.AllocFrame()
	defer frame.Free()
	const maxPackets = 2000
	got := false
	for n := 0; n < maxPackets && !got; n++ {
		err := fc.ReadFrame(pkt)
		if errors.Is(err, astiav.ErrEof) {
			_ = dec.SendPacket(nil)
		} else if err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		} else if pkt.StreamIndex() != target {
			pkt.Unref()
			continue
		} else {
			_ = dec.SendPacket(pkt) // decoding errors on single packets are tolerated
			pkt.Unref()
		}
		if rerr := dec.ReceiveFrame(frame); rerr == nil {
			got = true
		} else if errors.Is(err, astiav.ErrEof) {
			break
		}
	}
	if !got {
		return fmt.Errorf("%w: no picture or sound could be decoded", ErrCorrupt)
	}
	if si := &info.Streams[target]; si.Type == "video" {
		il, tff := frameInterlaced(frame)
		switch {
		case !il:
			si.FieldOrder = "progressive"
		case tff:
			si.FieldOrder, si.Interlaced = "tt", true
		default:
			si.FieldOrder, si.Interlaced = "bb", true
		}
		if si.PixelFormat == "" || si.PixelFormat == "none" {
			si.PixelFormat = frame.PixelFormat().Name()
		}
	}
	frame.Unref()
	return nil
}

func checkLimits(info Info) error {
	for _, s := range info.Streams {
		if s.Type == "video" && (s.Width > MaxWidth || s.Height > MaxHeight) {
			return absurdSize(s.Width, s.Height)
		}
	}
	if info.Duration > MaxDuration {
		return fmt.Errorf("%w: it lasts %.0f hours; the limit is 24 hours", ErrAbsurd, info.Duration/3600)
	}
	return nil
}

// openDecoder opens a decoder for a stream with the given thread count
// (0 = one per core). libavcodec's own default is a single thread.
func openDecoder(fc *astiav.FormatContext, st *astiav.Stream, threads int) (*astiav.CodecContext, error) {
	cp := st.CodecParameters()
	codec := astiav.FindDecoder(cp.CodecID())
	if codec == nil {
		return nil, fmt.Errorf("no decoder for %s", cp.CodecID().Name())
	}
	cc := astiav.AllocCodecContext(codec)
	if cc == nil {
		return nil, errors.New("cannot allocate a decoder")
	}
	if err := cp.ToCodecContext(cc); err != nil {
		cc.Free()
		return nil, err
	}
	if cp.MediaType() == astiav.MediaTypeVideo {
		cc.SetFramerate(fc.GuessFrameRate(st, nil))
		if threads <= 0 {
			threads = numCPU()
		}
		cc.SetThreadCount(threads)
	}
	cc.SetTimeBase(st.TimeBase())
	if err := cc.Open(codec, nil); err != nil {
		cc.Free()
		return nil, err
	}
	return cc, nil
}
