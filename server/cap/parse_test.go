package cap

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func td(t testing.TB, name string) []byte { return readFile(t, filepath.Join("testdata", name)) }

func TestFloodAlertThreeLanguages(t *testing.T) {
	a := mustParse(t, td(t, "flood-alert-vi-en-zh.xml"))
	if a.Identifier != "BEACON-TEST-FLOOD-001" || a.Version != "1.2" || a.MsgType != MsgAlert {
		t.Fatalf("%+v", a)
	}
	if got := a.Languages(); fmt.Sprint(got) != "[en vi zh]" {
		t.Errorf("languages %v", got)
	}
	tx := a.Texts()
	if tx["vi"].Headline != "KHẨN CẤP: Lũ quét tại Hội An" || tx["zh"].Instruction != "立即转移到高处。" || tx["en"].Language != "en-US" {
		t.Errorf("texts %+v", tx)
	}
	if want := "EMERGENCY: Flash flood in Hoi An\n\nThe Thu Bon river is rising fast. The old town is deeply flooded.\n\nMove to high ground now."; tx["en"].Body() != want {
		t.Errorf("body %q", tx["en"].Body())
	}
	if a.Level() != LevelCritical {
		t.Errorf("level %s", a.Level())
	}
	exp, ok := a.Expires() // the latest: the zh block runs an hour longer
	if want := time.Date(2026, 10, 15, 14, 0, 0, 0, time.UTC); !ok || !exp.Equal(want) {
		t.Errorf("expires %v %v", exp, ok)
	}
	if want := (Key{"canhbao@example.gov.vn", "BEACON-TEST-FLOOD-001", "2026-10-15T01:00:00Z"}); a.Key() != want {
		t.Errorf("key %+v", a.Key())
	}
	res := a.Info[0].Resources[0]
	if res.Size != 20480 || res.MimeType != "image/png" || res.Digest != "da39a3ee5e6b4b0d3255bfef95601890afd80709" {
		t.Errorf("resource %+v", res)
	}
	ar := a.Info[0].Areas[0]
	if len(ar.Polygons) != 1 || len(ar.Circles) != 1 || ar.Circles[0].RadiusKm != 2.5 || ar.Geocodes[0] != (Pair{"VN-ADMIN", "49"}) {
		t.Errorf("area %+v", ar)
	}
	hoiAnMarket := Point{15.8775, 108.3310}   // in the polygon
	anBangBeach := Point{15.9060, 108.3510}   // 3.2 km from the circle's centre, outside both
	nearCircleOnly := Point{15.8801, 108.355} // east of the polygon, 1.8 km from the centre
	if !a.Covers(hoiAnMarket) || a.Covers(anBangBeach) || !a.Covers(nearCircleOnly) {
		t.Errorf("covers: market %v beach %v circle %v", a.Covers(hoiAnMarket), a.Covers(anBangBeach), a.Covers(nearCircleOnly))
	}
}

// An Update supersedes the alert, a Cancel ends both; references match by
// key whatever the UTC offset they were written with.
func TestUpdateCancelChain(t *testing.T) {
	first := mustParse(t, td(t, "flood-alert-vi-en-zh.xml"))
	upd := mustParse(t, td(t, "flood-update.xml"))
	cancel := mustParse(t, td(t, "flood-cancel.xml"))
	if len(upd.Supersedes()) != 1 || upd.Supersedes()[0] != first.Key() {
		t.Fatalf("update supersedes %+v, want %+v", upd.Supersedes(), first.Key())
	}
	if upd.Level() != LevelWarning { // Severe, Expected
		t.Errorf("update level %s", upd.Level())
	}
	if tx := upd.Texts(); tx["en"].Language != "en" || tx["vi"].Instruction != "Chưa quay về nhà." {
		t.Errorf("update texts %+v", tx)
	}
	got := cancel.Supersedes()
	if len(got) != 2 || got[0] != first.Key() || got[1] != upd.Key() {
		t.Fatalf("cancel ends %+v, want %+v and %+v", got, first.Key(), upd.Key())
	}
	if len(cancel.Info) != 0 || cancel.Note != "Flood warning ended." || cancel.Level() != LevelInfo {
		t.Errorf("cancel %+v", cancel)
	}
	if _, ok := cancel.Expires(); ok {
		t.Error("a cancel without info has an expiry")
	}
	// A Cancel that names nothing cannot end anything: refused.
	noRefs := strings.Replace(string(td(t, "flood-cancel.xml")), "<references>", "<note2>", 1)
	noRefs = strings.Replace(noRefs, "</references>", "</note2>", 1)
	r := mustRefuse(t, []byte(strings.Replace(noRefs, "note2", "incidents", 2)), CodeInvalid)
	if !strings.Contains(r.Reason, "references") {
		t.Errorf("reason %q", r.Reason)
	}
	// Same message twice: same key.
	again := mustParse(t, td(t, "flood-alert-vi-en-zh.xml"))
	if again.Key() != first.Key() {
		t.Error("duplicate has another key")
	}
}

