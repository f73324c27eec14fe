package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"beacon/protocol"
)

// The simulated players' override_ack, written without encoding/json, is
// what protocol.Encode writes for the same ack: the real decoder reads
// every field back, the server's one-pass decoder (which wants the type
// first) takes it, and it is the same JSON as protocol.Encode's but for
// the message id and timestamp.
func TestFanoutAckEncoding(t *testing.T) {
	at := time.Date(2026, 3, 2, 8, 11, 40, 180_000_000, time.UTC)
	ts := at.Add(1234567 * time.Nanosecond)
	for _, ack := range []protocol.OverrideAck{
		{ID: "ovr_flood1", Revision: 1, State: protocol.AckReceived, At: at},
		{ID: "ovr_flood1", Revision: 7, State: protocol.AckPainted, At: at, PaintedAt: at.Add(-time.Second)},
		{ID: `ovr_"odd"<&>\é` + "\n", Revision: 0, State: protocol.AckRefused, At: at, Error: "not \"ours\"\t<b>"},
	} {
		frame := appendOverrideAck([]byte("junk"), 0x0123456789abcdef, ts, ack)[len("junk"):]
		env, err := protocol.Decode(frame)
		if err != nil {
			t.Fatalf("%s: %v", frame, err)
		}
		if env.Type != protocol.TypeOverrideAck || env.ID != "0123456789abcdef" || !env.TS.Equal(ts) {
			t.Fatalf("envelope %+v from %s", env, frame)
		}
		var got protocol.OverrideAck
		if err := env.DecodeBody(&got); err != nil {
			t.Fatalf("%s: %v", frame, err)
		}
		if got.ID != ack.ID || got.Revision != ack.Revision || got.State != ack.State || !got.At.Equal(ack.At) ||
			!got.PaintedAt.Equal(ack.PaintedAt) || got.Error != ack.Error {
			t.Fatalf("decoded %+v, want %+v", got, ack)
		}
		if !bytes.HasPrefix(frame, []byte(`{"type":"override_ack","id":"`)) {
			t.Fatalf("%s does not begin as protocol.Encode writes it", frame)
		}
		want, err := protocol.Marshal(protocol.Envelope{Type: protocol.TypeOverrideAck, ID: env.ID, TS: ts, Body: mustJSON(t, ack)})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(frame, want) {
			t.Fatalf("wrote\n%s\nprotocol.Encode writes\n%s", frame, want)
		}
	}
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Client frames written by hand (masked, every length form of RFC 6455
// §5.2, several in one write) read back by gorilla as a server reads them.
func TestFanoutClientFrames(t *testing.T) {
	sizes := []int{0, 1, 7, 125, 126, 127, 1000, 65535, 65536, 70001}
	got := make(chan []byte, len(sizes))
	srv := wsTestServer(t, func(c *websocket.Conn) {
		for range sizes {
			typ, b, err := c.ReadMessage()
			if err != nil || typ != websocket.TextMessage {
				t.Errorf("read: type %d, %v", typ, err)
				close(got)
				return
			}
			got <- b
		}
	})
	c := wsTestDial(t, srv)
	var out []byte
	for i, n := range sizes {
		p := bytes.Repeat([]byte{byte('a' + i)}, n)
		out = appendClientTextFrame(out, p, fanoutMask())
	}
	if _, err := c.NetConn().Write(out); err != nil {
		t.Fatal(err)
	}
	for i, n := range sizes {
		b, ok := <-got
		if !ok {
			t.FailNow()
		}
		if !bytes.Equal(b, bytes.Repeat([]byte{byte('a' + i)}, n)) {
			t.Fatalf("frame %d: %d bytes back, want %d of %q", i, len(b), n, rune('a'+i))
		}
	}
}

// A simulated player against a gorilla server: it answers a ping, acks
// each copy of an override (received, then painted, each its own
// override_ack) and reports it, refuses a forged one, and its acks still
// go out after the ping's pong left a write deadline behind. With
// verify-each nothing is remembered.
func TestFanoutClientAnswersOverrides(t *testing.T) {
	for _, each := range []bool{false, true} {
		pub, good, bad := overrideFrames(t)
		type ackRead struct {
			env protocol.Envelope
			ack protocol.OverrideAck
			err error
		}
		acks := make(chan ackRead, 8)
		pongs := make(chan struct{}, 8)
		srv := wsTestServer(t, func(c *websocket.Conn) {
			c.SetPongHandler(func(string) error { pongs <- struct{}{}; return nil })
			send := func(typ int, b []byte) {
				if err := c.WriteMessage(typ, b); err != nil {
					t.Error(err)
				}
			}
			if err := c.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second)); err != nil {
				t.Error(err)
			}
			time.Sleep(1200 * time.Millisecond) // past the pong's write deadline
			hb, _ := protocol.Encode(protocol.TypeAck, protocol.Ack{Ref: "x"})
			send(websocket.TextMessage, hb) // not an override: ignored
			send(websocket.TextMessage, good)
			send(websocket.TextMessage, good)
			send(websocket.TextMessage, bad)
			send(websocket.TextMessage, good)
			for {
				typ, b, err := c.ReadMessage()
				if err != nil {
					return
				}
				var r ackRead
				if typ != websocket.TextMessage {
					r.err = errors.New("binary frame")
				} else if r.env, r.err = protocol.Decode(b); r.err == nil {
					r.err = r.env.DecodeBody(&r.ack)
				}
				acks <- r
			}
		})
		c := wsTestDial(t, srv)
		var lines bytes.Buffer
		out := &lineWriter{w: bufio.NewWriter(&syncWriter{w: &lines})}
		memo := &frameMemo{each: each}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			fanoutRead(ctx, 0, c, &verifier{key: pub, each: each, seen: map[string]verified{}}, memo, out)
			close(done)
		}()
		ids := map[string]bool{}
		for n := range 6 {
			var r ackRead
			select {
			case r = <-acks:
			case <-time.After(30 * time.Second):
				t.Fatalf("verify-each %v: %d acks read, want 6", each, n)
			}
			want := protocol.AckReceived
			if n%2 == 1 {
				want = protocol.AckPainted
			}
			if r.err != nil || r.env.Type != protocol.TypeOverrideAck || r.ack.ID != "ovr_test" || r.ack.Revision != 1 || r.ack.State != want ||
				r.ack.At.IsZero() || (want == protocol.AckPainted) != !r.ack.PaintedAt.IsZero() || time.Since(r.env.TS) > time.Minute {
				t.Fatalf("ack %d: %+v %+v %v, want %s", n, r.env, r.ack, r.err, want)
			}
			if ids[r.env.ID] || !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(r.env.ID) {
				t.Fatalf("message id %q (ids so far %v)", r.env.ID, ids)
			}
			ids[r.env.ID] = true
		}
		select {
		case <-pongs:
		default:
			t.Fatal("the ping was not answered")
		}
		out.flush()
		recv := regexp.MustCompile(`(?m)^recv ovr_test [0-9]{19}$`).FindAllString(lines.String(), -1)
		if len(recv) != 3 || strings.Count(lines.String(), "\nbad ") != 1 || strings.Count(lines.String(), "\n") != 4 {
			t.Fatalf("verify-each %v: report\n%s", each, lines.String())
		}
		if m := memo.m.Load(); each != (m == nil) || (m != nil && len(*m) != 2) {
			t.Fatalf("verify-each %v: the memo holds %v", each, m)
		}
		cancel()
		c.Close()
		<-done
		select {
		case r := <-acks:
			t.Fatalf("an ack more: %+v", r)
		default:
		}
	}
}

// wsTestServer is a gorilla WebSocket server on 127.0.0.1 that hands each
// connection to serve.
// overrideFrames returns a server key, an override frame it signed and a
// forged one (signed by another key under the same key id).
func overrideFrames(t *testing.T) (pub ed25519.PublicKey, good, bad []byte) {
	t.Helper()
	pub, priv := testKeys(t)
	_, other := testKeys(t)
	so := signedTestOverride(t, priv)
	good, err := protocol.Encode(protocol.TypeOverride, so)
	if err != nil {
		t.Fatal(err)
	}
	forged := signedTestOverride(t, other)
	forged.KeyID = so.KeyID
	if bad, err = protocol.Encode(protocol.TypeOverride, forged); err != nil {
		t.Fatal(err)
	}
	return pub, good, bad
}

func wsTestServer(t *testing.T, serve func(c *websocket.Conn)) *httptest.Server {
	t.Helper()
	up := websocket.Upgrader{Subprotocols: []string{protocol.Subprotocol}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		serve(c)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func wsTestDial(t *testing.T, srv *httptest.Server) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{protocol.Subprotocol}, HandshakeTimeout: 10 * time.Second}
	c, _, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+protocol.WSPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
