package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the worker: with BEACON_WORKER_SELF=1 it
// serves one job with a fake handler that writes files slowly.
func TestMain(m *testing.M) {
	if os.Getenv("BEACON_WORKER_SELF") == "1" {
		if err := ServeWorker(context.Background(), os.Stdin, os.Stdout, LimitsFromEnv(), fakeHandler); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func fakeHandler(ctx context.Context, job Job, progress func(Progress)) (Result, error) {
	switch job.Op {
	case OpProbe:
		if job.Input == "notes.txt" {
			return Result{}, &Error{Code: CodeNotMedia, Message: "not a video or audio file FFmpeg can read"}
		}
		return Result{Duration: 2}, nil
	case OpTranscode:
		var tmps, finals []string
		for _, p := range job.Profiles {
			final := filepath.Join(job.OutDir, fmt.Sprintf("%dx%d.mp4", p.Width, p.Height))
			tmp := filepath.Join(job.OutDir, fmt.Sprintf("%s%d-%s", PartialPrefix, os.Getpid(), filepath.Base(final)))
			if err := os.WriteFile(tmp, []byte("partial"), 0o644); err != nil {
				return Result{}, err
			}
			tmps, finals = append(tmps, tmp), append(finals, final)
		}
		for i := 1; i <= 20; i++ {
			time.Sleep(25 * time.Millisecond)
			progress(Progress{Percent: float64(i * 5), OutTime: float64(i) / 10})
		}
		var res Result
		for i := range tmps {
			if err := os.Rename(tmps[i], finals[i]); err != nil {
				return Result{}, err
			}
			res.Outputs = append(res.Outputs, Output{Path: finals[i], Size: 7})
		}
		return res, nil
	}
	return Result{}, fmt.Errorf("unknown op %q", job.Op)
}

func supervisor(t *testing.T) *Supervisor {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &Supervisor{Command: exe, Args: []string{"-test.run=^$"}, Env: []string{"BEACON_WORKER_SELF=1", EnvTestOps + "=1"}}
}

func transcodeJob(dir string) Job {
	return Job{Op: OpTranscode, Input: "in.mp4", OutDir: dir, Profiles: []Profile{{Width: 64, Height: 64}, {Width: 32, Height: 32}}}
}

func files(t *testing.T, dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "*"))
	n, _ := filepath.Glob(filepath.Join(dir, ".*"))
	return append(m, n...)
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var got []Progress
	res, err := supervisor(t).Run(context.Background(), transcodeJob(dir), func(p Progress) {
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Outputs) != 2 || res.PeakRSSKB <= 0 {
		t.Errorf("result %+v", res)
	}
	if len(got) != 20 || got[19].Percent != 100 {
		t.Errorf("progress %+v", got)
	}
	if f := files(t, dir); len(f) != 2 {
		t.Errorf("files %v", f)
	}
}

func TestJobError(t *testing.T) {
	_, err := supervisor(t).Run(context.Background(), Job{Op: OpProbe, Input: "notes.txt"}, nil)
	if !errors.Is(err, &Error{Code: CodeNotMedia}) || err.Error() != "not a video or audio file FFmpeg can read" {
		t.Errorf("got %v", err)
	}
}

func TestKilledMidJob(t *testing.T) {
	dir := t.TempDir()
	killed := false
	_, err := supervisor(t).Run(context.Background(), transcodeJob(dir), func(p Progress) {
		if p.Percent < 30 || killed {
			return
		}
		// Kill the worker as the kernel's OOM killer or an operator would.
		m, _ := filepath.Glob(filepath.Join(dir, PartialPrefix+"*"))
		if len(m) == 0 {
			t.Error("no partial files while running")
			return
		}
		pid, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(filepath.Base(m[0]), PartialPrefix), "-", 2)[0])
		killed = syscall.Kill(pid, syscall.SIGKILL) == nil
	})
	if !killed {
		t.Fatal("could not kill the worker")
	}
	if !errors.Is(err, &Error{Code: CodeCrashed}) || err.Error() != "the media worker crashed while transcoding (signal: killed)" {
		t.Errorf("got %v", err)
	}
	if f := files(t, dir); len(f) != 0 {
		t.Errorf("files left: %v", f)
	}
	// The next job works.
	if _, err := supervisor(t).Run(context.Background(), transcodeJob(dir), nil); err != nil {
		t.Errorf("next job: %v", err)
	}
}

func TestTimeout(t *testing.T) {
	s := supervisor(t)
	s.BaseTimeout, s.PerSecond = 300*time.Millisecond, 1
	start := time.Now()
	_, err := s.Run(context.Background(), Job{Op: "test-sleep", Duration: 0.2}, nil)
	if !errors.Is(err, &Error{Code: CodeTimeout}) || err.Error() != "Working took longer than the 500ms allowed" {
		t.Errorf("got %v", err)
	}
	if time.Since(start) > 20*time.Second {
		t.Error("the hung worker was not stopped")
	}
	if got := (&Supervisor{}).Timeout(Job{Op: OpTranscode, Profiles: make([]Profile, 4)}, 10); got != 190*time.Second {
		t.Errorf("default timeout for 4 profiles × 10 s = %v, want 3m10s", got)
	}
}

func TestMemoryLimit(t *testing.T) {
	s := supervisor(t)
	s.MemoryLimit = 512 << 20
	_, err := s.Run(context.Background(), Job{Op: "test-alloc", Duration: 1}, nil)
	if !errors.Is(err, &Error{Code: CodeOutOfMemory}) || !strings.Contains(err.Error(), "ran out of memory") || !strings.Contains(err.Error(), "512 MiB") {
		t.Errorf("got %v", err)
	}
}

func TestCrash(t *testing.T) {
	_, err := supervisor(t).Run(context.Background(), Job{Op: "test-crash", Duration: 1}, nil)
	if !errors.Is(err, &Error{Code: CodeCrashed}) || !strings.Contains(err.Error(), "crashed") || !strings.Contains(err.Error(), "signal: aborted") {
		t.Errorf("got %v", err)
	}
}

func TestCancel(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	_, err := supervisor(t).Run(ctx, transcodeJob(dir), func(p Progress) {
		if p.Percent >= 20 {
			cancel()
		}
	})
	if !errors.Is(err, &Error{Code: CodeCanceled}) {
		t.Errorf("got %v", err)
	}
	if f := files(t, dir); len(f) != 0 {
		t.Errorf("files left: %v", f)
	}
}
