package av

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTranscodeAudioOddInputs normalises audio files that real uploads
// bring and that once failed: ADPCM WAV (FFmpeg's and SoX's), MP3 with
// junk before its first frame, clipped audio louder than 0 LUFS, silence
// and near-silence. Each must give an AAC file of the right length; the
// audible ones at the target loudness.
func TestTranscodeAudioOddInputs(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return ""
	}
	path := func(n string) string { return filepath.Join(dir, n) }
	ff := func(out string, args ...string) string {
		run("ffmpeg", append(append([]string{"-v", "error", "-y"}, args...), path(out))...)
		return path(out)
	}
	tone := []string{"-f", "lavfi", "-i", "sine=f=440:d=3,volume=0.3"}
	clean := ff("clean.mp3", append(tone, "-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k")...)
	cleanBytes, err := os.ReadFile(clean)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	junk := func(name string, prefix []byte, n int) string {
		b := append([]byte{}, prefix...)
		for range n {
			b = append(b, byte(rng.UintN(256)))
		}
		b = append(b, cleanBytes...)
		if err := os.WriteFile(path(name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path(name)
	}
	type tc struct {
		name    string
		in      string
		dur     float64
		audible bool
	}
	cases := []tc{
		{"ima-adpcm-wav-ffmpeg", ff("ima.wav", append(tone, "-ac", "2", "-c:a", "adpcm_ima_wav")...), 3, true},
		{"ima-adpcm-wav-8k-mono", ff("ima8k.wav", append(tone, "-ar", "8000", "-ac", "1", "-c:a", "adpcm_ima_wav")...), 3, true},
		{"ms-adpcm-wav", ff("ms.wav", append(tone, "-ar", "22050", "-c:a", "adpcm_ms")...), 3, true},
		{"mp3-random-junk-300k", junk("junk.mp3", nil, 300_000), 3, true},
		{"mp3-text-junk", junk("text.mp3", bytes.Repeat([]byte("<html>error</html>\n"), 5000), 0), 3, true},
		{"mp3-oversized-id3-and-junk", junk("id3.mp3", []byte("ID3\x03\x00\x00\x00\x00\x7f\x7f"), 200_000), 3, true},
		{"clipped-square-above-0-lufs", ff("loud.wav", "-f", "lavfi", "-i", "aevalsrc=if(lt(mod(t*3000\\,1)\\,0.5)\\,1\\,-1):d=3:s=44100", "-ac", "2"), 3, true},
		{"digital-silence-wav", ff("silent.wav", "-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono", "-t", "3"), 3, false},
		{"digital-silence-mp3", ff("silent.mp3", "-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "3", "-c:a", "libmp3lame"), 3, false},
		{"near-silent-minus-90db", ff("quiet.wav", "-f", "lavfi", "-i", "sine=f=440:d=3,volume=-90dB"), 3, false},
		{"quiet-about-minus-50-lufs", ff("q50.wav", "-f", "lavfi", "-i", "sine=f=440:d=3,volume=-30dB"), 3, true},
	}
	if _, err := exec.LookPath("sox"); err == nil {
		run("sox", "-n", "-r", "11025", "-c", "1", "-e", "ima-adpcm", path("sox-ima.wav"), "synth", "3", "sine", "440", "gain", "-10")
		run("sox", "-n", "-r", "22050", "-c", "2", "-e", "ima-adpcm", path("sox-ima2.wav"), "synth", "3", "sine", "440", "gain", "-10")
		cases = append(cases, tc{"ima-adpcm-wav-sox-mono", path("sox-ima.wav"), 3, true}, tc{"ima-adpcm-wav-sox-stereo", path("sox-ima2.wav"), 3, true})
	} else {
		t.Log("sox not installed: SoX-made ADPCM files not tried")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := TranscodeAudio(context.Background(), c.in, t.TempDir(), Options{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			info := probeOK(t, o.Path)
			if a := info.Audio(); a == nil || a.Codec != "aac" {
				t.Fatalf("streams %+v", info.Streams)
			}
			if math.Abs(o.Duration-c.dur) > 0.15 {
				t.Errorf("duration %.3f s, want %.1f (junk decoded as sound?)", o.Duration, c.dur)
			}
			l := loudnessOf(t, o.Path)
			if c.audible && math.Abs(l-(-23)) > 1.5 {
				t.Errorf("loudness %.1f LUFS, want -23±1.5", l)
			}
			if !c.audible && l > -60 {
				t.Errorf("loudness %.1f LUFS: silence was amplified", l)
			}
		})
	}
}

// TestMP3Start finds the first real frame after junk and after a tag.
func TestMP3Start(t *testing.T) {
	needFFmpeg(t)
	clean := input(t, "start.mp3", "-f", "lavfi", "-i", "sine=d=1", "-c:a", "libmp3lame", "-id3v2_version", "0", "-write_xing", "0")
	b, err := os.ReadFile(clean)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name   string
		prefix []byte
		start  int64
	}{
		{"none", nil, 0},
		{"zeros", make([]byte, 4096), 4096},
		{"tag", append([]byte("ID3\x04\x00\x00\x00\x00\x00\x10"), make([]byte, 16)...), 26},
	} {
		p := filepath.Join(dir, c.name+".mp3")
		if err := os.WriteFile(p, append(append([]byte{}, c.prefix...), b...), 0o644); err != nil {
			t.Fatal(err)
		}
		start, _, ok := mp3Start(p)
		if !ok || start != c.start {
			t.Errorf("%s: start %d (found %v), want %d", c.name, start, ok, c.start)
		}
	}
}

// TestTranscodeAudioCodecs normalises audio in the codecs and containers
// FFmpeg decodes that uploads bring (telephony, broadcast, lossless,
// legacy Windows and Apple formats). Codecs this ffmpeg cannot encode
// for the test are skipped.
func TestTranscodeAudioCodecs(t *testing.T) {
	needFFmpeg(t)
	for _, c := range []struct{ file, args string }{
		{"s24.wav", "-c:a pcm_s24le"}, {"f32.wav", "-c:a pcm_f32le"}, {"alaw.wav", "-c:a pcm_alaw -ar 8000"},
		{"mulaw.wav", "-c:a pcm_mulaw -ar 8000"}, {"g726.wav", "-c:a adpcm_g726 -ar 8000 -ac 1"},
		{"gsm.wav", "-c:a libgsm_ms -ar 8000 -ac 1"}, {"yamaha.wav", "-c:a adpcm_yamaha"}, {"swf.wav", "-c:a adpcm_swf -ar 22050"},
		{"six.wav", "-ac 6"}, {"mp2.mp2", "-c:a mp2"}, {"ac3.ac3", "-c:a ac3"}, {"eac3.eac3", "-c:a eac3"},
		{"dts.dts", "-c:a dca -strict -2"}, {"opus.opus", "-c:a libopus"}, {"vorbis.ogg", "-c:a libvorbis"},
		{"speex.spx", "-c:a libspeex -ar 16000 -ac 1"}, {"aiff.aiff", "-c:a pcm_s16be"}, {"alac.caf", "-c:a alac"},
		{"wma.wma", "-c:a wmav2"}, {"adx.adx", "-c:a adpcm_adx"}, {"tta.tta", "-c:a tta"}, {"wavpack.wv", "-c:a wavpack"},
		{"aac.aac", "-c:a aac -f adts"}, {"ima-qt.mov", "-c:a adpcm_ima_qt"}, {"truehd.mka", "-c:a truehd -strict -2"},
	} {
		t.Run(c.file, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), c.file)
			args := append([]string{"-v", "error", "-y", "-f", "lavfi", "-i", "sine=f=440:d=3,volume=0.3"}, strings.Fields(c.args)...)
			if out, err := exec.Command("ffmpeg", append(args, p)...).CombinedOutput(); err != nil {
				t.Skipf("this ffmpeg cannot make %s: %s", c.file, out)
			}
			o, err := TranscodeAudio(context.Background(), p, t.TempDir(), Options{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(o.Duration-3) > 0.2 {
				t.Errorf("duration %.3f", o.Duration)
			}
			if l := loudnessOf(t, o.Path); math.Abs(l-(-23)) > 1.5 {
				t.Errorf("loudness %.1f LUFS", l)
			}
		})
	}
}
