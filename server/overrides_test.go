package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"image/color"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"beacon/protocol"
	"beacon/server"
	"beacon/server/auth"
	"beacon/server/bus"
	"beacon/server/delivery"
	"beacon/server/servertest"
	"beacon/server/store"
)

var withOverride = []string{protocol.CapOverride}

// helloWith is handshakeAs with capabilities in hello.
func (p *rawPlayer) helloWith(caps []string) protocol.Envelope {
	p.t.Helper()
	pub := p.priv.Public().(ed25519.PublicKey)
	p.nonce = make([]byte, protocol.NonceSize)
	_, _ = rand.Read(p.nonce)
	p.send(protocol.TypeHello, protocol.Hello{ProtocolVersion: 1, PublicKey: pub, Nonce: p.nonce, Capabilities: caps})
	var ch protocol.Challenge
	p.expect(protocol.TypeChallenge, &ch)
	p.send(protocol.TypeAuth, protocol.SignAuth(p.priv, ch))
	for {
		frame, err := p.next(5 * time.Second)
		if err != nil {
			p.t.Fatalf("after auth: %v", err)
		}
		env, _ := protocol.Decode(frame)
		if env.Type == protocol.TypePairing || env.Type == protocol.TypeAuthOK {
			return env
		}
	}
}

// pairWith connects a new player announcing caps and claims it with
// token (extra fields go into the claim).
func pairWith(t *testing.T, s *servertest.Server, token string, caps []string, extra map[string]any) (*rawPlayer, string) {
	t.Helper()
	p := dialRaw(t, s, nil)
	env := p.helloWith(caps)
	var pairing protocol.Pairing
	if err := env.DecodeBody(&pairing); err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"code": pairing.Code, "name": "screen", "width": 384, "height": 192}
	for k, v := range extra {
		body[k] = v
	}
	var d struct{ ID string }
	if code := s.DoToken(token, "POST", "/api/v1/displays/claim", body, &d); code != 201 {
		t.Fatalf("claim: %d", code)
	}
	var paired protocol.Paired
	p.expect(protocol.TypePaired, &paired)
	if paired.OrgID == "" {
		t.Fatalf("paired carries no org_id: %+v", paired)
	}
	p.token = paired.Token
	return p, d.ID
}

// expectOverride reads frames until an override arrives and verifies it
// with the server's key.
func expectOverride(t *testing.T, s *servertest.Server, p *rawPlayer) protocol.OverrideSpec {
	t.Helper()
	var so protocol.SignedOverride
	p.expect(protocol.TypeOverride, &so)
	o, err := protocol.VerifyOverride(s.PublicKey(), so)
	if err != nil {
		t.Fatalf("override does not verify with the server's key: %v", err)
	}
	return o
}

// noFrame fails if a frame of type typ arrives within d.
func noFrame(t *testing.T, p *rawPlayer, typ string, d time.Duration) {
	t.Helper()
	if env, ok := frameWithin(p, typ, d); ok {
		t.Fatalf("got an unexpected %s: %s", typ, env.Body)
	}
}

// frameWithin reports the first frame of type typ arriving within d.
func frameWithin(p *rawPlayer, typ string, d time.Duration) (protocol.Envelope, bool) {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return protocol.Envelope{}, false
		}
		frame, err := p.next(left)
		if err != nil {
			return protocol.Envelope{}, false
		}
		if env, _ := protocol.Decode(frame); env.Type == typ {
			return env, true
		}
	}
}

type ovrView struct {
	ID         string         `json:"id"`
	Level      string         `json:"level"`
	Status     string         `json:"status"`
	DisplayIDs []string       `json:"display_ids"`
	Wake       bool           `json:"wake"`
	ExpiresAt  time.Time      `json:"expires_at"`
	CreatedAt  time.Time      `json:"created_at"`
	Deliveries map[string]int `json:"deliveries"`
}

type deliveryRow struct {
	DisplayID string     `json:"display_id"`
	State     string     `json:"state"`
	PaintedAt *time.Time `json:"painted_at"`
	LatencyMS *int64     `json:"latency_ms"`
	Error     string     `json:"error"`
}

func deliveries(t *testing.T, s *servertest.Server, id string) map[string]deliveryRow {
	t.Helper()
	var out struct{ Deliveries []deliveryRow }
	if code := s.Do("GET", "/api/v1/overrides/"+id+"/deliveries", nil, &out); code != 200 {
		t.Fatalf("deliveries: %d", code)
	}
	m := map[string]deliveryRow{}
	for _, d := range out.Deliveries {
		m[d.DisplayID] = d
	}
	return m
}

func waitState(t *testing.T, s *servertest.Server, id, display, state string) deliveryRow {
	t.Helper()
	var d deliveryRow
	servertest.Eventually(t, 10*time.Second, display+" "+state, func() bool {
		d = deliveries(t, s, id)[display]
		return d.State == state
	})
	return d
}

var smallest = map[string]any{"level": "critical", "presentation": "fullscreen",
	"text": map[string]string{"vi": "KHẨN CẤP: lũ lụt", "en": "EMERGENCY: flood"}, "targets": map[string]any{"all": true}, "expires_in_s": 900}

func trigger(t *testing.T, s *servertest.Server, token string, body any) ovrView {
	t.Helper()
	var o ovrView
	var e servertest.APIError
	b, _ := json.Marshal(body)
	if code, raw := doRaw(t, s, token, "POST", "/api/v1/overrides", b, nil); code != 201 {
		_ = json.Unmarshal(raw, &e)
		t.Fatalf("trigger: %d %s", code, e)
	} else if err := json.Unmarshal(raw, &o); err != nil || o.ID == "" {
		t.Fatalf("trigger answer %s: %v", raw, err)
	}
	return o
}

