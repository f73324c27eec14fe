package av

import (
	"context"
	"errors"
	"fmt"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"beacon/media"
)

// Test inputs are made once per run with the ffmpeg CLI.
var (
	inputsDir  string
	inputsMu   sync.Mutex
	inputsMade = map[string]error{}
)

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "beacon-av-test-")
	if err != nil {
		panic(err)
	}
	inputsDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

func needFFmpeg(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg CLI not installed")
	}
}

// input returns the path of a generated input, making it on first use.
func input(t testing.TB, name string, args ...string) string {
	t.Helper()
	needFFmpeg(t)
	inputsMu.Lock()
	defer inputsMu.Unlock()
	p := filepath.Join(inputsDir, name)
	err, ok := inputsMade[name]
	if !ok {
		full := append([]string{"-v", "error", "-y"}, args...)
		full = append(full, p)
		out, e := exec.Command("ffmpeg", full...).CombinedOutput()
		if e != nil {
			err = fmt.Errorf("ffmpeg %v: %v\n%s", args, e, out)
		}
		inputsMade[name] = err
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func lavfiVideo(size string, rate int, dur float64) []string {
	return []string{"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=s=%s:r=%d:d=%g", size, rate, dur)}
}

func lavfiTone(dur float64, vol float64) []string {
	return []string{"-f", "lavfi", "-i", fmt.Sprintf("sine=f=440:r=48000:d=%g,volume=%g", dur, vol)}
}

func x264() []string {
	return []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}
}

// basic: 641×359 (odd) 25 fps, 3 s, with a stereo tone at about -30 LUFS.
func basicInput(t testing.TB) string {
	args := append(lavfiVideo("641x359", 25, 3), lavfiTone(3, 0.05)...)
	args = append(args, "-vf", "scale=641:359,format=yuv444p")
	// 4:4:4 so that H.264 can keep the odd size.
	args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p")
	args = append(args, "-ac", "2", "-c:a", "aac", "-shortest")
	return input(t, "basic.mp4", args...)
}

func rotatedInput(t testing.TB) string {
	src := input(t, "unrotated.mp4", append(append(lavfiVideo("320x240", 25, 2), x264()...), "-an")...)
	return input(t, "rotated.mp4", "-i", src, "-c", "copy", "-metadata:s:v", "rotate=90")
}

func interlacedInput(t testing.TB) string {
	args := append(lavfiVideo("320x240", 50, 2),
		"-vf", "tinterlace=interleave_top,fieldorder=tff", "-flags", "+ilme+ildct",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-x264opts", "tff=1", "-an")
	return input(t, "interlaced.mp4", args...)
}

func vfrInput(t testing.TB) string {
	// 30 fps with frames dropped unevenly: variable frame rate.
	args := append(lavfiVideo("320x240", 30, 3),
		"-vf", `select='lt(n\,20)+not(mod(n\,3))'`, "-vsync", "vfr")
	args = append(args, x264()...)
	return input(t, "vfr.mp4", args...)
}

func probeOK(t *testing.T, p string) Info {
	t.Helper()
	info, err := Probe(p)
	if err != nil {
		t.Fatalf("probe %s: %v", filepath.Base(p), err)
	}
	return info
}

var integratedRE = regexp.MustCompile(`I:\s+(-?[\d.]+) LUFS`)

// loudnessOf measures integrated loudness with FFmpeg's ebur128 filter.
func loudnessOf(t *testing.T, p string) float64 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-nostats", "-hide_banner", "-i", p, "-map", "0:a:0", "-af", "ebur128", "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ebur128: %v\n%s", err, out)
	}
	m := integratedRE.FindAllStringSubmatch(string(out), -1)
	if len(m) == 0 {
		t.Fatalf("no loudness in ebur128 output:\n%s", out)
	}
	v, _ := strconv.ParseFloat(m[len(m)-1][1], 64)
	return v
}

func TestProbeBasic(t *testing.T) {
	info := probeOK(t, basicInput(t))
	if info.Container == "" || info.Duration < 2.9 || info.Duration > 3.2 || info.Bitrate <= 0 {
		t.Errorf("container info: %+v", info)
	}
	v, a := info.Video(), info.Audio()
	if v == nil || a == nil {
		t.Fatalf("streams: %+v", info.Streams)
	}
	if v.Codec != "h264" || v.Width != 641 || v.Height != 359 || v.AvgFrameRate != 25 || v.RFrameRate != 25 ||
		v.PixelFormat != "yuv444p" || v.FieldOrder != "progressive" || v.Rotation != 0 || v.Profile == "" {
		t.Errorf("video: %+v", *v)
	}
	if a.Codec != "aac" || a.Channels != 2 || a.SampleRate != 48000 || a.ChannelLayout != "stereo" {
		t.Errorf("audio: %+v", *a)
	}
}

