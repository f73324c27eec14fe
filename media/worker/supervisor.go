package worker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Supervisor runs jobs in worker subprocesses. The zero value runs
// "<this executable> media-worker" with the defaults below.
type Supervisor struct {
	Command string   // default: os.Executable()
	Args    []string // default: ["media-worker"]
	Env     []string // added to the environment

	MemoryLimit uint64        // address-space limit of the worker; default 4 GiB
	BaseTimeout time.Duration // default 30 s
	// PerSecond is the time allowed per second of input per rendition
	// (default 4): timeout = BaseTimeout + PerSecond × duration × renditions.
	PerSecond float64
	// ProbeTimeout bounds probe jobs (default 30 s).
	ProbeTimeout time.Duration
}

const defaultMemoryLimit = 4 << 30

// Timeout is the time a job on an input of the given duration gets.
func (s *Supervisor) Timeout(job Job, duration float64) time.Duration {
	if job.Op == OpProbe {
		return s.probeTimeout()
	}
	base := s.BaseTimeout
	if base <= 0 {
		base = 30 * time.Second
	}
	per := s.PerSecond
	if per <= 0 {
		per = 4
	}
	n := 1
	if job.Op == OpTranscode && len(job.Profiles) > 1 {
		n = len(job.Profiles)
	}
	if job.Op == OpPoster {
		duration = min(duration, 5) // a poster decodes a few frames
	}
	if job.Op == OpSVG {
		duration, n = 5, max(1, len(job.Profiles)) // one render per profile
	}
	return base + time.Duration(per*duration*float64(n)*float64(time.Second))
}

func (s *Supervisor) probeTimeout() time.Duration {
	if s.ProbeTimeout > 0 {
		return s.ProbeTimeout
	}
	return 30 * time.Second
}

func (s *Supervisor) memoryLimit() uint64 {
	if s.MemoryLimit > 0 {
		return s.MemoryLimit
	}
	return defaultMemoryLimit
}

// Run runs job in a fresh worker process. progress (may be nil) is called
// from one goroutine. Failures are *Error values with a message for people.
func (s *Supervisor) Run(ctx context.Context, job Job, progress func(Progress)) (Result, error) {
	dur := job.Duration
	if dur <= 0 && job.Op != OpProbe && job.Op != OpSVG {
		pr, err := s.run(ctx, Job{Op: OpProbe, Input: job.Input}, s.probeTimeout(), nil)
		if err != nil {
			return Result{}, err
		}
		dur = pr.Duration
	}
	return s.run(ctx, job, s.Timeout(job, dur), progress)
}

func verb(op string) string {
	switch op {
	case OpProbe:
		return "reading the file"
	case OpTranscode:
		return "transcoding"
	case OpAudio:
		return "transcoding the audio"
	case OpPoster:
		return "making the poster frame"
	case OpSVG:
		return "rendering the SVG"
	}
	return "working"
}

// tail keeps the last bytes written to it (the worker's stderr).
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 16<<10 {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-8<<10:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

func (s *Supervisor) run(ctx context.Context, job Job, timeout time.Duration, progress func(Progress)) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, &Error{Code: CodeCanceled, Message: "the media job was cancelled"}
	}
	path, args := s.Command, s.Args
	if path == "" {
		exe, err := os.Executable()
		if err != nil {
			return Result{}, err
		}
		path = exe
	}
	if args == nil {
		args = []string{"media-worker"}
	}
	in, err := json.Marshal(job)
	if err != nil {
		return Result{}, err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(append(os.Environ(), s.Env...), fmt.Sprintf("%s=%d", EnvMemoryLimit, s.memoryLimit()))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdin = bytes.NewReader(in)
	var stderr tail
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return Result{}, err
	}
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("worker: starting the media worker: %w", err)
	}
	pid := cmd.Process.Pid

	// Kill the whole process group on timeout or cancellation.
	var why string
	var whyMu sync.Mutex
	stop := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-stop:
			return
		case <-t.C:
			whyMu.Lock()
			why = CodeTimeout
			whyMu.Unlock()
		case <-ctx.Done():
			whyMu.Lock()
			why = CodeCanceled
			whyMu.Unlock()
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}()

	var res *Result
	var jobErr *Error
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			continue // not ours (a library printing to stdout)
		}
		switch {
		case l.Progress != nil:
			if progress != nil {
				progress(*l.Progress)
			}
		case l.Result != nil:
			res = l.Result
		case l.Error != nil:
			jobErr = l.Error
		}
	}
	werr := cmd.Wait()
	close(stop)
	<-watchDone
	// Whatever happened, no other process of the group stays behind.
	_ = syscall.Kill(-pid, syscall.SIGKILL)

	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	whyMu.Lock()
	reason := why
	whyMu.Unlock()

	var outErr error
	switch {
	case reason == CodeTimeout:
		outErr = &Error{Code: CodeTimeout, Message: fmt.Sprintf("%s took longer than the %s allowed", capital(verb(job.Op)), roundDur(timeout))}
	case reason == CodeCanceled:
		outErr = &Error{Code: CodeCanceled, Message: fmt.Sprintf("%s was cancelled", capital(verb(job.Op)))}
	case werr == nil && jobErr != nil:
		if isOOMText(jobErr.Message) {
			jobErr = &Error{Code: CodeOutOfMemory, Message: oomMessage(job.Op, s.memoryLimit())}
		}
		outErr = jobErr
	case werr == nil && res != nil:
		res.PeakRSSKB = rss
		return *res, nil
	case isOOMText(stderr.String()):
		outErr = &Error{Code: CodeOutOfMemory, Message: oomMessage(job.Op, s.memoryLimit())}
	default:
		how := "it stopped without an answer"
		var ee *exec.ExitError
		if errors.As(werr, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				how = "signal: " + signalName(ws.Signal())
			} else {
				how = ee.Error()
			}
		} else if werr != nil {
			how = werr.Error()
		}
		outErr = &Error{Code: CodeCrashed, Message: fmt.Sprintf("the media worker crashed while %s (%s)", verb(job.Op), how)}
	}
	removePartials(job, pid)
	return Result{PeakRSSKB: rss}, outErr
}

func oomMessage(op string, limit uint64) string {
	return fmt.Sprintf("the media worker ran out of memory while %s (the limit is %s)", verb(op), bytesText(limit))
}

func isOOMText(s string) bool {
	s = strings.ToLower(s)
	return strings.Contains(s, "out of memory") || strings.Contains(s, "cannot allocate memory")
}

func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGKILL:
		return "killed"
	case syscall.SIGSEGV:
		return "segmentation fault"
	case syscall.SIGABRT:
		return "aborted"
	}
	return sig.String()
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func roundDur(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}

func bytesText(n uint64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%.0f MiB", math.Round(float64(n)/(1<<20)))
}

// removePartials deletes what a dead worker was still writing.
func removePartials(job Job, pid int) {
	var dirs []string
	if job.OutDir != "" {
		dirs = append(dirs, job.OutDir)
	}
	if job.Output != "" {
		dirs = append(dirs, filepath.Dir(job.Output))
	}
	for _, d := range dirs {
		m, _ := filepath.Glob(filepath.Join(d, fmt.Sprintf("%s%d-*", PartialPrefix, pid)))
		for _, f := range m {
			_ = os.Remove(f)
		}
	}
}