func TestAudience(t *testing.T) {
	base := string(td(t, "flood-alert-vi-en-zh.xml"))
	for _, tc := range []struct {
		status, scope, msgType string
		want                   Audience
	}{
		{"Actual", "Public", "Alert", AudiencePublic},
		{"Test", "Public", "Alert", AudienceTest},
		{"Exercise", "Public", "Alert", AudienceNone},
		{"System", "Public", "Alert", AudienceNone},
		{"Draft", "Public", "Alert", AudienceNone},
		{"Actual", "Restricted", "Alert", AudienceNone},
		{"Actual", "Public", "Ack", AudienceNone},
		{"Actual", "Public", "Error", AudienceNone},
	} {
		doc := strings.Replace(base, "<cap:status>Actual<", "<cap:status>"+tc.status+"<", 1)
		doc = strings.Replace(doc, "<cap:msgType>Alert<", "<cap:msgType>"+tc.msgType+"<", 1)
		doc = strings.Replace(doc, "<cap:scope>Public</cap:scope>", "<cap:scope>"+tc.scope+"</cap:scope><cap:restriction>staff</cap:restriction>", 1)
		a := mustParse(t, []byte(doc))
		got, why := a.Audience()
		if got != tc.want || why == "" {
			t.Errorf("%s/%s/%s: %s (%s), want %s", tc.status, tc.scope, tc.msgType, got, why, tc.want)
		}
		if a.PublicScreens() != (tc.want == AudiencePublic) {
			t.Errorf("%s/%s/%s: PublicScreens %v", tc.status, tc.scope, tc.msgType, a.PublicScreens())
		}
	}
	a := mustParse(t, td(t, "test-status.xml"))
	if au, _ := a.Audience(); au != AudienceTest || a.PublicScreens() {
		t.Errorf("test-status.xml: %s", au)
	}
}

func TestLevelTable(t *testing.T) {
	for _, tc := range []struct {
		sev, urg, cert string
		want           Level
	}{
		{"Extreme", "Immediate", "Observed", LevelCritical},
		{"Extreme", "Future", "Possible", LevelCritical},
		{"Extreme", "Past", "Observed", LevelInfo},
		{"Extreme", "Immediate", "Unlikely", LevelInfo},
		{"Severe", "Immediate", "Likely", LevelCritical},
		{"Severe", "Immediate", "Possible", LevelWarning},
		{"Severe", "Expected", "Observed", LevelWarning},
		{"Severe", "Unknown", "Unknown", LevelWarning},
		{"Moderate", "Future", "Likely", LevelWarning},
		{"Moderate", "Immediate", "Possible", LevelInfo},
		{"Moderate", "Unknown", "Observed", LevelInfo},
		{"Minor", "Immediate", "Observed", LevelInfo},
		{"Unknown", "Immediate", "Observed", LevelInfo},
	} {
		if got := LevelFor(tc.sev, tc.urg, tc.cert); got != tc.want {
			t.Errorf("%s/%s/%s: %s, want %s", tc.sev, tc.urg, tc.cert, got, tc.want)
		}
	}
}

func TestCAP11Accepted(t *testing.T) {
	a := mustParse(t, td(t, "cap11-storm.xml"))
	if a.Version != "1.1" || a.Info[0].Certainty != "Likely" || a.Level() != LevelWarning || a.Info[0].Language != "en-US" {
		t.Errorf("%+v %+v", a, a.Info[0])
	}
}

