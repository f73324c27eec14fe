package av

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
)

// AudioName is the output name (without extension) for audio-only
// transcodes, e.g. "audio-aac-128k-23lufs".
func AudioName(opt Options) string {
	opt = opt.withDefaults()
	return fmt.Sprintf("audio-aac-%dk-%glufs", opt.AudioBitrate/1000, math.Abs(opt.LoudnessLUFS))
}

// TranscodeAudio turns an audio file (MP3, WAV, AAC/M4A, OGG, FLAC, or the
// audio of a video) into a loudness-normalised AAC .m4a in outDir.
func TranscodeAudio(ctx context.Context, in, outDir string, opt Options, progress func(Progress)) (Output, error) {
	initFFmpeg()
	opt = opt.withDefaults()
	if err := precheck(in); err != nil {
		return Output{}, err
	}
	fc, err := openInput(in)
	if err != nil {
		return Output{}, err
	}
	info := describe(fc)
	closeInput(fc)
	if err := checkLimits(info); err != nil {
		return Output{}, err
	}
	ai := info.Audio()
	if ai == nil {
		return Output{}, ErrNoAudio
	}
	audio, err := newAudioTrack(in, ai.Index, ai.Channels, 0, opt)
	if err != nil {
		return Output{}, err
	}
	defer audio.free()
	m, err := newMuxer(filepath.Join(outDir, AudioName(opt)+".m4a"))
	if err != nil {
		return Output{}, err
	}
	defer m.abort()
	if m.ast, err = m.addStream(audio.enc); err != nil {
		return Output{}, err
	}
	if err := m.start(); err != nil {
		return Output{}, err
	}
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); audio.run(jctx) }()
	stop := startProgress(progress, info.Duration, func() float64 { t, _ := audio.lastTime(); return t })
	err = audio.writeUpTo(m, math.Inf(1))
	wg.Wait()
	if err == nil {
		err = m.finish()
	}
	stop(err == nil)
	if ctx.Err() != nil {
		return Output{}, fmt.Errorf("av: transcoding stopped: %w", ctx.Err())
	}
	if err != nil {
		return Output{}, err
	}
	if err := os.Rename(m.tmp, m.path); err != nil {
		return Output{}, err
	}
	o, err := describeFile(m.path)
	o.Profile = AudioName(opt)
	return o, err
}