func doRaw(t *testing.T, s *servertest.Server, token, method, path string, body []byte, hdr map[string]string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestOverrideReachesTargetedSessionsOnlyAndAcksShowPainted(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p1, d1 := pairWith(t, s, s.Token, withOverride, nil)
	p2, d2 := pairWith(t, s, s.Token, withOverride, nil)
	_, otherToken := s.NewOrg("Other province")
	p3, _ := pairWith(t, s, otherToken, withOverride, nil)

	// Every display of the organisation, with the smallest call.
	o := trigger(t, s, s.Token, smallest)
	if o.Level != "critical" || !o.Wake || len(o.DisplayIDs) != 2 || o.Status != "active" {
		t.Fatalf("override: %+v", o)
	}
	for _, p := range []*rawPlayer{p1, p2} {
		spec := expectOverride(t, s, p)
		if spec.ID != o.ID || !spec.AllDisplays || spec.Texts["vi"] != "KHẨN CẤP: lũ lụt" || spec.OrgID != s.OrgID || !spec.Wake {
			t.Fatalf("spec: %+v", spec)
		}
	}
	noFrame(t, p3, protocol.TypeOverride, 300*time.Millisecond)

	// Painted on d1: the delivery shows when, and the latency from the trigger.
	painted := time.Now().UTC()
	p1.send(protocol.TypeOverrideAck, protocol.OverrideAck{ID: o.ID, Revision: 1, State: protocol.AckReceived, At: painted})
	p1.send(protocol.TypeOverrideAck, protocol.OverrideAck{ID: o.ID, Revision: 1, State: protocol.AckPainted, At: painted, PaintedAt: painted})
	d := waitState(t, s, o.ID, d1, "painted")
	if d.PaintedAt == nil || !d.PaintedAt.Equal(painted) || d.LatencyMS == nil || *d.LatencyMS < 0 || *d.LatencyMS > 10000 {
		t.Fatalf("painted delivery: %+v", d)
	}
	if got := deliveries(t, s, o.ID)[d2].State; got != "sent" {
		t.Fatalf("d2 state %q, want sent", got)
	}
	// An ack from a display the override does not target changes nothing.
	p3.send(protocol.TypeOverrideAck, protocol.OverrideAck{ID: o.ID, Revision: 1, State: protocol.AckPainted, At: painted, PaintedAt: painted})

	// One display by id: the other gets nothing.
	o2 := trigger(t, s, s.Token, map[string]any{"level": "warning", "presentation": "banner", "position": "top",
		"text": map[string]string{"en": "Road closed"}, "targets": map[string]any{"displays": []string{d2}}})
	spec := expectOverride(t, s, p2)
	if spec.ID != o2.ID || spec.AllDisplays || len(spec.DisplayIDs) != 1 || spec.DisplayIDs[0] != d2 || spec.Wake {
		t.Fatalf("spec: %+v", spec)
	}
	if got := o2.ExpiresAt.Sub(o2.CreatedAt); got < 59*time.Minute || got > 61*time.Minute {
		t.Fatalf("default expiry %s, want 1h", got)
	}
	noFrame(t, p1, protocol.TypeOverride, 300*time.Millisecond)

	var got ovrView
	if code := s.Do("GET", "/api/v1/overrides/"+o.ID, nil, &got); code != 200 || got.Deliveries["painted"] != 1 || got.Deliveries["sent"] != 1 {
		t.Fatalf("get override: %d %+v", code, got)
	}
	var list struct{ Overrides []ovrView }
	if code := s.Do("GET", "/api/v1/overrides?active=true", nil, &list); code != 200 || len(list.Overrides) != 2 || list.Overrides[0].ID != o2.ID {
		t.Fatalf("list: %d %+v", code, list)
	}
	var other struct{ Overrides []ovrView }
	if code := s.DoToken(otherToken, "GET", "/api/v1/overrides", nil, &other); code != 200 || len(other.Overrides) != 0 {
		t.Fatalf("other organisation sees overrides: %+v", other)
	}
	if code := s.DoToken(otherToken, "GET", "/api/v1/overrides/"+o.ID, nil, nil); code != 404 {
		t.Fatalf("other organisation reads an override: %d", code)
	}
}

func TestOverrideCancelIsSignedAndSentToTheSameSessions(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p1, d1 := pairWith(t, s, s.Token, withOverride, nil)
	o := trigger(t, s, s.Token, smallest)
	expectOverride(t, s, p1)
	var c ovrView
	if code := s.Do("POST", "/api/v1/overrides/"+o.ID+"/cancel", nil, &c); code != 200 || c.Status != "cancelled" {
		t.Fatalf("cancel: %d %+v", code, c)
	}
	var oc protocol.OverrideCancel
	p1.expect(protocol.TypeOverrideCancel, &oc)
	if err := protocol.VerifyCancel(s.PublicKey(), s.OrgID, oc); err != nil || oc.ID != o.ID {
		t.Fatalf("cancel: %+v %v", oc, err)
	}
	if code := s.Do("POST", "/api/v1/overrides/"+o.ID+"/cancel", nil, nil); code != 409 {
		t.Fatalf("second cancel: %d", code)
	}
	p1.send(protocol.TypeOverrideAck, protocol.OverrideAck{ID: o.ID, Revision: 1, State: protocol.AckEnded, At: time.Now()})
	waitState(t, s, o.ID, d1, "ended")
	var list struct{ Overrides []ovrView }
	if s.Do("GET", "/api/v1/overrides?active=true", nil, &list); len(list.Overrides) != 0 {
		t.Fatalf("a cancelled override is listed as active: %+v", list)
	}
}

func TestOverrideIdempotencyKeyReturnsTheSameOverride(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p1, _ := pairWith(t, s, s.Token, withOverride, nil)
	b, _ := json.Marshal(smallest)
	hdr := map[string]string{"Idempotency-Key": "flood-2026-11-30"}
	code1, raw1 := doRaw(t, s, s.Token, "POST", "/api/v1/overrides", b, hdr)
	code2, raw2 := doRaw(t, s, s.Token, "POST", "/api/v1/overrides", b, hdr)
	var o1, o2 ovrView
	_ = json.Unmarshal(raw1, &o1)
	_ = json.Unmarshal(raw2, &o2)
	if code1 != 201 || code2 != 201 || o1.ID == "" || o1.ID != o2.ID {
		t.Fatalf("retry: %d %s / %d %s", code1, raw1, code2, raw2)
	}
	expectOverride(t, s, p1)
	noFrame(t, p1, protocol.TypeOverride, 300*time.Millisecond) // sent once
	// Another key is another override.
	_, raw3 := doRaw(t, s, s.Token, "POST", "/api/v1/overrides", b, map[string]string{"Idempotency-Key": "other"})
	var o3 ovrView
	_ = json.Unmarshal(raw3, &o3)
	if o3.ID == "" || o3.ID == o1.ID {
		t.Fatalf("another key: %s", raw3)
	}
}

func TestOverrideRoles(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	pairWith(t, s, s.Token, withOverride, nil)
	tokens := map[string]string{}
	for _, role := range []string{"authority", "editor", "viewer"} {
		var tok struct{ Token string }
		if code := s.Do("POST", "/api/v1/tokens", map[string]string{"name": role, "role": role}, &tok); code != 201 {
			t.Fatalf("create %s token: %d", role, code)
		}
		tokens[role] = tok.Token
	}
	o := trigger(t, s, tokens["authority"], smallest)
	if code := s.DoToken(tokens["authority"], "POST", "/api/v1/overrides/"+o.ID+"/cancel", nil, nil); code != 200 {
		t.Fatalf("authority cancels: %d", code)
	}
	trigger(t, s, s.Token, smallest) // admin
	for _, role := range []string{"editor", "viewer"} {
		var e servertest.APIError
		if code := s.DoToken(tokens[role], "POST", "/api/v1/overrides", smallest, &e); code != 403 || e.Error.Code != "forbidden" {
			t.Fatalf("%s triggers: %d %v", role, code, e)
		}
		if code := s.DoToken(tokens[role], "POST", "/api/v1/overrides/"+o.ID+"/cancel", nil, nil); code != 403 {
			t.Fatalf("%s cancels: %d", role, code)
		}
		if code := s.DoToken(tokens[role], "GET", "/api/v1/overrides", nil, nil); code != 200 {
			t.Fatalf("%s reads overrides: %d", role, code)
		}
	}
	// The authority reads displays and overrides but edits no content.
	for _, path := range []string{"/api/v1/displays", "/api/v1/overrides", "/api/v1/overrides/" + o.ID + "/deliveries"} {
		if code := s.DoToken(tokens["authority"], "GET", path, nil, nil); code != 200 {
			t.Fatalf("authority GET %s: %d", path, code)
		}
	}
	if code := s.DoToken(tokens["authority"], "POST", "/api/v1/playlists", map[string]any{"name": "x"}, nil); code != 403 {
		t.Fatalf("authority edits content: %d", code)
	}
	if code := s.DoToken(tokens["authority"], "POST", "/api/v1/tokens", map[string]string{"name": "x", "role": "admin"}, nil); code != 403 {
		t.Fatalf("authority mints tokens: %d", code)
	}
}

func f64(v float64) *float64 { return &v }

func TestOverrideTargetsResolveToDisplays(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	ctx := context.Background()
	st := s.Store()
	cl, err := st.CreateCluster(ctx, store.Cluster{OrgID: s.OrgID, Name: "Hà Nội", Timezone: "Asia/Ho_Chi_Minh", Hours: "[]", Holidays: "[]"})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name, cluster string, tags []string, lat, lon *float64) string {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		d, err := st.CreateDisplay(ctx, store.Display{OrgID: s.OrgID, Name: name, PublicKey: pub, Width: 384, Height: 192, Fit: "contain",
			Background: "#000000", ClusterID: cluster, Tags: tags, Latitude: lat, Longitude: lon})
		if err != nil {
			t.Fatal(err)
		}
		return d.ID
	}
	hoanKiem := mk("Hoàn Kiếm", cl.ID, nil, f64(21.0285), f64(105.8542)) // Hà Nội centre
	gate := mk("Border gate", "", []string{"border"}, f64(22.8233), f64(104.9836))
	saigon := mk("Bến Thành", "", []string{"south"}, f64(10.7725), f64(106.6980))
	nowhere := mk("No location", "", nil, nil, nil)

	cases := []struct {
		name    string
		targets map[string]any
		want    []string
	}{
		{"all", map[string]any{"all": true}, []string{hoanKiem, gate, saigon, nowhere}},
		{"cluster", map[string]any{"clusters": []string{cl.ID}}, []string{hoanKiem}},
		{"tag", map[string]any{"tags": []string{"border", "nope"}}, []string{gate}},
		{"display", map[string]any{"displays": []string{saigon}}, []string{saigon}},
		{"union", map[string]any{"displays": []string{nowhere}, "tags": []string{"south"}}, []string{saigon, nowhere}},
		// Northern Vietnam as a rough box of [lat, lon] points.
		{"polygon", map[string]any{"area": map[string]any{"polygon": [][2]float64{{20, 103}, {23.5, 103}, {23.5, 107}, {20, 107}}}}, []string{hoanKiem, gate}},
		{"circle", map[string]any{"area": map[string]any{"circle": map[string]any{"lat": 21.03, "lon": 105.85, "radius_km": 25}}}, []string{hoanKiem}},
	}
	for _, c := range cases {
		body := map[string]any{"level": "info", "presentation": "banner", "text": map[string]string{"en": c.name}, "targets": c.targets}
		o := trigger(t, s, s.Token, body)
		got := map[string]bool{}
		for _, id := range o.DisplayIDs {
			got[id] = true
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: got %v, want %v", c.name, o.DisplayIDs, c.want)
			continue
		}
		for _, id := range c.want {
			if !got[id] {
				t.Errorf("%s: got %v, want %v", c.name, o.DisplayIDs, c.want)
			}
		}
		if ds := deliveries(t, s, o.ID); len(ds) != len(c.want) || ds[c.want[0]].State != "offline" {
			t.Errorf("%s: deliveries %+v, want each offline", c.name, ds)
		}
	}
	bad := []map[string]any{
		{"targets": map[string]any{}},
		{"targets": map[string]any{"clusters": []string{"cls_nope"}}},
		{"targets": map[string]any{"displays": []string{"dsp_nope"}}},
		{"targets": map[string]any{"area": map[string]any{"polygon": [][2]float64{{91, 0}, {0, 0}, {0, 1}}}}},
		{"targets": map[string]any{"area": map[string]any{"circle": map[string]any{"lat": 0, "lon": 0, "radius_km": -1}}}},
		{"targets": map[string]any{"all": true}, "expires_in_s": 3 * 86400},
		{"targets": map[string]any{"all": true}, "level": "severe"},
	}
	for _, b := range bad {
		body := map[string]any{"level": "info", "presentation": "banner", "text": map[string]string{"en": "x"}}
		for k, v := range b {
			body[k] = v
		}
		var e servertest.APIError
		if code := s.Do("POST", "/api/v1/overrides", body, &e); code != 400 || e.Error.Message == "" {
			t.Errorf("%v: %d %v, want 400", b, code, e)
		}
	}
	var e servertest.APIError
	if code := s.Do("POST", "/api/v1/overrides", map[string]any{"level": "info", "presentation": "banner", "text": map[string]string{"en": "x"},
		"targets": map[string]any{"area": map[string]any{"circle": map[string]any{"lat": -33, "lon": 151, "radius_km": 5}}}}, &e); code != 422 || e.Error.Code != "no_displays" {
		t.Errorf("an area with no display: %d %v", code, e)
	}
	// Locations on displays: claim and PATCH validate them.
	if code := s.Do("PATCH", "/api/v1/displays/"+nowhere, map[string]any{"latitude": 95, "longitude": 0}, &e); code != 400 {
		t.Errorf("latitude 95: %d", code)
	}
	if code := s.Do("PATCH", "/api/v1/displays/"+nowhere, map[string]any{"latitude": 10}, &e); code != 400 {
		t.Errorf("latitude alone: %d", code)
	}
	var dv struct{ Latitude, Longitude *float64 }
	if code := s.Do("PATCH", "/api/v1/displays/"+nowhere, map[string]any{"latitude": 16.0544, "longitude": 108.2022}, &dv); code != 200 || dv.Latitude == nil || *dv.Longitude != 108.2022 {
		t.Errorf("patch location: %d %+v", code, dv)
	}
}

