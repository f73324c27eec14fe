package cap

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The four examples of the CAP 1.2 specification, Appendix A, parse with
// their fields.
func TestSpecExamples(t *testing.T) {
	dir := sharedDir(t)
	t.Run("A1 homeland security", func(t *testing.T) {
		a := mustParse(t, readFile(t, filepath.Join(dir, "01-oasis-a1-homeland-security.cap")))
		if a.Identifier != "43b080713727" || a.Sender != "hsas@dhs.gov" || a.Status != "Actual" || a.MsgType != "Alert" || a.Scope != "Public" || a.Version != "1.2" {
			t.Fatalf("header: %+v", a)
		}
		if want := time.Date(2003, 4, 2, 19, 39, 1, 0, time.UTC); !a.Sent.Equal(want) {
			t.Errorf("sent %v, want %v", a.Sent, want)
		}
		in := a.Info[0]
		if in.Language != "en-US" {
			t.Errorf("default language %q, want en-US", in.Language)
		}
		if in.Headline != "Homeland Security Sets Code ORANGE" || in.Severity != "Severe" || in.Urgency != "Immediate" || in.Certainty != "Likely" {
			t.Errorf("info: %+v", in)
		}
		if len(in.Resources) != 1 || in.Resources[0].MimeType != "image/gif" || in.Resources[0].URI != "http://www.dhs.gov/dhspublic/getAdvisoryImage" {
			t.Errorf("resources: %+v", in.Resources)
		}
		if len(in.Parameters) != 1 || in.Parameters[0] != (Pair{"HSAS", "ORANGE"}) {
			t.Errorf("parameters: %+v", in.Parameters)
		}
		if _, ok := a.Expires(); ok {
			t.Error("A1 has no expires, Expires reported one")
		}
		if a.Level() != LevelCritical {
			t.Errorf("level %s", a.Level())
		}
		if !a.PublicScreens() {
			t.Error("Actual/Public not for public screens")
		}
		if tx := a.Texts()["en"]; !strings.HasPrefix(tx.Body(), "Homeland Security Sets Code ORANGE\n\nThe Department") {
			t.Errorf("text body %q", tx.Body())
		}
	})
	t.Run("A2 thunderstorm", func(t *testing.T) {
		a := mustParse(t, readFile(t, filepath.Join(dir, "02-oasis-a2-thunderstorm.cap")))
		in := a.Info[0]
		if in.Event != "SEVERE THUNDERSTORM" || len(in.ResponseType) != 1 || in.ResponseType[0] != "Shelter" {
			t.Fatalf("info: %+v", in)
		}
		exp, ok := a.Expires()
		if want := time.Date(2003, 6, 17, 23, 0, 0, 0, time.UTC); !ok || !exp.Equal(want) {
			t.Errorf("expires %v %v, want %v", exp, ok, want)
		}
		ar := in.Areas[0]
		if len(ar.Polygons) != 1 || len(ar.Polygons[0]) != 5 || ar.Polygons[0][1] != (Point{38.34, -119.95}) {
			t.Fatalf("polygon: %+v", ar.Polygons)
		}
		if len(ar.Geocodes) != 3 || ar.Geocodes[2] != (Pair{"SAME", "006003"}) {
			t.Errorf("geocodes: %+v", ar.Geocodes)
		}
		if !a.Covers(Point{38.47, -119.95}) {
			t.Error("a point inside the storm polygon is not covered")
		}
		if a.Covers(Point{38.58, -121.49}) { // Sacramento
			t.Error("Sacramento is covered by a storm polygon in Alpine County")
		}
		if a.Level() != LevelCritical {
			t.Errorf("level %s", a.Level())
		}
	})
	t.Run("A3 earthquake update", func(t *testing.T) {
		a := mustParse(t, readFile(t, filepath.Join(dir, "03-oasis-a3-earthquake-update.xml")))
		if a.MsgType != MsgUpdate || len(a.References) != 1 {
			t.Fatalf("%+v", a)
		}
		want := Key{Sender: "trinet@caltech.edu", Identifier: "TRI13970876.1", Sent: "2003-06-12T03:30:00Z"}
		if a.References[0] != want || a.Supersedes()[0] != want {
			t.Errorf("reference %+v, want %+v", a.References[0], want)
		}
		c := a.Info[0].Areas[0].Circles
		if len(c) != 1 || c[0].Center != (Point{32.9525, -115.5527}) || c[0].RadiusKm != 0 {
			t.Errorf("circle %+v", c)
		}
		if len(a.Info[0].Parameters) != 5 {
			t.Errorf("parameters %+v", a.Info[0].Parameters)
		}
		if a.Level() != LevelInfo { // Minor, Past
			t.Errorf("level %s", a.Level())
		}
	})
	t.Run("A4 amber en es", func(t *testing.T) {
		a := mustParse(t, readFile(t, filepath.Join(dir, "04-oasis-a4-amber-en-es.xml")))
		if a.Source != "SW" || len(a.Info) != 2 {
			t.Fatalf("%+v", a)
		}
		tx := a.Texts()
		if len(tx) != 2 || tx["en"].Headline != "Amber Alert in Los Angeles County" || tx["es"].Headline != "Alerta Amber en el condado de Los Ángeles" || tx["es"].Language != "es-US" {
			t.Errorf("texts %+v", tx)
		}
		ar := a.Info[1].Areas[0]
		if ar.HasGeometry() || ar.Geocodes[0] != (Pair{"SAME", "006037"}) || ar.Description != "condado de Los Ángeles" {
			t.Errorf("area %+v", ar)
		}
		if a.Level() != LevelCritical {
			t.Errorf("level %s", a.Level())
		}
	})
}

