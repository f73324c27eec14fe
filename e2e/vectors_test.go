package e2e_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"beacon/protocol"
	"beacon/server/servertest"
)

// TestServerNegativeVectors sends each negative vector a server receives
// (protocol/testdata/negative, receiver "server") to the real server as
// the first frame of a connection, and checks it answers the error the
// vector names and closes with its close code.
func TestServerNegativeVectors(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	files, _ := filepath.Glob(filepath.Join("..", "protocol", "testdata", "negative", "*.json"))
	n := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Context struct {
				Receiver string `json:"receiver"`
			} `json:"context"`
			Frame  json.RawMessage `json:"frame"`
			Expect struct {
				Error protocol.ErrorBody `json:"error"`
				Close int                `json:"close"`
			} `json:"expect"`
		}
		if err := json.Unmarshal(raw, &v); err != nil || v.Context.Receiver != "server" {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			d := websocket.Dialer{Subprotocols: []string{protocol.Subprotocol}, HandshakeTimeout: 5 * time.Second}
			c, _, err := d.Dial("ws://"+srv.Addr+protocol.WSPath, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.WriteMessage(websocket.TextMessage, v.Frame); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, msg, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			env, err := protocol.Decode(msg)
			if err != nil || env.Type != protocol.TypeError {
				t.Fatalf("answer %s (%v), want an error", msg, err)
			}
			var eb protocol.ErrorBody
			if err := env.DecodeBody(&eb); err != nil {
				t.Fatal(err)
			}
			if eb.Code != v.Expect.Error.Code || eb.Ref != v.Expect.Error.Ref {
				t.Errorf("error %s ref %q, vector expects %s ref %q", eb.Code, eb.Ref, v.Expect.Error.Code, v.Expect.Error.Ref)
			}
			if v.Expect.Close != 0 {
				_, _, err := c.ReadMessage()
				var ce *websocket.CloseError
				if !errors.As(err, &ce) || ce.Code != v.Expect.Close {
					t.Errorf("closed with %v, vector expects close code %d", err, v.Expect.Close)
				}
			}
		})
	}
	if n == 0 {
		t.Fatal("no server-side negative vectors")
	}
}