func TestOverrideOfflineDisplayGetsItWhenItConnects(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p, d1 := pairWith(t, s, s.Token, withOverride, nil)
	priv := p.priv
	p.conn.Close()
	servertest.Eventually(t, 5*time.Second, "display offline", func() bool {
		var d struct{ Online bool }
		s.Do("GET", "/api/v1/displays/"+d1, nil, &d)
		return !d.Online
	})
	o := trigger(t, s, s.Token, smallest)
	if got := deliveries(t, s, o.ID)[d1].State; got != "offline" {
		t.Fatalf("state %q, want offline", got)
	}
	// Back online: auth_ok (with the organisation), then the override.
	p2 := dialRaw(t, s, priv)
	env := p2.helloWith(withOverride)
	var ok protocol.AuthOK
	if err := env.DecodeBody(&ok); err != nil || env.Type != protocol.TypeAuthOK || ok.OrgID != s.OrgID {
		t.Fatalf("auth_ok: %s %+v %v", env.Type, ok, err)
	}
	if spec := expectOverride(t, s, p2); spec.ID != o.ID {
		t.Fatalf("got %s", spec.ID)
	}
	waitState(t, s, o.ID, d1, "sent")

	// A cancel while it is offline reaches it when it is back.
	p2.conn.Close()
	servertest.Eventually(t, 5*time.Second, "display offline", func() bool {
		var d struct{ Online bool }
		s.Do("GET", "/api/v1/displays/"+d1, nil, &d)
		return !d.Online
	})
	if code := s.Do("POST", "/api/v1/overrides/"+o.ID+"/cancel", nil, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	p3 := dialRaw(t, s, priv)
	p3.helloWith(withOverride)
	var oc protocol.OverrideCancel
	p3.expect(protocol.TypeOverrideCancel, &oc)
	if oc.ID != o.ID || protocol.VerifyCancel(s.PublicKey(), s.OrgID, oc) != nil {
		t.Fatalf("cancel on reconnect: %+v", oc)
	}
}

func TestOverrideToAPlayerWithoutTheCapabilityIsUnsupported(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	old, dOld := pairWith(t, s, s.Token, nil, nil)
	_, dNew := pairWith(t, s, s.Token, withOverride, nil)
	o := trigger(t, s, s.Token, smallest)
	if got := deliveries(t, s, o.ID); got[dOld].State != "unsupported" || got[dNew].State != "sent" {
		t.Fatalf("deliveries: %+v", got)
	}
	noFrame(t, old, protocol.TypeOverride, 300*time.Millisecond)
}

func TestOverrideIsNotDelayedByALongContentEdit(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p, _ := pairWith(t, s, s.Token, withOverride, nil)
	release := server.HoldContentLocks(s.Server) // an edit compiling for minutes
	defer release()
	start := time.Now()
	done := make(chan ovrView, 1)
	go func() { done <- trigger(t, s, s.Token, smallest) }()
	spec := expectOverride(t, s, p) // fails after 5 s
	o := <-done
	if spec.ID != o.ID {
		t.Fatalf("got %s, want %s", spec.ID, o.ID)
	}
	t.Logf("override on the player %s after the trigger, with the content locks held", time.Since(start))
}

func TestOverrideUnacknowledgedRaisesTheWebhook(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	calls := 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 { // the first attempt fails: it is retried
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var n map[string]any
		_ = json.NewDecoder(r.Body).Decode(&n)
		got = append(got, n)
	}))
	defer hook.Close()
	s := servertest.Start(t, servertest.Options{OverrideAckTimeout: 2 * time.Second, AlertWebhook: hook.URL})
	p1, d1 := pairWith(t, s, s.Token, withOverride, nil)
	p2, d2 := pairWith(t, s, s.Token, withOverride, nil)
	o := trigger(t, s, s.Token, smallest)
	spec := expectOverride(t, s, p1)
	expectOverride(t, s, p2)
	now := time.Now()
	p1.send(protocol.TypeOverrideAck, protocol.OverrideAck{ID: spec.ID, Revision: 1, State: protocol.AckPainted, At: now, PaintedAt: now})
	servertest.Eventually(t, 15*time.Second, "webhook notification", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1
	})
	mu.Lock()
	n := got[0]
	mu.Unlock()
	ds, _ := n["displays"].([]any)
	if n["event"] != "override_unacknowledged" || n["override_id"] != o.ID || len(ds) != 1 || ds[0].(map[string]any)["display_id"] != d2 {
		t.Fatalf("notification (d1 painted, d2 silent): %+v", n)
	}
	_ = d1
}