func ecSource(t *testing.T, certs ...string) (data []byte, trusted []*cx509) {
	dir := sharedDir(t)
	data = readFile(t, filepath.Join(dir, "05-naads-ec-update-bilingual-2signatures.cap"))
	for _, c := range certs {
		cs, err := LoadCertificates(readFile(t, filepath.Join(dir, c)))
		if err != nil {
			t.Fatal(err)
		}
		trusted = append(trusted, cs...)
	}
	return data, trusted
}

// The signed Environment Canada alert (via NAADS) carries two signatures:
// valid when either certificate is trusted, invalid when neither is. The
// certificates expired in 2018 (and 2015), so the clock is pinned.
func TestEnvironmentCanadaSigned(t *testing.T) {
	at := time.Date(2013, 1, 24, 22, 0, 0, 0, time.UTC)
	const naads, ec = "05a-naads_x509_cert.pem", "05b-environment_canada_x509_cert.pem"
	for _, tc := range []struct {
		name    string
		certs   []string
		want    VerdictKind
		wantSig string
		wantCN  string
	}{
		{"naads only", []string{naads}, Valid, "NAADS Signature", "dss1.pelmorex.com"},
		{"environment canada only", []string{ec}, Valid, "Environment Canada", "meteo.gc.ca"},
		{"both", []string{ec, naads}, Valid, "NAADS Signature", "dss1.pelmorex.com"},
		{"neither", nil, Invalid, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, trusted := ecSource(t, tc.certs...)
			v := Verify(data, trusted, at)
			if v.Kind != tc.want {
				t.Fatalf("verdict %s (%s), want %s", v.Kind, v.Reason, tc.want)
			}
			if v.Kind == Valid && (v.SignatureID != tc.wantSig || v.Cert == nil || v.Cert.Subject.CommonName != tc.wantCN) {
				t.Errorf("valid by %q %q, want %q %q", v.SignatureID, v.Subject, tc.wantSig, tc.wantCN)
			}
			src := Source{Name: "naads", Policy: RequireSigned, Trusted: trusted}
			a, _, err := src.Check(data, at)
			if tc.want == Valid {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if a.Identifier != "2.49.0.1.124.f2c83f5f.2013" || a.MsgType != MsgUpdate || len(a.References) != 9 {
					t.Errorf("signed alert %+v", a)
				}
				tx := a.Texts()
				if tx["en"].Headline != "snowfall warning" || tx["fr"].Language != "fr-CA" {
					t.Errorf("texts %+v", tx)
				}
				if a.Level() != LevelWarning { // Moderate, Future, Likely
					t.Errorf("level %s", a.Level())
				}
			} else if r, ok := Refusal(err); !ok || r.Code != CodeSignature {
				t.Errorf("Check: %v, want a signature refusal", err)
			}
		})
	}
	t.Run("untrusted certificate named", func(t *testing.T) {
		data, _ := ecSource(t)
		other := selfSigned(t, "someone else")
		v := Verify(data, []*cx509{other.Cert}, at)
		if v.Kind != Invalid || !strings.Contains(v.Reason, "meteo.gc.ca") || !strings.Contains(v.Reason, "not trusted") {
			t.Errorf("verdict %s: %s", v.Kind, v.Reason)
		}
	})
	t.Run("clock now: expired", func(t *testing.T) {
		data, trusted := ecSource(t, naads, ec)
		v := Verify(data, trusted, time.Time{})
		if v.Kind != Invalid || !strings.Contains(v.Reason, "valid from") {
			t.Errorf("verdict %s: %s", v.Kind, v.Reason)
		}
	})
	t.Run("one byte changed", func(t *testing.T) {
		data, trusted := ecSource(t, naads, ec)
		data = []byte(strings.Replace(string(data), "snowfall warning", "snowfall wArning", 1))
		if v := Verify(data, trusted, at); v.Kind != Invalid {
			t.Errorf("verdict %s after a change", v.Kind)
		}
	})
}
