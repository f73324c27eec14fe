package console_test

import (
	"os"
	"testing"

	"beacon/server/servertest"
)

func TestMain(m *testing.M) {
	servertest.WorkerMain() // this binary is also the media worker of its tests
	os.Exit(m.Run())
}