// Screens that are legitimately not showing an override do not raise the
// "not acknowledged in time" alarm: one outside its operating hours that
// has the override (received) when the override does not wake screens is
// reported not_due, one that was offline when it was sent stays offline.
// A connected screen that says nothing still raises it.
func TestOverrideAckTimeoutSparesScreensThatAreOffOrOffline(t *testing.T) {
	var mu sync.Mutex
	var got []delivery.Notification
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n delivery.Notification
		_ = json.NewDecoder(r.Body).Decode(&n)
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
	}))
	defer hook.Close()
	s := servertest.Start(t, servertest.Options{OverrideAckTimeout: 2 * time.Second, AlertWebhook: hook.URL})
	// A cluster whose only hours are an hour from now: its screens are off.
	now := time.Now().UTC()
	var cl struct{ ID string }
	if code := s.Do("POST", "/api/v1/clusters", map[string]any{"name": "Closed now", "timezone": "UTC",
		"hours": []map[string]string{{"start": now.Add(time.Hour).Format("15:04"), "end": now.Add(2 * time.Hour).Format("15:04")}}}, &cl); code != 201 {
		t.Fatalf("cluster: %d", code)
	}
	var allDay struct{ ID string }
	if code := s.Do("POST", "/api/v1/clusters", map[string]any{"name": "Open", "timezone": "UTC",
		"hours": []map[string]string{{"start": "00:00", "end": "00:00"}}}, &allDay); code != 201 {
		t.Fatalf("cluster: %d", code)
	}
	offScreen, dOff := pairWith(t, s, s.Token, withOverride, nil)
	gone, dGone := pairWith(t, s, s.Token, withOverride, nil)
	silent, dSilent := pairWith(t, s, s.Token, withOverride, nil)
	openScreen, dOpen := pairWith(t, s, s.Token, withOverride, nil)
	for d, c := range map[string]string{dOff: cl.ID, dGone: allDay.ID, dSilent: allDay.ID, dOpen: allDay.ID} {
		if code := s.Do("PATCH", "/api/v1/displays/"+d, map[string]any{"cluster_id": c}, nil); code != 200 {
			t.Fatalf("cluster of %s: %d", d, code)
		}
	}
	gone.conn.Close()
	servertest.Eventually(t, 10*time.Second, "display offline", func() bool {
		var d struct{ Online bool }
		s.Do("GET", "/api/v1/displays/"+dGone, nil, &d)
		return !d.Online
	})
	body := map[string]any{}
	for k, v := range smallest {
		body[k] = v
	}
	body["level"], body["wake"] = "warning", false
	o := trigger(t, s, s.Token, body)
	if o.Wake {
		t.Fatal("the override wakes screens")
	}
	spec := expectOverride(t, s, offScreen)
	expectOverride(t, s, silent)
	expectOverride(t, s, openScreen)
	at := time.Now().UTC()
	// The screen that is off holds it; an open one that only received it
	// is late all the same.
	offScreen.send(protocol.TypeOverrideAck, protocol.OverrideAck{ID: spec.ID, Revision: spec.Revision, State: protocol.AckReceived, At: at})
	openScreen.send(protocol.TypeOverrideAck, protocol.OverrideAck{ID: spec.ID, Revision: spec.Revision, State: protocol.AckReceived, At: at})
	servertest.Eventually(t, 20*time.Second, "webhook notification", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1
	})
	mu.Lock()
	n := got[0]
	mu.Unlock()
	late := map[string]string{}
	for _, d := range n.Displays {
		late[d.DisplayID] = d.State
	}
	if n.OverrideID != o.ID || len(late) != 2 || late[dSilent] != "sent" || late[dOpen] != "received" {
		t.Fatalf("notification names %v; want only %s (sent) and %s (received)", late, dSilent, dOpen)
	}
	ds := deliveries(t, s, o.ID)
	if ds[dOff].State != "not_due" || ds[dGone].State != "offline" || ds[dSilent].State != "sent" || ds[dOpen].State != "received" {
		t.Fatalf("deliveries: off %q, offline %q, silent %q, open %q", ds[dOff].State, ds[dGone].State, ds[dSilent].State, ds[dOpen].State)
	}
	// When its hours begin the screen paints it: not_due moves on.
	at = time.Now().UTC()
	offScreen.send(protocol.TypeOverrideAck, protocol.OverrideAck{ID: spec.ID, Revision: spec.Revision, State: protocol.AckPainted, At: at, PaintedAt: at})
	waitState(t, s, o.ID, dOff, "painted")
}

