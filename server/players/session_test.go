package players

import (
	"testing"
	"time"

	"beacon/protocol"
)

// general decodes an override_ack as the general path does.
func general(frame []byte) (protocol.Envelope, protocol.OverrideAck, bool) {
	env, err := protocol.Decode(frame)
	if err != nil || env.Type != protocol.TypeOverrideAck {
		return protocol.Envelope{}, protocol.OverrideAck{}, false
	}
	var ack protocol.OverrideAck
	if err := env.DecodeBody(&ack); err != nil {
		return protocol.Envelope{}, protocol.OverrideAck{}, false
	}
	return env, ack, true
}

func sameAck(t *testing.T, frame []byte) {
	t.Helper()
	env, ack, ok := scanAck(frame)
	if !ok {
		return
	}
	want, wantAck, wantOK := general(frame)
	if !wantOK {
		t.Fatalf("scanAck accepted %q, which the general path refuses", frame)
	}
	if env.Type != want.Type || env.ID != want.ID || !env.TS.Equal(want.TS) || env.TS.Location().String() != want.TS.Location().String() ||
		ack.ID != wantAck.ID || ack.Revision != wantAck.Revision || ack.State != wantAck.State || ack.Error != wantAck.Error ||
		!ack.At.Equal(wantAck.At) || !ack.PaintedAt.Equal(wantAck.PaintedAt) || ack.At.IsZero() != wantAck.At.IsZero() {
		t.Fatalf("%q: scanAck %+v %+v; general path %+v %+v", frame, env, ack, want, wantAck)
	}
}

// scanAck reads an override_ack as protocol.Decode and DecodeBody do, and
// leaves every frame it is not sure of to them.
func TestScanAckMatchesTheGeneralPath(t *testing.T) {
	at := time.Date(2026, 11, 30, 8, 0, 0, 123456789, time.UTC)
	for _, good := range []protocol.OverrideAck{
		{ID: "ovr_x", Revision: 2, State: protocol.AckPainted, At: at, PaintedAt: at.Add(-time.Millisecond)},
		{ID: "ovr_x", Revision: 0, State: protocol.AckReceived, At: at},
		{ID: "ovr_y", Revision: 9, State: protocol.AckRefused, At: at, Error: "media missing"},
	} {
		frame, err := protocol.Encode(protocol.TypeOverrideAck, good)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, ok := scanAck(frame); !ok {
			t.Fatalf("a frame as protocol.Encode writes it was not decoded: %s", frame)
		}
		sameAck(t, frame)
	}
	for name, f := range map[string]string{
		"another order": `{"id":"m1","body":{"state":"received","at":"2026-11-30T08:00:00+07:00","revision":-3,"id":"ovr_x"},"type":"override_ack","ts":"2026-11-30T08:00:00Z"}`,
		"white space":   " {\n\t\"type\" : \"override_ack\" , \"body\" : { \"id\" : \"o\" , \"state\" : \"received\" , \"at\" : \"2026-11-30T08:00:00Z\" } }\r\n",
	} {
		if _, _, ok := scanAck([]byte(f)); !ok {
			t.Errorf("%s: not decoded", name)
		}
		sameAck(t, []byte(f))
	}
	for name, f := range map[string]string{
		"bad state":     `{"type":"override_ack","id":"m1","ts":"2026-11-30T08:00:00Z","body":{"id":"ovr_x","revision":1,"state":"shown","at":"2026-11-30T08:00:00Z"}}`,
		"no body":       `{"type":"override_ack","id":"m1","ts":"2026-11-30T08:00:00Z"}`,
		"null body":     `{"type":"override_ack","id":"m1","ts":"2026-11-30T08:00:00Z","body":null}`,
		"bad ts":        `{"type":"override_ack","id":"m1","ts":"yesterday","body":{"id":"ovr_x","revision":1,"state":"received","at":"2026-11-30T08:00:00Z"}}`,
		"broken JSON":   `{"type":"override_ack","id":"m1","body":{"id":"ovr_x"`,
		"another type":  `{"type":"heartbeat","id":"m1","ts":"2026-11-30T08:00:00Z","body":{}}`,
		"painted, when": `{"type":"override_ack","body":{"id":"o","state":"painted","at":"2026-11-30T08:00:00Z"}}`,
		"twice":         `{"type":"override_ack","body":{"id":"o","id":"p","state":"received","at":"2026-11-30T08:00:00Z"}}`,
		"escape":        `{"type":"override_ack","body":{"id":"o\u0041","state":"received","at":"2026-11-30T08:00:00Z"}}`,
		"unknown key":   `{"type":"override_ack","body":{"id":"o","state":"received","at":"2026-11-30T08:00:00Z","x":1}}`,
		"capitals":      `{"Type":"override_ack","body":{"id":"o","state":"received","at":"2026-11-30T08:00:00Z"}}`,
		"float":         `{"type":"override_ack","body":{"id":"o","revision":1.0,"state":"received","at":"2026-11-30T08:00:00Z"}}`,
		"leading zero":  `{"type":"override_ack","body":{"id":"o","revision":01,"state":"received","at":"2026-11-30T08:00:00Z"}}`,
		"huge":          `{"type":"override_ack","body":{"id":"o","revision":99999999999999999999,"state":"received","at":"2026-11-30T08:00:00Z"}}`,
		"trailing":      `{"type":"override_ack","body":{"id":"o","state":"received","at":"2026-11-30T08:00:00Z"}}x`,
		"two objects":   `{"type":"override_ack","body":{"id":"o","state":"received","at":"2026-11-30T08:00:00Z"}}{}`,
		"not UTF-8":     "{\"type\":\"override_ack\",\"body\":{\"id\":\"o\xff\",\"state\":\"received\",\"at\":\"2026-11-30T08:00:00Z\"}}",
	} {
		if _, _, ok := scanAck([]byte(f)); ok {
			t.Errorf("%s: decoded; it must take the general path", name)
		}
	}
}

