package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Handler does one job, reporting progress (from any goroutine, never
// concurrently). cmd/beacon wires it to media/av.
type Handler func(ctx context.Context, job Job, progress func(Progress)) (Result, error)

// Environment variables the supervisor sets for the worker.
const (
	EnvMemoryLimit = "BEACON_WORKER_MEMORY_LIMIT" // bytes of address space
	EnvTestOps     = "BEACON_WORKER_TEST_OPS"     // "1" enables the test-only operations
)

// Limits the worker applies to itself.
type Limits struct {
	MemoryBytes uint64 // RLIMIT_AS; 0 = none
	TestOps     bool   // allow test-sleep, test-alloc, test-crash
}

// LimitsFromEnv reads the limits the supervisor passed.
func LimitsFromEnv() Limits {
	var l Limits
	l.MemoryBytes, _ = strconv.ParseUint(os.Getenv(EnvMemoryLimit), 10, 64)
	l.TestOps = os.Getenv(EnvTestOps) == "1"
	return l
}

// ServeWorker is the worker process: it applies the limits, reads one job
// from stdin, runs it with h, and writes progress and the outcome as JSON
// lines to stdout. A job failure is reported on stdout and is not an error
// of ServeWorker.
func ServeWorker(ctx context.Context, stdin io.Reader, stdout io.Writer, limits Limits, h Handler) error {
	if limits.MemoryBytes > 0 {
		lim := syscall.Rlimit{Cur: limits.MemoryBytes, Max: limits.MemoryBytes}
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, &lim); err != nil {
			return fmt.Errorf("worker: setting the memory limit: %w", err)
		}
	}
	var mu sync.Mutex
	enc := json.NewEncoder(stdout)
	write := func(l line) error {
		mu.Lock()
		defer mu.Unlock()
		return enc.Encode(l)
	}
	var job Job
	if err := json.NewDecoder(bufio.NewReader(stdin)).Decode(&job); err != nil {
		return write(line{Error: &Error{Code: CodeBadJob, Message: "the media job could not be read: " + err.Error()}})
	}
	progress := func(p Progress) { _ = write(line{Progress: &p}) }
	var res Result
	var err error
	if limits.TestOps && testOp(job, progress, &err) {
		// handled
	} else {
		res, err = h(ctx, job, progress)
	}
	if err != nil {
		e, ok := err.(*Error)
		if !ok {
			e = &Error{Code: CodeFailed, Message: err.Error()}
		}
		return write(line{Error: e})
	}
	return write(line{Result: &res})
}

// testOp runs the operations used by the supervisor's tests.
func testOp(job Job, progress func(Progress), errp *error) bool {
	switch job.Op {
	case "test-sleep":
		progress(Progress{Percent: 1})
		time.Sleep(time.Hour)
	case "test-alloc": // grow until the memory limit stops us
		var keep [][]byte
		for {
			b := make([]byte, 32<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			keep = append(keep, b)
		}
	case "test-crash": // die by a signal, as a crash inside FFmpeg would
		debug.SetTraceback("crash")
		panic("test crash")
	default:
		return false
	}
	return true
}
