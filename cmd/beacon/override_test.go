package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"beacon/server/servertest"
	"beacon/server/store"
)

func TestOverrideCommandsUseTheAPI(t *testing.T) {
	dir := t.TempDir()
	out0, _ := mustBeacon(t, "token", "create", "--data", dir, "--name", "police", "--role", "authority", "--org-name", "Tỉnh Lào Cai")
	var tok struct{ Token string }
	tok.Token = strings.TrimSpace(out0)
	s := servertest.Start(t, servertest.Options{DataDir: dir})
	// No display yet: the server's refusal is the command's error.
	var out, errb bytes.Buffer
	base := []string{"--server", s.URL, "--token", tok.Token}
	err := run(append(append([]string{"override", "send"}, base...), "--all", "--text", "vi=KHẨN CẤP", "--text", "en=EMERGENCY", "--expires", "15m"), &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "no_displays") {
		t.Fatalf("send with no display: %v", err)
	}
	// One display (offline), then send, list, deliveries, cancel.
	if _, err := s.Store().CreateDisplay(t.Context(), testDisplay(s.OrgID)); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(append(append([]string{"override", "send"}, base...), "--all", "--text", "vi=KHẨN CẤP", "--expires", "15m", "--idempotency-key", "k1"), &out, &errb); err != nil {
		t.Fatalf("send: %v", err)
	}
	var o struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(out.Bytes(), &o); err != nil || o.ID == "" || o.Status != "active" {
		t.Fatalf("send printed %s (%v)", out.Bytes(), err)
	}
	out.Reset()
	if err := run(append(append([]string{"override", "list"}, base...), "--active"), &out, &errb); err != nil || !strings.Contains(out.String(), o.ID) {
		t.Fatalf("list: %v %s", err, out.Bytes())
	}
	out.Reset()
	if err := run(append(append([]string{"override", "list"}, base...), "--deliveries", o.ID), &out, &errb); err != nil || !strings.Contains(out.String(), `"offline"`) {
		t.Fatalf("deliveries: %v %s", err, out.Bytes())
	}
	out.Reset()
	if err := run(append(append([]string{"override", "cancel"}, base...), o.ID), &out, &errb); err != nil || !strings.Contains(out.String(), `"cancelled"`) {
		t.Fatalf("cancel: %v %s", err, out.Bytes())
	}
	if err := run(append([]string{"override", "cancel", "--server", s.URL, "--token", "bkn_wrong"}, o.ID), &out, &errb); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("bad token: %v", err)
	}
}

func testDisplay(orgID string) store.Display {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	return store.Display{OrgID: orgID, Name: "Gate", PublicKey: pub, Width: 384, Height: 192, Fit: "contain", Background: "#000000"}
}
