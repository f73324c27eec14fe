package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"beacon/media/av"
	"beacon/media/avworker"
	"beacon/media/worker"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

const mediaUsage = `usage:
  beacon media probe FILE
  beacon media transcode --profile WxH[:fit][:bg=RRGGBB][:fps=N] [--profile …] [--preset veryfast] [--crf 23] [--lufs -23] [--no-audio] IN OUTDIR
  beacon media audio [--lufs -23] IN OUTDIR
  beacon media poster [--max 1280x720] IN OUT.jpg`

// mediaCmd is "beacon media …". Work runs in a media worker subprocess,
// the same path the server uses.
func mediaCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(mediaUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sup := &worker.Supervisor{}
	fs := flag.NewFlagSet("media "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var profiles stringList
	fs.Var(&profiles, "profile", "rendition WxH[:contain|cover|stretch][:bg=RRGGBB][:fps=N][:kbps=N][:profile=P][:level=L] (repeatable)")
	preset := fs.String("preset", "veryfast", "libx264 preset")
	crf := fs.Int("crf", 23, "libx264 CRF")
	lufs := fs.Float64("lufs", -23, "loudness target (LUFS)")
	noAudio := fs.Bool("no-audio", false, "drop the audio")
	maxSize := fs.String("max", "1280x720", "poster bounds WxH")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	pos := fs.Args()
	opt := worker.Options{Preset: *preset, CRF: *crf, LoudnessLUFS: *lufs, NoAudio: *noAudio}
	showProgress := func(p worker.Progress) {
		fmt.Fprintf(stderr, "\r%5.1f%%  eta %4.0fs  at %6.1fs", p.Percent, p.ETASeconds, p.OutTime)
	}
	var job worker.Job
	switch args[0] {
	case "probe":
		if len(pos) != 1 {
			return errors.New(mediaUsage)
		}
		job = worker.Job{Op: worker.OpProbe, Input: pos[0]}
	case "transcode":
		if len(pos) != 2 || len(profiles) == 0 {
			return errors.New(mediaUsage)
		}
		job = worker.Job{Op: worker.OpTranscode, Input: pos[0], OutDir: pos[1], Options: opt}
		for _, s := range profiles {
			p, err := av.ParseVideoProfile(s)
			if err != nil {
				return err
			}
			job.Profiles = append(job.Profiles, worker.Profile(p))
		}
	case "audio":
		if len(pos) != 2 {
			return errors.New(mediaUsage)
		}
		job = worker.Job{Op: worker.OpAudio, Input: pos[0], OutDir: pos[1], Options: opt}
	case "poster":
		if len(pos) != 2 {
			return errors.New(mediaUsage)
		}
		job = worker.Job{Op: worker.OpPoster, Input: pos[0], Output: pos[1]}
		if _, err := fmt.Sscanf(*maxSize, "%dx%d", &job.MaxWidth, &job.MaxHeight); err != nil {
			return fmt.Errorf("bad --max %q", *maxSize)
		}
	default:
		return errors.New(mediaUsage)
	}
	if job.OutDir != "" {
		if err := os.MkdirAll(job.OutDir, 0o755); err != nil {
			return err
		}
	}
	var prog func(worker.Progress)
	if job.Op != worker.OpProbe {
		prog = showProgress
	}
	res, err := sup.Run(ctx, job, prog)
	if prog != nil {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if job.Op == worker.OpProbe {
		return enc.Encode(res.Info)
	}
	return enc.Encode(res.Outputs)
}

// mediaWorkerCmd is "beacon media-worker": one job from stdin, JSON lines
// on stdout (see media/worker).
func mediaWorkerCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return errors.New("usage: beacon media-worker (reads one JSON job from stdin)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return worker.ServeWorker(ctx, stdin, stdout, worker.LimitsFromEnv(), avworker.Handle)
}

// ---- beacon bench video ----

// benchVideo compares Beacon's transcoder (through the media worker) with
// the ffmpeg CLI doing the same work on a generated 20 s 1080p30 clip.
func benchVideo(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench video", flag.ContinueOnError)
	preset := fs.String("preset", "veryfast", "libx264 preset (both sides)")
	crf := fs.Int("crf", 23, "libx264 CRF (both sides)")
	seconds := fs.Int("seconds", 20, "clip length")
	rounds := fs.Int("rounds", 1, "repeat each measurement and keep the fastest")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return errors.New("bench video needs the ffmpeg CLI")
	}
	cache := filepath.Join(os.TempDir(), "beacon-bench-video")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return err
	}
	src := filepath.Join(cache, fmt.Sprintf("src-1080p30-%ds.mp4", *seconds))
	if _, err := os.Stat(src); err != nil {
		fmt.Fprintf(stdout, "video generating %s\n", src)
		tmp := src + ".tmp.mp4"
		c := exec.Command(ffmpeg, "-v", "error", "-y",
			"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=s=1920x1080:r=30:d=%d", *seconds),
			"-f", "lavfi", "-i", fmt.Sprintf("sine=f=440:r=48000:d=%d,volume=0.1", *seconds),
			"-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
			"-ac", "2", "-c:a", "aac", "-shortest", tmp)
		if out, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("generating the clip: %v\n%s", err, out)
		}
		if err := os.Rename(tmp, src); err != nil {
			return err
		}
	}
	info, err := av.Probe(src)
	if err != nil {
		return err
	}
	vi := *info.Video()
	opt := av.Options{Preset: *preset, CRF: *crf}
	cores := av.DefaultDecoderThreads()
	outDir, err := os.MkdirTemp(cache, "out-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(outDir)
	sup := &worker.Supervisor{}
	var peakRSS int64

	beacon := func(profiles []av.VideoProfile) (float64, error) {
		job := worker.Job{Op: worker.OpTranscode, Input: src, OutDir: outDir, Duration: info.Duration, Options: worker.Options(opt)}
		for _, p := range profiles {
			job.Profiles = append(job.Profiles, worker.Profile(p))
		}
		start := time.Now()
		res, err := sup.Run(context.Background(), job, nil)
		if err != nil {
			return 0, err
		}
		peakRSS = max(peakRSS, res.PeakRSSKB)
		return time.Since(start).Seconds(), nil
	}
	// The CLI does the same work: the same two-pass loudness (measure with
	// ebur128, then loudnorm in linear mode), filters, encoder settings
	// and decoder threads.
	loudnorm, err := cliLoudnorm(ffmpeg, src, opt)
	if err != nil {
		return err
	}
	audioArgs := []string{"-af", loudnorm + ",aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo", "-c:a", "aac", "-b:a", "128k", "-ar", "48000"}
	encArgs := func(p av.VideoProfile) ([]string, error) {
		rate, err := av.OutputRate(src, p)
		if err != nil {
			return nil, err
		}
		fps, _ := parseRate(rate)
		a := []string{"-c:v", "libx264", "-pix_fmt", "yuv420p"}
		for k, v := range av.X264Options(p, fps, opt) {
			a = append(a, "-"+k, v)
		}
		return a, nil
	}
	filterOf := func(p av.VideoProfile) (string, error) {
		rate, err := av.OutputRate(src, p)
		return av.VideoFilter(p, vi, rate, opt), err
	}
	inArgs := []string{"-v", "error", "-y", "-threads", strconv.Itoa(cores), "-i", src}
	measure := func() (float64, error) { // the loudness pass, counted on the CLI side
		start := time.Now()
		_, err := cliLoudnorm(ffmpeg, src, opt)
		return time.Since(start).Seconds(), err
	}
	ffOne := func(p av.VideoProfile, name string) (float64, error) {
		f, err := filterOf(p)
		if err != nil {
			return 0, err
		}
		ea, err := encArgs(p)
		if err != nil {
			return 0, err
		}
		a := append(append([]string{}, inArgs...), "-map", "0:v:0", "-map", "0:a:0", "-vf", f)
		a = append(append(append(a, ea...), audioArgs...), "-movflags", "+faststart", filepath.Join(outDir, name))
		m, err := measure()
		if err != nil {
			return 0, err
		}
		start := time.Now()
		if out, err := exec.Command(ffmpeg, a...).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("ffmpeg: %v\n%s", err, out)
		}
		return m + time.Since(start).Seconds(), nil
	}
	ffSplit := func(ps []av.VideoProfile) (float64, error) {
		var graph strings.Builder
		fmt.Fprintf(&graph, "[0:v]split=%d", len(ps))
		for i := range ps {
			fmt.Fprintf(&graph, "[s%d]", i)
		}
		var outs []string
		for i, p := range ps {
			f, err := filterOf(p)
			if err != nil {
				return 0, err
			}
			fmt.Fprintf(&graph, ";[s%d]%s[v%d]", i, f, i)
			ea, err := encArgs(p)
			if err != nil {
				return 0, err
			}
			o := append([]string{"-map", fmt.Sprintf("[v%d]", i), "-map", "0:a:0"}, ea...)
			o = append(append(o, audioArgs...), "-movflags", "+faststart", filepath.Join(outDir, fmt.Sprintf("split%d.mp4", i)))
			outs = append(outs, o...)
		}
		a := append(append(append([]string{}, inArgs...), "-filter_complex", graph.String()), outs...)
		m, err := measure()
		if err != nil {
			return 0, err
		}
		start := time.Now()
		if out, err := exec.Command(ffmpeg, a...).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("ffmpeg: %v\n%s", err, out)
		}
		return m + time.Since(start).Seconds(), nil
	}
	// best runs the measurements in turn, round after round, and keeps the
	// fastest time of each, so that a change in the machine's load during
	// the run weighs on all of them alike rather than on whichever ran last.
	best := func(fns ...func() (float64, error)) ([]float64, error) {
		b := make([]float64, len(fns))
		for i := range b {
			b[i] = math.Inf(1)
		}
		for r := 0; r < max(*rounds, 1); r++ {
			for i, f := range fns {
				t, err := f()
				if err != nil {
					return nil, err
				}
				b[i] = min(b[i], t)
			}
		}
		return b, nil
	}

	one := []av.VideoProfile{{Width: 1920, Height: 1080}}
	four := []av.VideoProfile{{Width: 1920, Height: 1080}, {Width: 1280, Height: 720}, {Width: 1080, Height: 1920}, {Width: 384, Height: 192}}
	fmt.Fprintf(stdout, "video clip=%s duration_s=%.1f preset=%s crf=%d decoder_threads=%d cores=%d\n", filepath.Base(src), info.Duration, *preset, *crf, cores, cores)

	t1, err := best(
		func() (float64, error) { return beacon(one) },
		func() (float64, error) { return ffOne(one[0], "cli-one.mp4") })
	if err != nil {
		return err
	}
	b1, f1 := t1[0], t1[1]
	fmt.Fprintf(stdout, "video one_rendition beacon_s=%.2f ffmpeg_s=%.2f ratio=%.3f (target <= 1.05)\n", b1, f1, b1/f1)

	t4, err := best(
		func() (float64, error) { return beacon(four) },
		func() (float64, error) { return ffSplit(four) },
		func() (float64, error) {
			var total float64
			for i, p := range four {
				t, err := ffOne(p, fmt.Sprintf("sep%d.mp4", i))
				if err != nil {
					return 0, err
				}
				total += t
			}
			return total, nil
		})
	if err != nil {
		return err
	}
	b4, fs4, sep := t4[0], t4[1], t4[2]
	fmt.Fprintf(stdout, "video four_profiles beacon_s=%.2f ffmpeg_split_s=%.2f ratio=%.3f (target <= 1.0) ffmpeg_separate_s=%.2f speedup=%.2f (target >= 1.2)\n",
		b4, fs4, b4/fs4, sep, sep/b4)
	fmt.Fprintf(stdout, "video worker_peak_rss_mb=%.0f\n", float64(peakRSS)/1024)
	return nil
}