func TestOverrideAuditLogAndKillSwitchIncident(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	pairWith(t, s, s.Token, withOverride, nil)
	o := trigger(t, s, s.Token, smallest)
	s.Do("POST", "/api/v1/overrides/"+o.ID+"/cancel", nil, nil)
	k := trigger(t, s, s.Token, map[string]any{"level": "critical", "presentation": "blank", "targets": map[string]any{"all": true}, "expires_in_s": 600})
	s.Do("POST", "/api/v1/overrides", map[string]any{"level": "critical", "presentation": "fullscreen", "targets": map[string]any{"all": true}, "expires_in_s": 600}, nil) // no text: refused

	var log struct {
		Entries []struct {
			Actor      string `json:"actor"`
			RemoteAddr string `json:"remote_addr"`
			Action     string `json:"action"`
			Subject    string `json:"subject"`
			Details    string `json:"details"`
		} `json:"entries"`
	}
	if code := s.Do("GET", "/api/v1/audit", nil, &log); code != 200 {
		t.Fatalf("audit: %d", code)
	}
	actions := map[string]string{}
	for _, e := range log.Entries {
		if e.Actor == "" || e.RemoteAddr != "127.0.0.1" {
			t.Fatalf("entry without who or where: %+v", e)
		}
		actions[e.Action] = e.Subject
	}
	if _, ok := actions[store.AuditOverrideTrigger]; !ok {
		t.Fatalf("audit actions: %+v", actions)
	}
	if _, ok := actions[store.AuditOverrideRefused]; !ok || actions[store.AuditKillSwitch] != k.ID || actions[store.AuditOverrideCancel] != o.ID {
		t.Fatalf("audit actions: %+v", actions)
	}
	var inc struct {
		Incidents []struct{ Kind, Message string }
	}
	s.Do("GET", "/api/v1/incidents", nil, &inc)
	if len(inc.Incidents) != 1 || inc.Incidents[0].Kind != "kill_switch" || !strings.Contains(inc.Incidents[0].Message, k.ID) {
		t.Fatalf("incidents: %+v", inc)
	}
}

func TestOverrideExpiryEndsDeliveries(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p, d1 := pairWith(t, s, s.Token, withOverride, nil)
	body := map[string]any{"level": "info", "presentation": "banner", "text": map[string]string{"en": "short"}, "targets": map[string]any{"all": true}, "expires_in_s": 1}
	o := trigger(t, s, s.Token, body)
	expectOverride(t, s, p)
	waitState(t, s, o.ID, d1, "ended")
	var v ovrView
	if s.Do("GET", "/api/v1/overrides/"+o.ID, nil, &v); v.Status != "expired" {
		t.Fatalf("status %q", v.Status)
	}
}

