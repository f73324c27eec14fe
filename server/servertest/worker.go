package servertest

import (
	"context"
	"os"

	"beacon/media/avworker"
	"beacon/media/worker"
)

// childEnv marks a test binary started as a media worker.
const childEnv = "BEACON_TEST_MEDIA_WORKER"

// WorkerMain makes a test binary double as the media worker: call it first
// in TestMain. In the worker child it serves one job and exits; otherwise
// it returns at once.
func WorkerMain() {
	if os.Getenv(childEnv) != "1" {
		return
	}
	err := worker.ServeWorker(context.Background(), os.Stdin, os.Stdout, worker.LimitsFromEnv(), avworker.Handle)
	if err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// Worker returns a supervisor that runs this test binary as the media
// worker (see WorkerMain).
func Worker() *worker.Supervisor {
	exe, _ := os.Executable()
	return &worker.Supervisor{Command: exe, Args: []string{"-test.run=^$"}, Env: []string{childEnv + "=1"}}
}