func parseRate(s string) (float64, error) {
	n, d, ok := strings.Cut(s, "/")
	num, err := strconv.ParseFloat(n, 64)
	if err != nil || !ok {
		return num, err
	}
	den, err := strconv.ParseFloat(d, 64)
	if err != nil || den == 0 {
		return 0, fmt.Errorf("bad rate %q", s)
	}
	return num / den, nil
}

// cliLoudnorm measures the clip's loudness with the ffmpeg CLI and returns
// the same linear loudnorm filter Beacon builds.
func cliLoudnorm(ffmpeg, src string, opt av.Options) (string, error) {
	out, err := exec.Command(ffmpeg, "-nostats", "-hide_banner", "-threads", "1", "-i", src, "-map", "0:a:0",
		"-af", "ebur128=peak=true", "-f", "null", "-").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ffmpeg ebur128: %v\n%s", err, out)
	}
	s := string(out)
	get := func(key string) float64 {
		i := strings.LastIndex(s, key)
		if i < 0 {
			return math.NaN()
		}
		f := strings.Fields(s[i+len(key):])
		if len(f) == 0 {
			return math.NaN()
		}
		v, _ := strconv.ParseFloat(f[0], 64)
		return v
	}
	return av.LoudnormFilter(get("I:"), get("LRA:"), get("Peak:"), opt), nil
}
