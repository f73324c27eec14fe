package server

import (
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// TestTusDeadlineAfterTheRequestIsServed: the tus handler can cut an
// interrupted upload's body short from a goroutine of its own after
// ServeHTTP has returned, when the fiber context is back in its pool (and
// may serve another request). The writer must then do nothing: touching
// the released context crashed the whole server.
func TestTusDeadlineAfterTheRequestIsServed(t *testing.T) {
	app := fiber.New()
	c := app.AcquireCtx(&fasthttp.RequestCtx{})
	w := &fiberWriter{c: c}
	if err := w.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatalf("while serving: %v", err)
	}
	w.finish()
	app.ReleaseCtx(c)
	if err := w.SetReadDeadline(time.Now()); err != nil {
		t.Fatalf("after serving: %v", err)
	}
}