// FuzzScanAck: whatever scanAck accepts, the general path reads the same.
func FuzzScanAck(f *testing.F) {
	at := time.Date(2026, 11, 30, 8, 0, 0, 5, time.FixedZone("", 7*3600))
	for _, a := range []protocol.OverrideAck{
		{ID: "ovr_x", Revision: 2, State: protocol.AckPainted, At: at, PaintedAt: at},
		{ID: "ovr_x", State: protocol.AckEnded, At: at, Error: "e"},
	} {
		frame, _ := protocol.Encode(protocol.TypeOverrideAck, a)
		f.Add(frame)
	}
	f.Add([]byte(`{"type":"override_ack","body":{"id":"o","revision":-0,"state":"received","at":"2026-11-30T08:00:00Z"}}`))
	f.Fuzz(func(t *testing.T, frame []byte) {
		sameAck(t, frame)
	})
}

// A session's read deadline moves at most once per deadlineSlack, and a
// silent connection always gets at least the whole timeout after its last
// frame (and at most deadlineSlack more).
func TestReadDeadlineMoves(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	var last time.Time // the handshake's deadline, long past
	moves := 0
	// Frames every 100 ms for two minutes, then silence.
	for now := t0; now.Before(t0.Add(2 * time.Minute)); now = now.Add(100 * time.Millisecond) {
		d, move := movedDeadline(last, now, readTimeout)
		if move {
			moves++
			if d != now.Add(readTimeout+deadlineSlack) {
				t.Fatalf("at %s: deadline %s", now.Sub(t0), d.Sub(t0))
			}
			last = d
		} else if d != last {
			t.Fatalf("at %s: a kept deadline changed", now.Sub(t0))
		}
		if left := last.Sub(now); left < readTimeout || left > readTimeout+deadlineSlack {
			t.Fatalf("at %s: %s left before the deadline, want %s to %s", now.Sub(t0), left, readTimeout, readTimeout+deadlineSlack)
		}
	}
	// 1,200 frames: the first moves it, then one move per deadlineSlack.
	if want := 1 + int(2*time.Minute/deadlineSlack); moves < want-1 || moves > want {
		t.Fatalf("%d moves of the deadline over two minutes, want about %d", moves, want)
	}
	// A deadline in the future but too close (set by something else) is moved.
	now := t0.Add(time.Hour)
	if _, move := movedDeadline(now.Add(readTimeout-time.Millisecond), now, readTimeout); !move {
		t.Fatal("a deadline less than the timeout away was kept")
	}
}