func TestProbeRotationAndInterlace(t *testing.T) {
	v := probeOK(t, rotatedInput(t)).Video()
	if v.Rotation != 90 && v.Rotation != 270 {
		t.Errorf("rotation = %d, want 90 or 270", v.Rotation)
	}
	v = probeOK(t, interlacedInput(t)).Video()
	if !v.Interlaced || v.FieldOrder != "tt" {
		t.Errorf("interlaced = %v field order %q, want true tt", v.Interlaced, v.FieldOrder)
	}
}

func checkVideo(t *testing.T, o Output, w, h int, fps float64) Info {
	t.Helper()
	info := probeOK(t, o.Path)
	v := info.Video()
	if v == nil {
		t.Fatalf("%s: no video", o.Profile)
	}
	if v.Codec != "h264" || v.PixelFormat != "yuv420p" || v.Width != w || v.Height != h || v.Interlaced {
		t.Errorf("%s: %+v, want h264 yuv420p %dx%d progressive", o.Profile, *v, w, h)
	}
	if o.Width != w || o.Height != h || o.Size <= 0 || len(o.SHA256) != 64 {
		t.Errorf("output record: %+v", o)
	}
	if math.Abs(v.AvgFrameRate-fps) > 0.01 || math.Abs(v.RFrameRate-fps) > 0.01 {
		t.Errorf("%s: frame rate avg %v r %v, want constant %v", o.Profile, v.AvgFrameRate, v.RFrameRate, fps)
	}
	return info
}

func TestTranscodeProfiles(t *testing.T) {
	in := basicInput(t)
	out := t.TempDir()
	profiles := []VideoProfile{
		{Width: 320, Height: 240},                                                 // contain: letterbox
		{Width: 160, Height: 160, Fit: media.FitCover},                            // cover: crop
		{Width: 201, Height: 101, Fit: media.FitStretch, H264Profile: "baseline"}, // odd: rounded to even
	}
	var mu sync.Mutex
	var reports []Progress
	outs, err := Transcode(context.Background(), in, out, profiles, Options{Preset: "ultrafast"}, func(p Progress) {
		mu.Lock()
		reports = append(reports, p)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 3 {
		t.Fatalf("%d outputs", len(outs))
	}
	want := [][2]int{{320, 240}, {160, 160}, {200, 100}}
	for i, o := range outs {
		if o.Profile != profiles[i].Name() || filepath.Base(o.Path) != profiles[i].Name()+".mp4" {
			t.Errorf("output %d named %q at %s", i, o.Profile, o.Path)
		}
		info := checkVideo(t, o, want[i][0], want[i][1], 25)
		v := info.Video()
		if math.Abs(v.Duration-3) > 1.0/25+1e-3 {
			t.Errorf("%s: video duration %v, want 3±1 frame", o.Profile, v.Duration)
		}
		if a := info.Audio(); a == nil || a.Codec != "aac" {
			t.Errorf("%s: audio %+v", o.Profile, a)
		}
	}
	if l := loudnessOf(t, outs[0].Path); math.Abs(l-(-23)) > 1 {
		t.Errorf("loudness %.1f LUFS, want -23±1", l)
	}
	if v := probeOK(t, outs[2].Path).Video(); v.Profile != "Constrained Baseline" && v.Profile != "Baseline" {
		t.Errorf("H.264 profile %q, want baseline", v.Profile)
	}
	if len(reports) == 0 || reports[len(reports)-1].Percent != 100 {
		t.Errorf("progress reports: %+v", reports)
	}
	for i := 1; i < len(reports); i++ {
		if reports[i].Percent < reports[i-1].Percent {
			t.Errorf("progress went backwards: %+v", reports)
		}
	}
	assertNoPartials(t, out)
}

func assertNoPartials(t *testing.T, dir string) {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, PartialPrefix+"*"))
	if len(m) > 0 {
		t.Errorf("partial files left: %v", m)
	}
}