func TestHeartbeatsAreWrittenInBatches(t *testing.T) {
	s := servertest.Start(t, servertest.Options{StatusFlush: time.Hour})
	p, d1 := pairWith(t, s, s.Token, withOverride, nil)
	for i := 0; i < 20; i++ {
		p.send(protocol.TypeHeartbeat, protocol.Heartbeat{State: protocol.StatePlaying, PlayerTime: time.Now()})
	}
	// The session has them all (the API shows the live state)...
	servertest.Eventually(t, 10*time.Second, "live state playing", func() bool {
		var v struct{ State string }
		s.Do("GET", "/api/v1/displays/"+d1, nil, &v)
		return v.State == protocol.StatePlaying
	})
	// ...but none was written to the store yet.
	d, err := s.Store().DisplayByID(context.Background(), d1)
	if err != nil {
		t.Fatal(err)
	}
	if d.State == protocol.StatePlaying {
		t.Fatalf("a heartbeat was written at once, not batched")
	}
	s.Stop() // flushes
	st, err := store.Open(context.Background(), s.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, _ = st.DisplayByID(context.Background(), d1)
	if d.State != protocol.StatePlaying || d.LastSeenAt.IsZero() {
		t.Fatalf("after shutdown: state %q last seen %v", d.State, d.LastSeenAt)
	}
}

// Two servers on one bus and one data directory: an override triggered
// on one reaches a player connected to the other by the doorbell, and its
// ack is seen from the first. Against the real Redis when it answers on
// 127.0.0.1:6379 (BEACON_TEST_REDIS_URL), else the in-process bus.
func TestOverrideDoorbellReachesAnotherServer(t *testing.T) {
	busA, busB := twoBuses(t)
	dir := t.TempDir()
	a := servertest.Start(t, servertest.Options{DataDir: dir, Bus: busA})
	b := servertest.Start(t, servertest.Options{DataDir: dir, Bus: busB})
	for _, s := range []*servertest.Server{a, b} {
		select {
		case <-s.DeliveryReady():
		case <-time.After(10 * time.Second):
			t.Fatal("bus not ready")
		}
	}
	pb, db := pairWith(t, b, b.Token, withOverride, nil)
	if a.OrgID != b.OrgID {
		t.Fatalf("servers in different organisations")
	}
	o := trigger(t, a, a.Token, smallest)
	spec := expectOverride(t, b, pb)
	if spec.ID != o.ID {
		t.Fatalf("got %s", spec.ID)
	}
	now := time.Now()
	pb.send(protocol.TypeOverrideAck, protocol.OverrideAck{ID: o.ID, Revision: 1, State: protocol.AckPainted, At: now, PaintedAt: now})
	waitState(t, a, o.ID, db, "painted")
	if code := a.Do("POST", "/api/v1/overrides/"+o.ID+"/cancel", nil, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	var oc protocol.OverrideCancel
	pb.expect(protocol.TypeOverrideCancel, &oc)
}

func twoBuses(t *testing.T) (bus.Bus, bus.Bus) {
	url := os.Getenv("BEACON_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	prefix := "beacon-test-" + protocol.NewID() + ":"
	ra, err := bus.NewRedis(url, bus.WithPrefix(prefix))
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = ra.Ping(ctx)
		cancel()
		if err == nil {
			rb, err := bus.NewRedis(url, bus.WithPrefix(prefix))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ra.Close(); rb.Close() })
			t.Log("two servers on the real Redis bus at", url)
			return ra, rb
		}
		ra.Close()
	}
	t.Logf("Redis unreachable (%v): two servers on the in-process bus", err)
	l := bus.NewLocal()
	pb := l.Peer()
	t.Cleanup(func() { l.Close(); pb.Close() })
	return l, pb
}

// A doorbell lost while a server's Redis connection was down: when the
// connection comes back (Ready), the server re-reads the live overrides
// from the store and sends its players what they missed.
func TestOverrideResyncWhenTheBusReconnects(t *testing.T) {
	url := os.Getenv("BEACON_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	admin := redis.NewClient(opt)
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := admin.Ping(ctx).Err(); err != nil {
		t.Skipf("Redis unreachable at %s: %v", url, err)
	}
	origin := "resync-" + protocol.NewID()
	rb, err := bus.NewRedis(url, bus.WithPrefix("beacon-test-"+protocol.NewID()+":"), bus.WithOrigin(origin))
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	s := servertest.Start(t, servertest.Options{Bus: rb})
	<-s.DeliveryReady()
	p, d1 := pairWith(t, s, s.Token, withOverride, nil)

	// Another server stored an override; its doorbell never came.
	key, err := auth.LoadOrCreateSigningKey(filepath.Join(s.DataDir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	// A resync of the server's own (a bus health check that timed out on
	// a loaded machine reconnects and resynchronises) may deliver the
	// stored override before the test cuts the bus: then the precondition
	// did not hold, and the test tries again with another override.
	var spec protocol.OverrideSpec
	for attempt := 1; ; attempt++ {
		now := time.Now().UTC()
		spec = protocol.OverrideSpec{ID: store.NewID("ovr"), Revision: 1, Level: protocol.LevelCritical, Presentation: protocol.PresentFullscreen,
			Texts: map[string]string{"en": "missed"}, StartsAt: now, ExpiresAt: now.Add(time.Hour), IssuedAt: now, OrgID: s.OrgID, AllDisplays: true}
		signed, err := protocol.SignOverride(key, spec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Store().CreateOverride(context.Background(), store.Override{ID: spec.ID, OrgID: s.OrgID, Level: spec.Level, Presentation: spec.Presentation,
			Texts: spec.Texts, Targets: store.Targets{All: true}, AllDisplays: true, DisplayIDs: []string{d1}, StartsAt: now, ExpiresAt: spec.ExpiresAt,
			CreatedBy: "test", CreatedAt: now, Revision: 1, Payload: signed.Payload, Signature: signed.Signature}, store.DeliveryPending); err != nil {
			t.Fatal(err)
		}
		env, early := frameWithin(p, protocol.TypeOverride, 200*time.Millisecond)
		if !early {
			break
		}
		if attempt == 3 {
			t.Fatalf("the stored override reached the player before the bus was cut, %d times: %s", attempt, env.Body)
		}
		t.Logf("attempt %d: the server resynchronised on its own before the bus was cut; again", attempt)
	}

	list, err := admin.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		f := map[string]string{}
		for _, kv := range strings.Fields(line) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				f[k] = v
			}
		}
		if f["name"] == "beacon-bus-"+origin && strings.Contains(f["flags"], "P") {
			if err := admin.Do(context.Background(), "CLIENT", "KILL", "ID", f["id"]).Err(); err != nil {
				t.Fatal(err)
			}
			killed++
		}
	}
	if killed != 1 {
		t.Fatalf("killed %d subscriber connections, want 1", killed)
	}
	// Overrides of earlier attempts (delivered, never acknowledged by this
	// raw player) may come again first.
	for i := 0; ; i++ {
		got := expectOverride(t, s, p)
		if got.ID == spec.ID {
			break
		}
		if i == 3 {
			t.Fatalf("got %s after the resync, want %s", got.ID, spec.ID)
		}
	}
	waitState(t, s, spec.ID, d1, "sent")
}

func TestOverrideDeliveryProgressOnTheEventStream(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p, d1 := pairWith(t, s, s.Token, withOverride, nil)
	req, _ := http.NewRequest("GET", s.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	<-lines // the stream is open
	o := trigger(t, s, s.Token, smallest)
	expectOverride(t, s, p)
	now := time.Now()
	p.send(protocol.TypeOverrideAck, protocol.OverrideAck{ID: o.ID, Revision: 1, State: protocol.AckPainted, At: now, PaintedAt: now})
	seen := map[string]bool{}
	deadline := time.After(10 * time.Second)
	for !(seen["sent"] && seen["painted"]) {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("event stream ended")
			}
			if data, ok := strings.CutPrefix(l, "data: "); ok {
				var ev struct {
					OverrideID string `json:"override_id"`
					DisplayID  string `json:"display_id"`
					State      string `json:"state"`
					LatencyMS  *int64 `json:"latency_ms"`
				}
				if json.Unmarshal([]byte(data), &ev) == nil && ev.OverrideID == o.ID && ev.DisplayID == d1 {
					if ev.State == "painted" && ev.LatencyMS == nil {
						t.Fatalf("painted event without latency: %s", data)
					}
					seen[ev.State] = true
				}
			}
		case <-deadline:
			t.Fatalf("events seen: %v", seen)
		}
	}
}

