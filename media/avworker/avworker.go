// Package avworker is the worker half of media jobs: it runs a
// media/worker Job with media/av (FFmpeg through go-astiav). Only the
// beacon binary (and tests that need a real worker) import it; the server
// itself talks to the worker through media/worker's Supervisor.
package avworker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"os"
	"path/filepath"

	"beacon/media/av"
	"beacon/media/worker"
)

// Handle runs one worker job with media/av.
func Handle(ctx context.Context, job worker.Job, progress func(worker.Progress)) (worker.Result, error) {
	prog := func(p av.Progress) {
		if progress != nil {
			progress(worker.Progress(p))
		}
	}
	opt := av.Options(job.Options)
	var res worker.Result
	// An animated WebP is read through an APNG made from it.
	if job.Op == worker.OpProbe || job.Op == worker.OpTranscode || job.Op == worker.OpPoster {
		// Probing needs a few frames; the animation's length comes from its
		// structure (media.ProbeAnimation).
		maxFrames := 0
		if job.Op == worker.OpProbe {
			maxFrames = 2
		}
		in, cleanup, err := av.PrepareInput(job.Input, job.OutDir, maxFrames)
		if err != nil {
			return res, jobError(err)
		}
		defer cleanup()
		job.Input = in
	}
	switch job.Op {
	case worker.OpProbe:
		info, err := av.Probe(job.Input)
		if err != nil {
			return res, jobError(err)
		}
		res.Info, _ = json.Marshal(info)
		res.Duration = info.Duration
		return res, nil
	case worker.OpTranscode:
		profiles := make([]av.VideoProfile, len(job.Profiles))
		for i, p := range job.Profiles {
			profiles[i] = av.VideoProfile(p)
		}
		outs, err := av.Transcode(ctx, job.Input, job.OutDir, profiles, opt, prog)
		if err != nil {
			return res, jobError(err)
		}
		for _, o := range outs {
			res.Outputs = append(res.Outputs, worker.Output(o))
		}
		return res, nil
	case worker.OpAudio:
		o, err := av.TranscodeAudio(ctx, job.Input, job.OutDir, opt, prog)
		if err != nil {
			return res, jobError(err)
		}
		res.Outputs = []worker.Output{worker.Output(o)}
		return res, nil
	case worker.OpSVG:
		for i, p := range job.Profiles {
			out := filepath.Join(job.OutDir, fmt.Sprintf("svg-%d-%dx%d.png", i, p.Width, p.Height))
			w, h, err := av.RasterSVG(job.Input, out, p.Width, p.Height)
			if err != nil {
				return res, jobError(err)
			}
			st, err := os.Stat(out)
			if err != nil {
				return res, err
			}
			res.Outputs = append(res.Outputs, worker.Output{Profile: fmt.Sprintf("%dx%d", p.Width, p.Height), Path: out, Width: w, Height: h, Size: st.Size()})
		}
		return res, nil
	case worker.OpPoster:
		w, h := job.MaxWidth, job.MaxHeight
		if w == 0 || h == 0 {
			w, h = 1280, 720
		}
		if err := av.Poster(job.Input, job.Output, w, h); err != nil {
			return res, jobError(err)
		}
		f, err := os.Open(job.Output)
		if err != nil {
			return res, err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return res, err
		}
		cfg, err := jpeg.DecodeConfig(f)
		if err != nil {
			return res, fmt.Errorf("poster written but unreadable: %w", err)
		}
		res.Outputs = []worker.Output{{Profile: "poster", Path: job.Output, Width: cfg.Width, Height: cfg.Height, Size: st.Size()}}
		return res, nil
	}
	return res, &worker.Error{Code: worker.CodeBadJob, Message: fmt.Sprintf("unknown media operation %q", job.Op)}
}

// jobError gives bad-input errors their code.
func jobError(err error) error {
	for _, c := range []struct {
		err  error
		code string
	}{
		{av.ErrEmpty, worker.CodeEmpty}, {av.ErrNotMedia, worker.CodeNotMedia},
		{av.ErrTruncated, worker.CodeTruncated}, {av.ErrCorrupt, worker.CodeCorrupt},
		{av.ErrNoVideo, worker.CodeNoVideo}, {av.ErrNoAudio, worker.CodeNoAudio},
		{av.ErrAbsurd, worker.CodeAbsurd},
	} {
		if errors.Is(err, c.err) {
			return worker.Fail(c.code, err)
		}
	}
	return err
}
