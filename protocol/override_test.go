package protocol

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"
)

func testOverride(now time.Time) OverrideSpec {
	return OverrideSpec{
		ID: "ovr_1", Revision: 1, Level: LevelCritical, Presentation: PresentFullscreen,
		Texts:    map[string]string{"vi": "KHẨN CẤP: lũ quét, hãy di chuyển lên cao", "en": "EMERGENCY: flash flood, move to high ground"},
		StartsAt: now, ExpiresAt: now.Add(15 * time.Minute), Wake: true, IssuedAt: now,
		OrgID: "org_a", AllDisplays: true,
	}
}

func TestOverrideSignVerify(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	_, other, _ := ed25519.GenerateKey(nil)
	pub := priv.Public().(ed25519.PublicKey)
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	o := testOverride(now)
	s, err := SignOverride(priv, o)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyOverride(pub, s)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != o.ID || got.Texts["vi"] != o.Texts["vi"] || !got.For("org_a", "dsp_x") || got.For("org_b", "dsp_x") {
		t.Fatalf("verified override = %+v", got)
	}
	if _, err := VerifyOverride(other.Public().(ed25519.PublicKey), s); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("another key: %v", err)
	}
	for i := range s.Payload {
		bad := s
		bad.Payload = append([]byte(nil), s.Payload...)
		bad.Payload[i] ^= 1
		if _, err := VerifyOverride(pub, bad); err == nil {
			t.Fatalf("flipping byte %d of the payload was accepted", i)
		}
	}
	// A manifest signature does not pass for an override (domain separation).
	m := SignedOverride{Payload: s.Payload, Signature: ed25519.Sign(priv, append([]byte(manifestContext), s.Payload...))}
	if _, err := VerifyOverride(pub, m); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("manifest-context signature accepted: %v", err)
	}
}

func TestOverrideCancel(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	pub := priv.Public().(ed25519.PublicKey)
	c := SignCancel(priv, "ovr_1", "org_a", time.Now())
	if err := VerifyCancel(pub, "org_a", c); err != nil {
		t.Fatal(err)
	}
	if err := VerifyCancel(pub, "org_b", c); err == nil {
		t.Fatal("a cancel for another organisation was accepted")
	}
	c.ID = "ovr_2"
	if err := VerifyCancel(pub, "org_a", c); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a cancel with a changed id: %v", err)
	}
}

func TestOverrideCheckAndOrder(t *testing.T) {
	now := time.Now()
	o := testOverride(now)
	for name, mut := range map[string]func(*OverrideSpec){
		"no level":         func(o *OverrideSpec) { o.Level = "" },
		"bad level":        func(o *OverrideSpec) { o.Level = "severe" },
		"no audience":      func(o *OverrideSpec) { o.AllDisplays = false },
		"no expiry":        func(o *OverrideSpec) { o.ExpiresAt = time.Time{} },
		"empty text":       func(o *OverrideSpec) { o.Texts = nil },
		"bad position":     func(o *OverrideSpec) { o.Position = "left" },
		"bad presentation": func(o *OverrideSpec) { o.Presentation = "popup" },
	} {
		bad := o
		mut(&bad)
		if bad.Check() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	blank := o
	blank.Presentation, blank.Texts = PresentBlank, nil
	if err := blank.Check(); err != nil {
		t.Errorf("blank without text: %v", err)
	}
	warn := o
	warn.ID, warn.Level, warn.IssuedAt = "ovr_2", LevelWarning, now.Add(time.Minute)
	if !o.Outranks(warn) || warn.Outranks(o) {
		t.Error("critical must outrank a newer warning")
	}
	newer := o
	newer.ID, newer.IssuedAt = "ovr_3", now.Add(time.Minute)
	if !newer.Outranks(o) || o.Outranks(newer) {
		t.Error("at one level, the newer must outrank")
	}
	if !o.ActiveAt(now) || o.ActiveAt(now.Add(15*time.Minute)) || o.ActiveAt(now.Add(-time.Second)) {
		t.Error("ActiveAt: [starts_at, expires_at)")
	}
}