func TestLatin1(t *testing.T) {
	data := td(t, "latin1-storm.xml")
	if bytes.Contains(data, []byte("Tempête")) {
		t.Fatal("test file is not ISO-8859-1")
	}
	a := mustParse(t, data)
	in := a.Info[0]
	if in.Event != "Tempête" || in.Headline != "Alerte météo : tempête sur la Côte d'Azur" || in.Description != "Vents violents prévus à Nice." {
		t.Errorf("%q %q %q", in.Event, in.Headline, in.Description)
	}
	if !a.Covers(Point{43.6959, 7.2717}) { // Nice, place Masséna
		t.Error("Nice not covered")
	}
	// An encoding nobody knows is refused with its name.
	bad := bytes.Replace(data, []byte("ISO-8859-1"), []byte("X-MARTIAN-7"), 1)
	if r := mustRefuse(t, bad, CodeMalformed); !strings.Contains(r.Reason, "X-MARTIAN-7") {
		t.Errorf("reason %q", r.Reason)
	}
}

func TestNamespaces(t *testing.T) {
	r := mustRefuse(t, td(t, "wrong-namespace.xml"), CodeNamespace)
	if !strings.Contains(r.Reason, "urn:example:not-cap") || !strings.Contains(r.Reason, NS12) {
		t.Errorf("reason %q", r.Reason)
	}
	base := string(td(t, "flood-update.xml"))
	noNS := strings.Replace(base, ` xmlns="urn:oasis:names:tc:emergency:cap:1.2"`, "", 1)
	if r := mustRefuse(t, []byte(noNS), CodeNamespace); !strings.Contains(r.Reason, "no namespace") {
		t.Errorf("reason %q", r.Reason)
	}
	cap10 := strings.Replace(base, "urn:oasis:names:tc:emergency:cap:1.2", NS10, 1)
	if r := mustRefuse(t, []byte(cap10), CodeVersion); !strings.Contains(r.Reason, "CAP 1.0") {
		t.Errorf("reason %q", r.Reason)
	}
	cap13 := strings.Replace(base, "cap:1.2", "cap:1.3", 1)
	if r := mustRefuse(t, []byte(cap13), CodeVersion); !strings.Contains(r.Reason, "1.3") {
		t.Errorf("reason %q", r.Reason)
	}
	// An element of another namespace inside the alert is refused, not
	// read as the CAP field of the same local name.
	foreign := strings.Replace(base, "<headline>", `<x:headline xmlns:x="urn:evil">Fake</x:headline><headline>`, 1)
	if r := mustRefuse(t, []byte(foreign), CodeNamespace); !strings.Contains(r.Reason, "urn:evil") {
		t.Errorf("reason %q", r.Reason)
	}
	// Another root element.
	mustRefuse(t, []byte(`<feed xmlns="http://www.w3.org/2005/Atom"/>`), CodeNamespace)
	// A prefix other than cap: works (the flood alert uses cap:).
	pref := strings.ReplaceAll(base, "<", "<c:")
	pref = strings.ReplaceAll(pref, "<c:/", "</c:")
	pref = strings.Replace(pref, "<c:?xml", "<?xml", 1)
	pref = strings.Replace(pref, `xmlns="`, `xmlns:c="`, 1)
	if a := mustParse(t, []byte(pref)); a.Identifier != "BEACON-TEST-FLOOD-002" {
		t.Errorf("prefixed: %+v", a)
	}
}

