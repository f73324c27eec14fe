// Package worker runs media jobs (probe, transcode, audio, poster) in a
// subprocess, "beacon media-worker", so that a crash, a runaway file or a
// memory blow-up in FFmpeg cannot take the server down.
//
// This package has no cgo and does not import media/av: the worker side
// (ServeWorker) gets the code that does the work as a Handler, wired in by
// cmd/beacon. The Supervisor starts the subprocess, applies the limits and
// turns every way it can fail into an error a person understands.
//
// Protocol: the supervisor writes one Job as JSON to the worker's stdin and
// closes it. The worker writes JSON lines to stdout: any number of
// {"progress":{…}}, then exactly one {"result":{…}} or
// {"error":{"code":…,"message":…}}, and exits 0.
package worker

import (
	"encoding/json"
	"errors"
	"image/color"

	"beacon/media"
)

// Operations.
const (
	OpProbe     = "probe"
	OpTranscode = "transcode"
	OpAudio     = "audio"
	OpPoster    = "poster"
	// OpSVG rasterises a sanitised SVG into one PNG per profile (its Width
	// and Height: the exact size; 0×0 for the document's own size).
	OpSVG = "svg"
)

// PartialPrefix starts the names of files a worker is still writing
// (".beacon-partial-<worker pid>-<final name>"); media/av uses the same.
const PartialPrefix = ".beacon-partial-"

// Job is one unit of work.
type Job struct {
	Op        string    `json:"op"`
	Input     string    `json:"input"`
	OutDir    string    `json:"out_dir,omitempty"`    // transcode, audio
	Output    string    `json:"output,omitempty"`     // poster: the JPEG file
	MaxWidth  int       `json:"max_width,omitempty"`  // poster bounds
	MaxHeight int       `json:"max_height,omitempty"` //
	Profiles  []Profile `json:"profiles,omitempty"`   // transcode
	Options   Options   `json:"options"`
	// Duration of the input in seconds, if known; it sets the time limit.
	// When 0 the supervisor probes the input first.
	Duration float64 `json:"duration_s,omitempty"`
}

// Profile is a video rendition (the JSON form of av.VideoProfile).
type Profile struct {
	Width       int         `json:"width"`
	Height      int         `json:"height"`
	Fit         media.Fit   `json:"fit,omitempty"`
	Background  color.NRGBA `json:"background"`
	MaxFPS      float64     `json:"max_fps,omitempty"`
	MaxBitrate  int         `json:"max_bitrate,omitempty"`
	H264Profile string      `json:"h264_profile,omitempty"`
	H264Level   string      `json:"h264_level,omitempty"`
}

// Options are encoding settings (the JSON form of av.Options).
type Options struct {
	Preset         string  `json:"preset,omitempty"`
	CRF            int     `json:"crf,omitempty"`
	LoudnessLUFS   float64 `json:"loudness_lufs,omitempty"`
	AudioBitrate   int     `json:"audio_bitrate,omitempty"`
	DecoderThreads int     `json:"decoder_threads,omitempty"`
	EncoderThreads int     `json:"encoder_threads,omitempty"`
	Deinterlacer   string  `json:"deinterlacer,omitempty"`
	NoAudio        bool    `json:"no_audio,omitempty"`
}

// Progress of a running job.
type Progress struct {
	Percent    float64 `json:"percent"`
	ETASeconds float64 `json:"eta_s"`
	OutTime    float64 `json:"out_time_s"`
}

// Output is one finished file (the JSON form of av.Output).
type Output struct {
	Profile  string  `json:"profile"`
	Path     string  `json:"path"`
	Width    int     `json:"width,omitempty"`
	Height   int     `json:"height,omitempty"`
	Duration float64 `json:"duration_s"`
	Size     int64   `json:"size"`
	SHA256   string  `json:"sha256"`
}

// Result of a job.
type Result struct {
	Info     json.RawMessage `json:"info,omitempty"`       // probe: av.Info
	Duration float64         `json:"duration_s,omitempty"` // probe: the input's duration
	Outputs  []Output        `json:"outputs,omitempty"`    // transcode, audio, poster
	// Filled in by the Supervisor, not the worker: the worker's peak
	// resident memory.
	PeakRSSKB int64 `json:"peak_rss_kb,omitempty"`
}

// Error codes. Input codes come from the file; the others from the worker.
const (
	CodeEmpty       = "empty"
	CodeNotMedia    = "not_media"
	CodeTruncated   = "truncated"
	CodeCorrupt     = "corrupt"
	CodeNoVideo     = "no_video"
	CodeNoAudio     = "no_audio"
	CodeAbsurd      = "absurd"
	CodeFailed      = "failed"        // any other failure inside the job
	CodeBadJob      = "bad_job"       // the job itself is malformed
	CodeCrashed     = "crashed"       // the worker died
	CodeTimeout     = "timeout"       // the worker ran out of time
	CodeOutOfMemory = "out_of_memory" // the worker hit its memory limit
	CodeCanceled    = "canceled"      // the caller cancelled
)

// Error is a job failure with a code and a message for people.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Is lets errors.Is match on the code: errors.Is(err, &Error{Code: CodeTimeout}).
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// Fail makes a job error with a code from err.
func Fail(code string, err error) error {
	return &Error{Code: code, Message: err.Error()}
}

// line is one line the worker writes.
type line struct {
	Progress *Progress `json:"progress,omitempty"`
	Result   *Result   `json:"result,omitempty"`
	Error    *Error    `json:"error,omitempty"`
}