// Many sessions at once (bounded: 200 on loopback): every one gets the
// override; the spread from the trigger is logged.
func TestOverrideFanOutToManySessions(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const n = 200
	s := servertest.Start(t, servertest.Options{})
	ctx := context.Background()
	ps := make([]*rawPlayer, n)
	for i := range ps {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		if _, err := s.Store().CreateDisplay(ctx, store.Display{OrgID: s.OrgID, Name: "d", PublicKey: pub, Width: 384, Height: 192, Fit: "contain", Background: "#000000"}); err != nil {
			t.Fatal(err)
		}
		ps[i] = dialRaw(t, s, priv)
		if env := ps[i].helloWith(withOverride); env.Type != protocol.TypeAuthOK {
			t.Fatalf("player %d: %s", i, env.Type)
		}
	}
	start := time.Now()
	got := make(chan time.Duration, n)
	for _, p := range ps {
		go func(p *rawPlayer) {
			for {
				frame, err := p.next(10 * time.Second)
				if err != nil {
					got <- -1
					return
				}
				if env, _ := protocol.Decode(frame); env.Type == protocol.TypeOverride {
					got <- time.Since(start)
					return
				}
			}
		}(p)
	}
	o := trigger(t, s, s.Token, smallest)
	answered := time.Since(start)
	var lat []time.Duration
	for range ps {
		d := <-got
		if d < 0 {
			t.Fatal("a session did not get the override within 10 s")
		}
		lat = append(lat, d)
	}
	slices.Sort(lat)
	t.Logf("override to %d sessions: first %s, p50 %s, p99 %s, last %s; API answered after %s",
		n, lat[0], lat[n/2], lat[n*99/100], lat[n-1], answered)
	// The broadcast wrote to the idle sessions itself; any other frame
	// went through the session's writer. Every frame is counted once.
	direct, queued := broadcastFrames(t, s)
	if direct+queued != n || direct < n/2 {
		t.Fatalf("broadcast frames: %d direct, %d queued; want %d in all, most direct", direct, queued, n)
	}
	ds := deliveries(t, s, o.ID)
	for id, d := range ds {
		if d.State != "sent" {
			t.Fatalf("%s: %s", id, d.State)
		}
	}
	if len(ds) != 100 { // the first page
		t.Fatalf("%d deliveries on the first page", len(ds))
	}
	// Paged through: every display once, in display order, then no cursor.
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > n {
			t.Fatal("the pages do not end")
		}
		var page struct {
			Deliveries []deliveryRow `json:"deliveries"`
			Next       string        `json:"next_cursor"`
		}
		path := "/api/v1/overrides/" + o.ID + "/deliveries?limit=64"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		if code := s.Do("GET", path, nil, &page); code != 200 {
			t.Fatalf("deliveries page %d: %d", pages, code)
		}
		if len(page.Deliveries) > 64 {
			t.Fatalf("page %d holds %d deliveries; the limit is 64", pages, len(page.Deliveries))
		}
		for _, d := range page.Deliveries {
			seen = append(seen, d.DisplayID)
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if len(seen) != n || !slices.IsSorted(seen) || len(slices.Compact(slices.Clone(seen))) != n {
		t.Fatalf("paging gave %d deliveries (sorted %v), want each of %d displays once in order", len(seen), slices.IsSorted(seen), n)
	}
}

func TestOverrideWithMediaAndALaterStart(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p, _ := pairWith(t, s, s.Token, withOverride, nil)
	var m servertest.Media
	if code := s.Upload("evacuation-map.jpg", testJPEG(t, 64, 48, color.RGBA{R: 200, A: 255}), &m); code != 201 && code != 200 {
		t.Fatalf("upload: %d", code)
	}
	servertest.Eventually(t, 20*time.Second, "media ready with its rendition", func() bool {
		s.Do("GET", "/api/v1/media/"+m.ID, nil, &m)
		return m.Status == "ready" && len(m.Renditions) > 0
	})
	starts := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	o := trigger(t, s, s.Token, map[string]any{"level": "warning", "presentation": "fullscreen", "media": []string{m.ID},
		"targets": map[string]any{"all": true}, "starts_at": starts, "expires_in_s": 600})
	if o.Status != "scheduled" || !o.ExpiresAt.Equal(starts.Add(10*time.Minute)) {
		t.Fatalf("override: %+v", o)
	}
	spec := expectOverride(t, s, p) // sent now, shown at starts_at
	r := m.Renditions[0]            // one display: one panel size
	if len(spec.Media) != 1 || spec.Media[0].SHA256 != r.SHA256 || spec.Media[0].URL != "/player/v1/files/"+r.SHA256 || !spec.StartsAt.Equal(starts) {
		t.Fatalf("spec: %+v, rendition %+v", spec, r)
	}
	// The display can fetch it with its session token.
	req, _ := http.NewRequest("GET", s.URL+spec.Media[0].URL, nil)
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != spec.Media[0].Size {
		t.Fatalf("download %s: %d, %d bytes", spec.Media[0].URL, resp.StatusCode, resp.ContentLength)
	}
	var e servertest.APIError
	if code := s.Do("POST", "/api/v1/overrides", map[string]any{"level": "info", "presentation": "fullscreen", "media": []string{"med_nope"},
		"targets": map[string]any{"all": true}}, &e); code != 400 || !strings.Contains(e.Error.Message, "med_nope") {
		t.Fatalf("unknown media: %d %v", code, e)
	}
	if code := s.Do("GET", "/api/v1/overrides/ovr_nope/deliveries", nil, &e); code != 404 || e.Error.Message != "no such override: ovr_nope" {
		t.Fatalf("unknown override: %d %v", code, e)
	}
}

func TestOverrideRefusedAckKeepsTheReasonAndStatesOnlyMoveForward(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	p1, d1 := pairWith(t, s, s.Token, withOverride, nil)
	p2, d2 := pairWith(t, s, s.Token, withOverride, nil)
	o := trigger(t, s, s.Token, smallest)
	expectOverride(t, s, p1)
	expectOverride(t, s, p2)
	now := time.Now().UTC()
	p1.send(protocol.TypeOverrideAck, protocol.OverrideAck{ID: o.ID, Revision: 1, State: protocol.AckRefused, At: now, Error: "renderer not connected"})
	if d := waitState(t, s, o.ID, d1, "refused"); d.Error != "renderer not connected" {
		t.Fatalf("refused: %+v", d)
	}
	p2.send(protocol.TypeOverrideAck, protocol.OverrideAck{ID: o.ID, Revision: 1, State: protocol.AckPainted, At: now, PaintedAt: now})
	waitState(t, s, o.ID, d2, "painted")
	// A late "received" does not move it back; a malformed ack is refused.
	p2.send(protocol.TypeOverrideAck, protocol.OverrideAck{ID: o.ID, Revision: 1, State: protocol.AckReceived, At: now})
	p2.send(protocol.TypeOverrideAck, protocol.OverrideAck{ID: o.ID, Revision: 1, State: protocol.AckPainted, At: now}) // no painted_at
	var e protocol.ErrorBody
	p2.expect(protocol.TypeError, &e)
	if e.Code != protocol.CodeMalformed {
		t.Fatalf("malformed ack: %+v", e)
	}
	if d := deliveries(t, s, o.ID)[d2]; d.State != "painted" {
		t.Fatalf("after a late received: %+v", d)
	}
}

// Concurrent retries of a trigger with one Idempotency-Key: one override,
// sent once, and every answer (201) comes once every targeted display's
// delivery is stored (the deliveries are written after the frames leave).
func TestOverrideConcurrentRetriesAnswerAfterTheDeliveries(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const n = 1000
	s := servertest.Start(t, servertest.Options{})
	ctx := context.Background()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := s.Store().CreateDisplay(ctx, store.Display{OrgID: s.OrgID, Name: "on", PublicKey: pub, Width: 384, Height: 192, Fit: "contain", Background: "#000000"}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < n; i++ {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		if _, err := s.Store().CreateDisplay(ctx, store.Display{OrgID: s.OrgID, Name: "off", PublicKey: pub, Width: 384, Height: 192, Fit: "contain", Background: "#000000"}); err != nil {
			t.Fatal(err)
		}
	}
	p := dialRaw(t, s, priv)
	if env := p.helloWith(withOverride); env.Type != protocol.TypeAuthOK {
		t.Fatalf("player: %s", env.Type)
	}
	b, _ := json.Marshal(smallest)
	hdr := map[string]string{"Idempotency-Key": "flood-concurrent"}
	type answer struct {
		id     string
		stored int
		err    string
	}
	answers := make(chan answer, 8)
	for range cap(answers) {
		go func() {
			code, raw := doRaw(t, s, s.Token, "POST", "/api/v1/overrides", b, hdr)
			var o ovrView
			if err := json.Unmarshal(raw, &o); code != 201 || err != nil {
				answers <- answer{err: string(raw)}
				return
			}
			var got ovrView
			if code := s.Do("GET", "/api/v1/overrides/"+o.ID, nil, &got); code != 200 {
				answers <- answer{err: "GET: " + o.ID}
				return
			}
			sum := 0
			for _, c := range got.Deliveries {
				sum += c
			}
			answers <- answer{id: o.ID, stored: sum}
		}()
	}
	var id string
	for range cap(answers) {
		a := <-answers
		if a.err != "" {
			t.Fatal(a.err)
		}
		if id != "" && a.id != id {
			t.Fatalf("two overrides for one key: %s and %s", id, a.id)
		}
		id = a.id
		if a.stored != n {
			t.Errorf("answered with %d deliveries stored, want %d", a.stored, n)
		}
	}
	expectOverride(t, s, p)
	noFrame(t, p, protocol.TypeOverride, 300*time.Millisecond) // sent once
	var got ovrView
	if code := s.Do("GET", "/api/v1/overrides/"+id, nil, &got); code != 200 || got.Deliveries["sent"] != 1 || got.Deliveries["offline"] != n-1 {
		t.Errorf("deliveries: %d %v", code, got.Deliveries)
	}
}

// broadcastFrames reads the server's counts of broadcast frames by path.
func broadcastFrames(t *testing.T, s *servertest.Server) (direct, queued int) {
	t.Helper()
	return int(metric(t, s, `beacon_broadcast_frames_total{path="direct"}`)), int(metric(t, s, `beacon_broadcast_frames_total{path="queued"}`))
}