// The hostile documents are refused, and nothing is fetched: a listener on
// 127.0.0.1 named in every entity and XInclude sees no request.
func TestHostileNothingFetched(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	var conns atomic.Int64
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			fmt.Fprint(w, "pwned")
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		},
	}
	go srv.Serve(ln)
	defer srv.Close()
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)

	for _, tc := range []struct{ file, code, reason string }{
		{"hostile-dtd.xml", CodeDoctype, "DOCTYPE"},
		{"hostile-xinclude.xml", CodeXInclude, "XInclude"},
	} {
		data := bytes.ReplaceAll(td(t, tc.file), []byte("LISTENER"), []byte(port))
		r := mustRefuse(t, data, tc.code)
		if !strings.Contains(r.Reason, tc.reason) {
			t.Errorf("%s: reason %q", tc.file, r.Reason)
		}
		if v := Verify(data, nil, time.Time{}); v.Kind != Invalid {
			t.Errorf("%s: Verify said %s", tc.file, v.Kind)
		}
		if _, _, err := (Source{Policy: AllowUnsigned}).Check(data, time.Time{}); err == nil {
			t.Errorf("%s: Check accepted it", tc.file)
		}
	}
	// The listener works: a request made on purpose is counted.
	resp, err := http.Get("http://127.0.0.1:" + port + "/probe")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hits.Load() != 1 || conns.Load() != 1 {
		t.Fatalf("listener saw %d requests on %d connections; want exactly the probe", hits.Load(), conns.Load())
	}
}

func TestRefusals(t *testing.T) {
	good := string(td(t, "flood-update.xml"))
	for _, tc := range []struct {
		name, old, new, code, reason string
	}{
		{"internal DTD only", `<?xml version="1.0" encoding="UTF-8"?>`, `<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE alert>`, CodeDoctype, "DOCTYPE"},
		{"entity reference without DTD", "<headline>Flood", "<headline>&xxe;Flood", CodeMalformed, "not well-formed"},
		{"missing identifier", "<identifier>BEACON-TEST-FLOOD-002</identifier>", "", CodeInvalid, "<identifier>"},
		{"identifier with a space", "BEACON-TEST-FLOOD-002<", "BEACON TEST<", CodeInvalid, "identifier"},
		{"missing sender", "<sender>canhbao@example.gov.vn</sender>", "", CodeInvalid, "<sender>"},
		{"sent with Z", "2026-10-15T10:00:00+07:00</sent>", "2026-10-15T03:00:00Z</sent>", CodeInvalid, "dateTime"},
		{"sent not a date", "2026-10-15T10:00:00+07:00</sent>", "yesterday</sent>", CodeInvalid, "sent"},
		{"bad status", "<status>Actual", "<status>Real", CodeInvalid, "status"},
		{"bad msgType", "<msgType>Update", "<msgType>Panic", CodeInvalid, "msgType"},
		{"missing scope", "<scope>Public</scope>", "", CodeInvalid, "<scope>"},
		{"private without addresses", "<scope>Public", "<scope>Private", CodeInvalid, "addresses"},
		{"bad reference", "BEACON-TEST-FLOOD-001,2026", "BEACON-TEST-FLOOD-001;2026", CodeInvalid, "references"},
		{"bad severity", "<severity>Severe", "<severity>Huge", CodeInvalid, "severity"},
		{"missing certainty", "<certainty>Likely</certainty>", "", CodeInvalid, "certainty"},
		{"bad category", "<category>Met", "<category>Weather", CodeInvalid, "category"},
		{"bad expires", "2026-10-15T22:00:00+07:00</expires>", "soon</expires>", CodeInvalid, "expires"},
		{"open polygon", "<areaDesc>Phố cổ Hội An</areaDesc>", "<areaDesc>x</areaDesc><polygon>1,1 1,2 2,2 2,1</polygon>", CodeInvalid, "closed"},
		{"short polygon", "<areaDesc>Phố cổ Hội An</areaDesc>", "<areaDesc>x</areaDesc><polygon>1,1 1,2 1,1</polygon>", CodeInvalid, "polygon"},
		{"latitude out of range", "15.8801,108.3380 4", "95.1,108.3380 4", CodeInvalid, "outside"},
		{"negative radius", "15.8801,108.3380 4", "15.8801,108.3380 -4", CodeInvalid, "radius"},
		{"two roots", "</alert>", "</alert><alert/>", CodeMalformed, ""},
		{"truncated", "</alert>", "", CodeMalformed, "well-formed"},
		{"text after the root", "</alert>", "</alert>\nmore alert text", CodeMalformed, "outside the root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(good, tc.old) {
				t.Fatalf("%q not in the base document", tc.old)
			}
			r := mustRefuse(t, []byte(strings.Replace(good, tc.old, tc.new, 1)), tc.code)
			if !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("reason %q lacks %q", r.Reason, tc.reason)
			}
		})
	}
}

