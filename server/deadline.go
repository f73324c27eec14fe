package server

import (
	"errors"
	"os"
	"sync"
	"time"
)

// lazyDeadline keeps one direction's deadline of a connection without
// re-arming the runtime's timer on every call. A player's session moves
// its read deadline on every frame and its write deadline on every write:
// in an emergency broadcast to 10,000 screens that is 20,000 timer updates
// in the busiest tenth of a second, each on a heap of 10,000 timers.
//
// The deadline asked for is only recorded; the poller is armed when the
// new deadline is sooner than the one it holds (a close that sets a past
// deadline still interrupts a blocked read at once) or the one it holds
// is less than half as far as the new one. When the armed
// deadline fires before the one asked for, the read or write that saw the
// timeout re-arms with the later one and carries on (expired), so a
// connection times out exactly when the last deadline set says.
type lazyDeadline struct {
	mu    sync.Mutex
	want  int64 // the deadline asked for, Unix nanoseconds; 0: none
	armed int64 // the deadline the poller holds; 0: none
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if n := t.UnixNano(); n != 0 {
		return n
	}
	return 1
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// set records t; arm is called (with mu held) when the poller must learn
// it now.
func (d *lazyDeadline) set(t time.Time, arm func(time.Time) error) error {
	w := unixNano(t)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.want = w
	switch {
	case w == 0 || w == d.armed:
	case d.armed == 0 || w < d.armed:
		d.armed = w
		return arm(t)
	default:
		// Later than what is armed: left for expired to re-arm, unless
		// the armed deadline is less than half as far as this one (the
		// handshake's, say), so that a connection that gets a frame at
		// least every half timeout never wakes for nothing.
		if now := time.Now().UnixNano(); d.armed-now < (w-now)/2 {
			d.armed = w
			return arm(t)
		}
	}
	return nil
}

// expired is called after an operation failed with err. It reports
// whether err was an armed deadline that fired before the one asked for;
// the poller then holds the one asked for and the operation may go on.
func (d *lazyDeadline) expired(err error, arm func(time.Time) error) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.want != 0 && d.want <= time.Now().UnixNano() {
		return false // the deadline asked for has passed
	}
	d.armed = d.want
	return arm(fromUnixNano(d.want)) == nil
}
