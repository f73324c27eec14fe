package server_test

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"beacon/protocol"
	"beacon/server/servertest"
)

// clientFrame is one masked WebSocket frame as a client sends it (RFC
// 6455 §5.2).
func clientFrame(op byte, payload []byte) []byte {
	b := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var key [4]byte
	_, _ = rand.Read(key[:])
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i&3])
	}
	return b
}

func ackFrame(t *testing.T, ack protocol.OverrideAck) []byte {
	t.Helper()
	b, err := protocol.Encode(protocol.TypeOverrideAck, ack)
	if err != nil {
		t.Fatal(err)
	}
	return clientFrame(0x1, b)
}

// metric reads one of the server's counters or gauges.
func metric(t *testing.T, s *servertest.Server, name string) float64 {
	t.Helper()
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == name {
			var v float64
			fmt.Sscan(f[1], &v)
			return v
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// A display's reader waits with a poller between frames: the acks that
// come meanwhile are recorded by the poller (without waking the reader),
// and everything else (another message after an ack in the same read, a
// frame split over two writes, a frame the poller does not take) reaches
// the session's own reader whole and in order. This also fails if the
// server cannot see the WebSocket library's buffers (no session parks).
func TestParkedReadersAcksAndTheRest(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p, d := pairWith(t, s, s.Token, withOverride, nil)
	raw := p.conn.UnderlyingConn()
	// The reader of a session paired just now waits for its next frame
	// as it did while pairing; after that frame it parks.
	p.send(protocol.TypeHeartbeat, protocol.Heartbeat{State: "playing"})
	parked := func() bool { return metric(t, s, "beacon_player_sessions_parked") == 1 }
	servertest.Eventually(t, 5*time.Second, "the reader parks", parked)
	acks0, back0 := metric(t, s, "beacon_player_poller_acks_total"), metric(t, s, "beacon_player_poller_handbacks_total")

	// Two acks in one write, as a fast player sends them: both taken by
	// the poller.
	o := trigger(t, s, s.Token, smallest)
	expectOverride(t, s, p)
	at := time.Now().UTC().Truncate(time.Millisecond)
	two := append(ackFrame(t, protocol.OverrideAck{ID: o.ID, Revision: 1, State: protocol.AckReceived, At: at}),
		ackFrame(t, protocol.OverrideAck{ID: o.ID, Revision: 1, State: protocol.AckPainted, At: at, PaintedAt: at})...)
	if _, err := raw.Write(two); err != nil {
		t.Fatal(err)
	}
	if got := waitState(t, s, o.ID, d, "painted"); got.PaintedAt == nil || !got.PaintedAt.Equal(at) {
		t.Fatalf("painted delivery: %+v", got)
	}
	if acks := metric(t, s, "beacon_player_poller_acks_total") - acks0; acks != 2 {
		t.Fatalf("the poller took %v acks, want 2", acks)
	}
	if back := metric(t, s, "beacon_player_poller_handbacks_total") - back0; back != 0 {
		t.Fatalf("%v hand-backs for two acks", back)
	}
	// An unsolicited pong is taken too.
	if _, err := raw.Write(clientFrame(0xa, []byte("hi"))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if back := metric(t, s, "beacon_player_poller_handbacks_total") - back0; back != 0 {
		t.Fatalf("%v hand-backs after a pong", back)
	}

	// An ack, then a message the poller leaves (an unknown type, which
	// the server answers), in one write: the ack is recorded, the message
	// answered.
	o2 := trigger(t, s, s.Token, smallest)
	expectOverride(t, s, p)
	unknown, _ := protocol.Marshal(protocol.Envelope{Type: "telepathy", ID: "m-7", TS: time.Now().UTC()})
	mixed := append(ackFrame(t, protocol.OverrideAck{ID: o2.ID, Revision: 1, State: protocol.AckPainted, At: at, PaintedAt: at}),
		clientFrame(0x1, unknown)...)
	if _, err := raw.Write(mixed); err != nil {
		t.Fatal(err)
	}
	var e protocol.ErrorBody
	p.expect(protocol.TypeError, &e)
	if e.Code != protocol.CodeUnknownType || e.Ref != "m-7" {
		t.Fatalf("error frame: %+v", e)
	}
	waitState(t, s, o2.ID, d, "painted")
	servertest.Eventually(t, 5*time.Second, "the reader parks again", parked)

	// A frame split over two writes: the poller hands the first bytes
	// back, and the reader reads the ack whole.
	o3 := trigger(t, s, s.Token, smallest)
	expectOverride(t, s, p)
	split := ackFrame(t, protocol.OverrideAck{ID: o3.ID, Revision: 1, State: protocol.AckPainted, At: at, PaintedAt: at})
	if _, err := raw.Write(split[:3]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := raw.Write(split[3:]); err != nil {
		t.Fatal(err)
	}
	waitState(t, s, o3.ID, d, "painted")

	// A frame the poller never takes (a fragmented message) reaches the
	// reader: answered like any unknown type.
	servertest.Eventually(t, 5*time.Second, "the reader parks again", parked)
	msg, _ := protocol.Marshal(protocol.Envelope{Type: "telepathy", ID: "m-8", TS: time.Now().UTC()})
	first := clientFrame(0x1, msg[:5])
	first[0] &^= 0x80 // not final
	if _, err := raw.Write(append(first, clientFrame(0x0, msg[5:])...)); err != nil {
		t.Fatal(err)
	}
	p.expect(protocol.TypeError, &e)
	if e.Code != protocol.CodeUnknownType || e.Ref != "m-8" {
		t.Fatalf("error frame: %+v", e)
	}

	// An unmasked frame is a protocol error: the library closes the
	// connection, as it did before the poller.
	servertest.Eventually(t, 5*time.Second, "the reader parks again", parked)
	bad := ackFrame(t, protocol.OverrideAck{ID: o3.ID, Revision: 1, State: protocol.AckEnded, At: at})
	bad[1] &^= 0x80
	if _, err := raw.Write(bad[:2]); err != nil { // the header alone: no mask bit
		t.Fatal(err)
	}
	for {
		if _, err := p.next(5 * time.Second); err != nil {
			if err.Error() == "timed out" {
				t.Fatal("the connection stayed open after an unmasked frame")
			}
			break
		}
	}
	servertest.Eventually(t, 5*time.Second, "no session parked", func() bool {
		return metric(t, s, "beacon_player_sessions_parked") == 0
	})
}