func TestSizeLimit(t *testing.T) {
	data := td(t, "flood-alert-vi-en-zh.xml")
	if _, err := Parse(data, Options{MaxBytes: int64(len(data))}); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	if _, err := Parse(data, Options{MaxBytes: int64(len(data)) - 1}); err == nil {
		t.Fatal("one byte over the limit accepted")
	} else if r, _ := Refusal(err); r.Code != CodeTooLarge {
		t.Fatalf("refusal %v", err)
	}
	// The default limit is 1 MiB; ReadAll stops right after it.
	big := bytes.Repeat([]byte(" "), DefaultMaxBytes+10)
	if _, err := ReadAll(bytes.NewReader(big), Options{}); err == nil {
		t.Fatal("ReadAll accepted more than 1 MiB")
	}
	if got, err := ReadAll(bytes.NewReader(data), Options{}); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadAll: %v", err)
	}
	// Nesting is bounded.
	deep := strings.Replace(string(data), "<cap:note>", "", 1)
	nest := strings.Repeat("<cap:x>", 40) + strings.Repeat("</cap:x>", 40)
	deep = strings.Replace(deep, "<cap:scope>", nest+"<cap:scope>", 1)
	if r := mustRefuse(t, []byte(deep), CodeMalformed); !strings.Contains(r.Reason, "deeper") {
		t.Errorf("reason %q", r.Reason)
	}
}

// Two info blocks in one base language: the higher level wins, then the
// first one.
func TestTextsSameLanguage(t *testing.T) {
	doc := string(td(t, "flood-update.xml"))
	// Turn the vi block into a second English block with a higher level.
	doc = strings.Replace(doc, "<language>vi-VN</language>", "<language>en-GB</language>", 1)
	doc = strings.Replace(doc, "<severity>Severe</severity>", "<severity>Extreme</severity>", 1)
	a := mustParse(t, []byte(doc))
	if tx := a.Texts(); len(tx) != 1 || tx["en"].Language != "en-GB" || tx["en"].Level != LevelCritical {
		t.Errorf("texts %+v", tx)
	}
	// Equal levels: the first block.
	doc = strings.Replace(doc, "<severity>Extreme</severity>", "<severity>Severe</severity>", 1)
	if tx := mustParse(t, []byte(doc)).Texts(); tx["en"].Language != "en-GB" {
		t.Errorf("texts %+v", tx)
	}
}

// TestResourcesAndStart: resources keep uri, digest and derefUri (its
// decoded size shown); Start is the effective time, or the onset when an
// info block has no effective time, and zero when a block has neither.
func TestResourcesAndStart(t *testing.T) {
	doc := strings.ReplaceAll(string(td(t, "flood-resources.xml")), "PICTOGRAM-BASE64", "iVBO\n  Rw0K")
	a := mustParse(t, []byte(doc))
	rs := a.Info[0].Resources
	if len(rs) != 2 || rs[0].URI != "http://127.0.0.1:0/maps/evacuation.png" || rs[0].Digest != "MAP-SHA1" || rs[0].DerefURI != "" ||
		rs[1].DerefBytes != 6 || rs[1].URI != "pictogram.png" {
		t.Fatalf("resources %+v", rs)
	}
	if b, err := rs[1].Deref(); err != nil || string(b) != "\x89PNG\r\n" {
		t.Errorf("deref %q %v", b, err)
	}
	want, _ := ParseTime("2026-10-15T09:00:00+07:00")
	if got := a.Start(); !got.Equal(want) {
		t.Errorf("start %v, want the effective time %v (not the later onset)", got, want)
	}
	b := mustParse(t, td(t, "flood-bad-resources.xml"))
	want, _ = ParseTime("2026-10-15T10:00:00+07:00")
	if got := b.Start(); !got.Equal(want) {
		t.Errorf("start %v, want the onset %v", got, want)
	}
	if got := mustParse(t, td(t, "flood-alert-vi-en-zh.xml")).Start(); !got.IsZero() {
		t.Errorf("start %v of an alert without effective or onset, want zero", got)
	}
}