func TestTranscodeRotated(t *testing.T) {
	in := rotatedInput(t)
	out := t.TempDir()
	outs, err := Transcode(context.Background(), in, out, []VideoProfile{{Width: 240, Height: 320, Fit: media.FitStretch}}, Options{Preset: "ultrafast"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkVideo(t, outs[0], 240, 320, 25)
	// FFmpeg's CLI autorotates the same way: the pictures must match.
	ref := filepath.Join(out, "ref.mp4")
	if b, err := exec.Command("ffmpeg", "-v", "error", "-i", in, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", ref).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, b)
	}
	b, err := exec.Command("ffmpeg", "-hide_banner", "-i", outs[0].Path, "-i", ref, "-lavfi", "[0:v][1:v]psnr", "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("%v %s", err, b)
	}
	m := regexp.MustCompile(`average:([\d.]+|inf)`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatalf("no PSNR: %s", b)
	}
	if v, _ := strconv.ParseFloat(m[1], 64); m[1] != "inf" && v < 25 {
		t.Errorf("PSNR against ffmpeg's autorotation %.1f dB: rotated the wrong way?", v)
	}
}

func TestTranscodeInterlacedVFRAndCap(t *testing.T) {
	out := t.TempDir()
	// Interlaced 25i: deinterlaced, progressive out.
	outs, err := Transcode(context.Background(), interlacedInput(t), out, []VideoProfile{{Width: 320, Height: 240}}, Options{Preset: "ultrafast"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkVideo(t, outs[0], 320, 240, 25)
	if v := probeOK(t, outs[0].Path).Video(); v.FieldOrder != "progressive" {
		t.Errorf("field order %q", v.FieldOrder)
	}
	// VFR in, constant 30 fps out, with no audio.
	out2 := t.TempDir()
	outs, err = Transcode(context.Background(), vfrInput(t), out2, []VideoProfile{{Width: 160, Height: 120}}, Options{Preset: "ultrafast"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	info := checkVideo(t, outs[0], 160, 120, 30)
	if info.Audio() != nil {
		t.Error("audio appeared from nowhere")
	}
	if v := info.Video(); v.Frames < 88 || v.Frames > 91 {
		t.Errorf("%d frames, want 90 (3 s at constant 30 fps)", v.Frames)
	}
	// 50 fps capped at 25.
	hi := input(t, "50fps.mp4", append(append(lavfiVideo("160x120", 50, 2), x264()...), "-an")...)
	outs, err = Transcode(context.Background(), hi, t.TempDir(), []VideoProfile{{Width: 160, Height: 120, MaxFPS: 25}}, Options{Preset: "ultrafast"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkVideo(t, outs[0], 160, 120, 25)
}

func TestTranscodeAudioFormats(t *testing.T) {
	for _, ext := range []string{"mp3", "wav", "flac", "ogg", "m4a"} {
		t.Run(ext, func(t *testing.T) {
			args := append(lavfiTone(3, 0.3), "-ac", "2")
			in := input(t, "tone."+ext, args...)
			o, err := TranscodeAudio(context.Background(), in, t.TempDir(), Options{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			info := probeOK(t, o.Path)
			if a := info.Audio(); a == nil || a.Codec != "aac" || info.Video() != nil {
				t.Fatalf("streams %+v", info.Streams)
			}
			if math.Abs(o.Duration-3) > 0.1 {
				t.Errorf("duration %v", o.Duration)
			}
			if l := loudnessOf(t, o.Path); math.Abs(l-(-23)) > 1 {
				t.Errorf("loudness %.1f LUFS, want -23±1", l)
			}
		})
	}
}

func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A normal MP4 with moov at the end, then damaged copies.
	good := input(t, "moov-at-end.mp4", append(append(lavfiVideo("320x240", 25, 2), x264()...), "-an")...)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	moov := strings.Index(string(data), "moov")
	if moov < 4 {
		t.Fatal("no moov box")
	}
	corrupt := append([]byte(nil), data...)
	for i := moov + 4; i < len(corrupt); i++ {
		corrupt[i] = byte(i*7 + 3)
	}
	cases := []struct {
		name string
		path string
		want error
		msg  string
	}{
		{"empty", write("empty.mp4", nil), ErrEmpty, "the file is empty"},
		{"text", write("notes.mp4", []byte("these are my notes, not a video\n")), ErrNotMedia, "not a video or audio file FFmpeg can read"},
		{"truncated", write("cut.mp4", data[:len(data)/2]), ErrTruncated, "damaged or incomplete"},
		{"corrupt moov", write("moov.mp4", corrupt), ErrCorrupt, "damaged or incomplete"},
		{"huge", write("huge.y4m", []byte("YUV4MPEG2 W9000 H9000 F25:1 Ip A1:1 C420jpeg\nFRAME\n0123456789")), ErrAbsurd, "video is 9000×9000 pixels; the limit is 8192×8192"},
		{"absurd", write("absurd.y4m", []byte("YUV4MPEG2 W100000 H100000 F25:1 Ip A1:1 C420jpeg\nFRAME\n0123")), ErrAbsurd, "video is 100000×100000 pixels; the limit is 8192×8192"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Probe(c.path)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("Probe: %v, want %v containing %q", err, c.want, c.msg)
			}
			out := t.TempDir()
			_, err = Transcode(context.Background(), c.path, out, []VideoProfile{{Width: 64, Height: 64}}, Options{}, nil)
			if !errors.Is(err, c.want) {
				t.Errorf("Transcode: %v, want %v", err, c.want)
			}
			if m, _ := filepath.Glob(filepath.Join(out, "*")); len(m) > 0 {
				t.Errorf("files left: %v", m)
			}
		})
	}
	t.Run("wav as video", func(t *testing.T) {
		wav := input(t, "tone-for-video.wav", lavfiTone(1, 0.3)...)
		_, err := Transcode(context.Background(), wav, t.TempDir(), []VideoProfile{{Width: 64, Height: 64}}, Options{}, nil)
		if !errors.Is(err, ErrNoVideo) {
			t.Errorf("got %v, want ErrNoVideo", err)
		}
	})
}

func TestCancel(t *testing.T) {
	in := input(t, "long.mp4", append(append(lavfiVideo("640x360", 25, 20), x264()...), "-an")...)
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Transcode(ctx, in, out, []VideoProfile{{Width: 640, Height: 360}, {Width: 320, Height: 180}}, Options{Preset: "medium"}, func(p Progress) {
		if p.Percent > 5 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want cancellation", err)
	}
	if m, _ := filepath.Glob(filepath.Join(out, "*")); len(m) > 0 {
		t.Errorf("files left: %v", m)
	}
}

func TestPoster(t *testing.T) {
	// Black for the first second of four: the 10% frame is skipped.
	in := input(t, "fadein.mp4", append(append(lavfiVideo("640x360", 25, 4),
		"-vf", "drawbox=c=black:t=fill:enable='lt(t,1.2)'"), x264()...)...)
	out := filepath.Join(t.TempDir(), "poster.jpg")
	if err := Poster(in, out, 320, 320); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 320 || b.Dy() != 180 {
		t.Errorf("poster %v, want 320x180", b)
	}
	if l := meanLuma(img); l < 24 {
		t.Errorf("poster is black (luma %.0f)", l)
	}
	thumb := filepath.Join(t.TempDir(), "thumb.jpg")
	if err := Thumbnail(rotatedInput(t), thumb); err != nil {
		t.Fatal(err)
	}
	f2, _ := os.Open(thumb)
	defer f2.Close()
	cfg, err := jpeg.DecodeConfig(f2)
	if err != nil || cfg.Width != 135 || cfg.Height != 180 {
		t.Errorf("rotated thumbnail %dx%d (%v), want 135x180", cfg.Width, cfg.Height, err)
	}
}

func TestProfileNameAndParse(t *testing.T) {
	p, err := ParseVideoProfile("1920x1080")
	if err != nil || p.Name() != "1920x1080-contain-000000-30fps" {
		t.Errorf("%q %v", p.Name(), err)
	}
	p, err = ParseVideoProfile("384x192:cover:bg=ff8000:fps=25:kbps=800")
	if err != nil || p.Name() != "384x192-cover-ff8000-25fps-800k" {
		t.Errorf("%q %v", p.Name(), err)
	}
	for _, bad := range []string{"x", "10x10", "100x100:sideways", "100x100:profile=extreme"} {
		if _, err := ParseVideoProfile(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if f := (VideoProfile{Width: 1080, Height: 1920}).scaleFilter(1920, 1080, 1); f != "scale=1080:608,pad=1080:1920:0:656:color=0x000000,format=yuv420p,setsar=1" {
		t.Errorf("contain filter %q", f)
	}
}
