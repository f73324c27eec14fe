package av

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/asticode/go-astiav"
)

// PartialPrefix starts the name of every file being written. A file only
// gets its final name once it is complete; after a crash the supervisor
// removes "<PartialPrefix><worker pid>-*".
const PartialPrefix = ".beacon-partial-"

// PartialPattern is the glob for partial files of the process pid.
func PartialPattern(dir string, pid int) string {
	return filepath.Join(dir, fmt.Sprintf("%s%d-*", PartialPrefix, pid))
}

// muxer writes one MP4 file under a temporary name.
type muxer struct {
	fc        *astiav.FormatContext
	io        *astiav.IOContext
	vst, ast  *astiav.Stream
	tmp, path string
	audioNext int // next audio packet to write
	pkt       *astiav.Packet
	closed    bool
}

func newMuxer(path string) (*muxer, error) {
	tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf("%s%d-%s", PartialPrefix, os.Getpid(), filepath.Base(path)))
	fc, err := astiav.AllocOutputFormatContext(nil, "mp4", tmp)
	if err != nil || fc == nil {
		return nil, fmt.Errorf("av: mp4 muxer: %v", err)
	}
	return &muxer{fc: fc, tmp: tmp, path: path, pkt: astiav.AllocPacket()}, nil
}

func (m *muxer) globalHeader() bool {
	return m.fc.OutputFormat().Flags().Has(astiav.IOFormatFlagGlobalheader)
}

func (m *muxer) addStream(enc *astiav.CodecContext) (*astiav.Stream, error) {
	st := m.fc.NewStream(nil)
	if st == nil {
		return nil, fmt.Errorf("av: cannot add a stream")
	}
	if err := st.CodecParameters().FromCodecContext(enc); err != nil {
		return nil, err
	}
	st.SetTimeBase(enc.TimeBase())
	return st, nil
}

// start opens the file and writes the header (moov goes to the front at the
// end: +faststart).
func (m *muxer) start() error {
	var err error
	if m.io, err = astiav.OpenIOContext(m.tmp, astiav.NewIOContextFlags(astiav.IOContextFlagWrite)); err != nil {
		return fmt.Errorf("av: creating %s: %w", m.tmp, err)
	}
	m.fc.SetPb(m.io)
	d := astiav.NewDictionary()
	defer d.Free()
	_ = d.Set("movflags", "+faststart", astiav.NewDictionaryFlags())
	if err := m.fc.WriteHeader(d); err != nil {
		return fmt.Errorf("av: writing the MP4 header: %w", err)
	}
	return nil
}

func (m *muxer) writeVideo(p *astiav.Packet, tb astiav.Rational) error {
	p.SetStreamIndex(m.vst.Index())
	p.RescaleTs(tb, m.vst.TimeBase())
	if err := m.fc.WriteInterleavedFrame(p); err != nil {
		return fmt.Errorf("av: writing video: %w", err)
	}
	return nil
}

func (m *muxer) writeAudio(src *astiav.Packet, tb astiav.Rational) error {
	if err := m.pkt.Ref(src); err != nil {
		return err
	}
	m.pkt.SetStreamIndex(m.ast.Index())
	m.pkt.RescaleTs(tb, m.ast.TimeBase())
	if err := m.fc.WriteInterleavedFrame(m.pkt); err != nil {
		m.pkt.Unref()
		return fmt.Errorf("av: writing audio: %w", err)
	}
	m.pkt.Unref()
	return nil
}

// finish writes the trailer and closes the file, still under its
// temporary name.
func (m *muxer) finish() error {
	if err := m.fc.WriteTrailer(); err != nil {
		return fmt.Errorf("av: finishing %s: %w", filepath.Base(m.path), err)
	}
	return m.close()
}

func (m *muxer) close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	var err error
	if m.io != nil {
		err = m.io.Close()
	}
	m.fc.Free()
	m.pkt.Free()
	return err
}

// abort closes and removes the temporary file.
func (m *muxer) abort() {
	_ = m.close()
	_ = os.Remove(m.tmp)
}

// describeFile fills an Output for a finished file.
func describeFile(path string) (Output, error) {
	o := Output{Path: path}
	f, err := os.Open(path)
	if err != nil {
		return o, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return o, err
	}
	o.Size, o.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	fc, err := openInput(path)
	if err != nil {
		return o, fmt.Errorf("av: reading back %s: %w", filepath.Base(path), err)
	}
	defer closeInput(fc)
	info := describe(fc)
	o.Duration = info.Duration
	if v := info.Video(); v != nil {
		o.Width, o.Height = v.Width, v.Height
	}
	return o, nil
}
