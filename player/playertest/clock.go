// Package playertest is test support for code that runs a player: a
// simulated clock the player sleeps on, so a test can play hours or weeks
// of a program in seconds.
package playertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"beacon/player"
)

// StepTimeout bounds how long RunUntil waits, in real time, for the player
// to set its next alarm after the clock moved.
const StepTimeout = 15 * time.Second

// Clock is a simulated clock. A player reads it through Config.Now and
// sleeps on it through Config.Alarm (see Tune). Only the latest alarm
// counts: the program loop is the one user of Config.Alarm and always
// waits on its newest alarm.
//
// A Clock is safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	alarmAt time.Time
	alarm   chan time.Time // pending alarm; nil when none is pending
	changed chan struct{}  // closed and replaced whenever an alarm is set
	settled func() bool    // RunUntil waits for it before each step
}

// Settle makes RunUntil wait, before it moves the clock to the next alarm,
// until settled returns true: for example until the renderer has painted
// what the player showed at the current instant (AllShown), so that proof
// of play, which starts when the renderer reports an item painted, starts
// at the instant the program put it on screen.
func (c *Clock) Settle(settled func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settled = settled
}

// NewClock returns a clock standing at t; it moves only by Set and RunUntil.
func NewClock(t time.Time) *Clock {
	return &Clock{now: t, changed: make(chan struct{})}
}

// Tune makes a player use the clock: pass it where a player.Config is
// adjusted before player.New, or call it on the Config.
func (c *Clock) Tune(cfg *player.Config) {
	cfg.Now = c.Now
	cfg.Alarm = c.Alarm
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Alarm returns a channel that receives the clock's time once it reaches
// at: at once if at is not after the current time, else when Set gets
// there. It replaces any earlier pending alarm, whose channel never fires.
// stop withdraws the alarm (the player woke for another reason), so
// RunUntil waits for the player's next alarm instead of ringing a stale one.
func (c *Clock) Alarm(at time.Time) (ch <-chan time.Time, stop func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := make(chan time.Time, 1)
	if !at.After(c.now) {
		a <- c.now
		c.alarm = nil
	} else {
		c.alarmAt, c.alarm = at, a
	}
	close(c.changed)
	c.changed = make(chan struct{})
	return a, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.alarm == a {
			c.alarm = nil
		}
	}
}

// Set moves the clock to t (forwards or backwards) and rings the pending
// alarm if it is due.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	if c.alarm != nil && !c.alarmAt.After(t) {
		c.alarm <- t
		c.alarm = nil
	}
}

// WaitAlarm waits until an alarm after the current time is pending (the
// player sleeps on it) and returns its time.
func (c *Clock) WaitAlarm(ctx context.Context) (time.Time, error) {
	for {
		c.mu.Lock()
		ch, at, ok := c.changed, c.alarmAt, c.alarm != nil
		c.mu.Unlock()
		if ok {
			return at, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("player never set an alarm: %w", ctx.Err())
		}
	}
}

// RunUntil advances the clock from alarm to alarm up to end, so the player
// evaluates its program at every instant anything changes, and leaves the
// clock at end. It returns the number of alarms rung. It fails the test if
// the player takes longer than StepTimeout to set its next alarm.
func (c *Clock) RunUntil(t testing.TB, end time.Time) int {
	t.Helper()
	steps := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), StepTimeout)
		at, err := c.WaitAlarm(ctx)
		cancel()
		if err != nil {
			t.Fatalf("at %v: %v", c.Now(), err)
		}
		c.mu.Lock()
		f := c.settled
		c.mu.Unlock()
		if f != nil && !settle(f, StepTimeout) {
			t.Fatalf("at %v: the player never settled", c.Now())
		}
		if at.After(end) {
			c.Set(end)
			return steps
		}
		c.Set(at)
		steps++
	}
}
