package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"beacon/server"
	"beacon/server/cap"
	"beacon/server/cap/captest"
	"beacon/server/servertest"
	"beacon/server/store"
)

// sharedCAPDir finds shared/testdata/cap beside the repository (or one of
// its parents: a worktree sits deeper); the files are read in place.
func sharedCAPDir(t *testing.T) string {
	t.Helper()
	dir, _ := os.Getwd()
	for d := dir; filepath.Dir(d) != d; d = filepath.Dir(d) {
		p := filepath.Join(filepath.Dir(d), "shared", "testdata", "cap")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("shared/testdata/cap not found beside the repository: skipping the tests on the CAP specification's examples")
	return ""
}

type capAnswer struct {
	Outcome   string    `json:"outcome"`
	Reason    string    `json:"reason"`
	Source    string    `json:"source"`
	Level     string    `json:"level"`
	Audience  string    `json:"audience"`
	Overrides []ovrView `json:"overrides"`
	Cancelled []string  `json:"cancelled"`
	DisplayID []string  `json:"display_ids"`
	Duplicate bool      `json:"duplicate"`
	Signature struct {
		Verdict string `json:"verdict"`
	} `json:"signature"`
}

func postCAP(t *testing.T, s *servertest.Server, token string, doc []byte, query string) (int, capAnswer, servertest.APIError) {
	t.Helper()
	code, raw := doRaw(t, s, token, "POST", "/api/v1/cap"+query, doc, map[string]string{"Content-Type": "application/cap+xml"})
	var a capAnswer
	var e servertest.APIError
	if code < 300 {
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatalf("answer %s: %v", raw, err)
		}
	} else {
		_ = json.Unmarshal(raw, &e)
	}
	return code, a, e
}

type auditRow struct {
	Actor      string `json:"actor"`
	RemoteAddr string `json:"remote_addr"`
	Action     string `json:"action"`
	Subject    string `json:"subject"`
	Details    string `json:"details"`
}

func auditLog(t *testing.T, s *servertest.Server, action string) []auditRow {
	t.Helper()
	var out struct{ Entries []auditRow }
	if code := s.Do("GET", "/api/v1/audit?limit=500", nil, &out); code != 200 {
		t.Fatalf("audit: %d", code)
	}
	var rows []auditRow
	for _, e := range out.Entries {
		if e.Action == action {
			rows = append(rows, e)
		}
	}
	return rows
}

func mkDisplay(t testing.TB, s *servertest.Server, name string, tags []string, lat, lon *float64) string {
	t.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	d, err := s.Store().CreateDisplay(context.Background(), store.Display{OrgID: s.OrgID, Name: name, PublicKey: pub, Width: 384, Height: 192,
		Fit: "contain", Background: "#000000", Tags: tags, Latitude: lat, Longitude: lon})
	if err != nil {
		t.Fatal(err)
	}
	return d.ID
}

func sameIDs(got, want []string) bool {
	a, b := slices.Clone(got), slices.Clone(want)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func countOverrides(t *testing.T, s *servertest.Server) int {
	t.Helper()
	var out struct{ Overrides []ovrView }
	if code := s.Do("GET", "/api/v1/overrides", nil, &out); code != 200 {
		t.Fatalf("overrides: %d", code)
	}
	return len(out.Overrides)
}

// capTime writes t in CAP's dateTime form.
func capTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05-07:00") }

// ownAlert is a CAP 1.2 message of Beacon's own making: Vietnamese,
// English and Chinese, Extreme (critical), with the given areas.
func ownAlert(id, sender, status, msgType, refs, areas string, sent time.Time) []byte {
	ref := ""
	if refs != "" {
		ref = "<references>" + refs + "</references>"
	}
	info := func(lang, head, desc string) string {
		return fmt.Sprintf(`<info><language>%s</language><category>Met</category><event>Flood</event><urgency>Immediate</urgency>
<severity>Extreme</severity><certainty>Observed</certainty><expires>%s</expires><headline>%s</headline>
<description>%s</description><instruction>Move to high ground</instruction>%s</info>`, lang, capTime(sent.Add(2*time.Hour)), head, desc, areas)
	}
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>` + id + `</identifier><sender>` + sender + `</sender>
<sent>` + capTime(sent) + `</sent><status>` + status + `</status><msgType>` + msgType + `</msgType><scope>Public</scope>` + ref +
		info("vi-VN", "KHẨN CẤP: lũ lụt", "Nước sông Hồng dâng cao") + info("en-US", "EMERGENCY: flood", "The Red River is rising") +
		info("zh-CN", "紧急：洪水", "红河水位上涨") + `</alert>`)
}

const northVietnam = `<area><areaDesc>Northern Vietnam</areaDesc><polygon>20,103 23.5,103 23.5,107 20,107 20,103</polygon></area>`
const aroundHanoi = `<area><areaDesc>Hà Nội</areaDesc><circle>21.03,105.85 25</circle></area>`

func newSigner(t testing.TB) captest.Signer {
	return captest.NewSigner(t, "Test flood authority", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

func TestCAPSpecificationExamples(t *testing.T) {
	dir := sharedCAPDir(t)
	s := servertest.Start(t, servertest.Options{CAPAllowUnsigned: true})
	sonora := mkDisplay(t, s, "Sonora pass", nil, f64(38.5), f64(-119.9)) // inside the thunderstorm polygon
	la := mkDisplay(t, s, "Los Angeles", []string{"geocode:006037"}, nil, nil)
	imperial := mkDisplay(t, s, "Imperial", nil, f64(32.9525), f64(-115.5527)) // the earthquake's centre
	plain := mkDisplay(t, s, "Elsewhere", nil, f64(10), f64(106))
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// A1: an area described in words only reaches every display.
	a1 := read("01-oasis-a1-homeland-security.cap")
	code, ans, e := postCAP(t, s, s.Token, a1, "")
	if code != 201 || ans.Outcome != "triggered" || len(ans.Overrides) != 1 || !sameIDs(ans.DisplayID, []string{sonora, la, imperial, plain}) {
		t.Fatalf("A1: %d %+v %v", code, ans, e)
	}
	if ans.Level != "critical" || ans.Signature.Verdict != "unsigned" || ans.Source != "default" {
		t.Errorf("A1: %+v", ans)
	}
	first := ans.Overrides[0].ID
	if left := time.Until(ans.Overrides[0].ExpiresAt); left < 59*time.Minute || left > 61*time.Minute {
		t.Errorf("A1 has no expires: the override lasts %s, want the 1 hour default", left)
	}
	// The same message again: a duplicate, answered with the first result.
	code, ans, _ = postCAP(t, s, s.Token, a1, "")
	if code != 200 || !ans.Duplicate || len(ans.Overrides) != 1 || ans.Overrides[0].ID != first {
		t.Fatalf("A1 again: %d %+v", code, ans)
	}
	if n := countOverrides(t, s); n != 1 {
		t.Fatalf("%d overrides after a duplicate, want 1", n)
	}
	if len(auditLog(t, s, store.AuditCAPDuplicate)) != 1 {
		t.Error("the duplicate is not in the audit log")
	}
	// A2 as written expired in 2003: accepted, recorded, nothing shown.
	a2 := read("02-oasis-a2-thunderstorm.cap")
	if code, ans, e = postCAP(t, s, s.Token, a2, ""); code != 200 || ans.Outcome != "expired" || len(ans.Overrides) != 0 {
		t.Fatalf("A2: %d %+v %v", code, ans, e)
	}
	// The same message moved to a current year: its polygon reaches Sonora only.
	year := fmt.Sprint(time.Now().Year() + 1)
	a2now := bytes.ReplaceAll(a2, []byte("2003-"), []byte(year+"-"))
	if code, ans, e = postCAP(t, s, s.Token, a2now, ""); code != 201 || !sameIDs(ans.DisplayID, []string{sonora}) || ans.Level != "critical" {
		t.Fatalf("A2 now: %d %+v %v", code, ans, e)
	}
	// A3, an Update of a message never received: a new override on the
	// circle of radius 0 (only the display at its centre).
	if code, ans, e = postCAP(t, s, s.Token, read("03-oasis-a3-earthquake-update.xml"), ""); code != 201 || !sameIDs(ans.DisplayID, []string{imperial}) || ans.Level != "info" || len(ans.Cancelled) != 0 {
		t.Fatalf("A3: %d %+v %v", code, ans, e)
	}
	// A4: geocode 006037 reaches the display tagged geocode:006037, in English and Spanish.
	code, ans, e = postCAP(t, s, s.Token, read("04-oasis-a4-amber-en-es.xml"), "")
	if code != 201 || !sameIDs(ans.DisplayID, []string{la}) {
		t.Fatalf("A4: %d %+v %v", code, ans, e)
	}
	var ov struct{ Text map[string]string }
	s.Do("GET", "/api/v1/overrides/"+ans.Overrides[0].ID, nil, &ov)
	if !strings.HasPrefix(ov.Text["en"], "Amber Alert") || ov.Text["es"] == "" {
		t.Errorf("A4 texts: %v", ov.Text)
	}
	if n := len(auditLog(t, s, store.AuditCAPAccepted)); n != 5 {
		t.Errorf("%d cap.accepted entries, want 5", n)
	}
}

func TestCAPSignedUpdateCancelChain(t *testing.T) {
	authority := newSigner(t)
	const sender = "flood@hanoi.example.vn"
	s := servertest.Start(t, servertest.Options{CAPSources: []server.CAPSource{
		{ID: "hanoi", Sender: sender, Trusted: []*x509.Certificate{authority.Cert}, Policy: cap.RequireSigned}}})
	hoanKiem := mkDisplay(t, s, "Hoàn Kiếm", nil, f64(21.0285), f64(105.8542))
	gate := mkDisplay(t, s, "Border gate", nil, f64(22.8233), f64(104.9836))
	mkDisplay(t, s, "Bến Thành", nil, f64(10.7725), f64(106.6980))
	sent := time.Now().Add(-time.Minute).Truncate(time.Second)

	alert := authority.Sign(t, ownAlert("HN-1", sender, "Actual", "Alert", "", northVietnam, sent))
	// Dry run: the displays it would reach, nothing stored.
	code, ans, e := postCAP(t, s, s.Token, alert, "?dry_run=true")
	if code != 200 || ans.Outcome != "dry_run" || !sameIDs(ans.DisplayID, []string{hoanKiem, gate}) || countOverrides(t, s) != 0 {
		t.Fatalf("dry run: %d %+v %v", code, ans, e)
	}
	code, ans, e = postCAP(t, s, s.Token, alert, "")
	if code != 201 || ans.Signature.Verdict != "valid" || ans.Source != "hanoi" || !sameIDs(ans.DisplayID, []string{hoanKiem, gate}) {
		t.Fatalf("signed alert: %d %+v %v", code, ans, e)
	}
	first := ans.Overrides[0]
	var ov struct {
		Text         map[string]string
		Level        string
		Presentation string
	}
	s.Do("GET", "/api/v1/overrides/"+first.ID, nil, &ov)
	if ov.Level != "critical" || ov.Presentation != "fullscreen" || !strings.HasPrefix(ov.Text["vi"], "KHẨN CẤP") || ov.Text["zh"] == "" || !strings.Contains(ov.Text["en"], "Move to high ground") {
		t.Errorf("override from CAP: %+v", ov)
	}
	if ds := deliveries(t, s, first.ID); len(ds) != 2 {
		t.Errorf("deliveries: %+v", ds)
	}

	// Refused: unsigned, one byte changed, an unknown sender. Each is in the audit log.
	unsigned := ownAlert("HN-x", sender, "Actual", "Alert", "", northVietnam, sent)
	if code, _, e = postCAP(t, s, s.Token, unsigned, ""); code != 422 || e.Error.Code != "unsigned" {
		t.Errorf("unsigned: %d %v", code, e)
	}
	tampered := bytes.Replace(alert, []byte("Red River"), []byte("Red Rivet"), 1)
	if code, _, e = postCAP(t, s, s.Token, tampered, ""); code != 422 || e.Error.Code != "signature" {
		t.Errorf("tampered: %d %v", code, e)
	}
	other := authority.Sign(t, ownAlert("X-1", "someone@else.example", "Actual", "Alert", "", northVietnam, sent))
	if code, _, e = postCAP(t, s, s.Token, other, ""); code != 422 || e.Error.Code != "unknown_sender" {
		t.Errorf("unknown sender: %d %v", code, e)
	}
	refused := auditLog(t, s, store.AuditCAPRefused)
	if len(refused) != 3 || !strings.Contains(refused[0].Details, "no configured CAP source") || refused[0].RemoteAddr == "" || refused[0].Actor == "" {
		t.Errorf("refusals in the audit log: %+v", refused)
	}

	// The Update supersedes: its override replaces the first.
	ref := sender + ",HN-1," + capTime(sent)
	update := authority.Sign(t, ownAlert("HN-2", sender, "Actual", "Update", ref, aroundHanoi, sent.Add(time.Second)))
	code, ans, e = postCAP(t, s, s.Token, update, "")
	if code != 201 || !sameIDs(ans.DisplayID, []string{hoanKiem}) || !slices.Equal(ans.Cancelled, []string{first.ID}) {
		t.Fatalf("update: %d %+v %v", code, ans, e)
	}
	second := ans.Overrides[0].ID
	var st ovrView
	if s.Do("GET", "/api/v1/overrides/"+first.ID, nil, &st); st.Status != "cancelled" {
		t.Errorf("superseded override is %s", st.Status)
	}
	// The Cancel ends the Update's override.
	ref2 := sender + ",HN-2," + capTime(sent.Add(time.Second))
	cancel := authority.Sign(t, ownAlert("HN-3", sender, "Actual", "Cancel", ref2, aroundHanoi, sent.Add(2*time.Second)))
	code, ans, e = postCAP(t, s, s.Token, cancel, "")
	if code != 200 || ans.Outcome != "cancelled" || !slices.Equal(ans.Cancelled, []string{second}) || len(ans.Overrides) != 0 {
		t.Fatalf("cancel: %d %+v %v", code, ans, e)
	}
	if s.Do("GET", "/api/v1/overrides/"+second, nil, &st); st.Status != "cancelled" {
		t.Errorf("cancelled override is %s", st.Status)
	}
	if n := countOverrides(t, s); n != 2 {
		t.Errorf("%d overrides, want 2", n)
	}
}

func TestCAPTestAndExerciseStatus(t *testing.T) {
	s := servertest.Start(t, servertest.Options{CAPAllowUnsigned: true})
	lab := mkDisplay(t, s, "Lab", []string{"test"}, f64(21.0), f64(105.8))
	mkDisplay(t, s, "Street", nil, f64(21.0), f64(105.8))
	now := time.Now().Truncate(time.Second)
	code, ans, e := postCAP(t, s, s.Token, ownAlert("T-1", "drill@example.vn", "Test", "Alert", "", northVietnam, now), "")
	if code != 201 || ans.Audience != "test" || !sameIDs(ans.DisplayID, []string{lab}) {
		t.Fatalf("Test: %d %+v %v", code, ans, e)
	}
	for _, status := range []string{"Exercise", "System", "Draft"} {
		code, ans, e := postCAP(t, s, s.Token, ownAlert("E-"+status, "drill@example.vn", status, "Alert", "", northVietnam, now), "")
		if code != 200 || ans.Outcome != "no_screens" || ans.Audience != "none" || len(ans.Overrides) != 0 {
			t.Errorf("%s: %d %+v %v", status, code, ans, e)
		}
	}
	if n := countOverrides(t, s); n != 1 {
		t.Errorf("%d overrides, want only the Test one", n)
	}
	// A Test Cancel does not end an Actual alert it names.
	code, ans, e = postCAP(t, s, s.Token, ownAlert("A-1", "drill@example.vn", "Actual", "Alert", "", northVietnam, now), "")
	if code != 201 {
		t.Fatalf("Actual: %d %v", code, e)
	}
	actual := ans.Overrides[0].ID
	code, ans, e = postCAP(t, s, s.Token, ownAlert("T-2", "drill@example.vn", "Test", "Cancel", "drill@example.vn,A-1,"+capTime(now), "", now), "")
	if code != 200 || ans.Outcome != "cancelled" || len(ans.Cancelled) != 0 {
		t.Errorf("Test cancel of an Actual alert: %d %+v %v", code, ans, e)
	}
	var st ovrView
	if s.Do("GET", "/api/v1/overrides/"+actual, nil, &st); st.Status != "active" {
		t.Errorf("the Actual override is %s after a Test cancel", st.Status)
	}
	accepted := auditLog(t, s, store.AuditCAPAccepted)
	if len(accepted) != 6 || !strings.Contains(accepted[2].Details, "outcome=no_screens") {
		t.Errorf("accepted in the audit log: %+v", accepted)
	}
}

func TestCAPRefusesHostileAndUnsignedByDefault(t *testing.T) {
	var fetched atomic.Int32
	bait := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fetched.Add(1) }))
	defer bait.Close()
	s := servertest.Start(t, servertest.Options{}) // no sources: require-signed, nothing trusted
	mkDisplay(t, s, "Street", nil, f64(21.0), f64(105.8))
	hostile := []byte(`<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY x SYSTEM "` + bait.URL + `/x">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&x;</identifier></alert>`)
	wrongNS := bytes.Replace(ownAlert("N-1", "a@b", "Actual", "Alert", "", "", time.Now()), []byte("cap:1.2"), []byte("cap:9.9"), 1)
	for _, c := range []struct {
		doc  []byte
		code string
	}{{hostile, "doctype"}, {wrongNS, "version"}, {ownAlert("U-1", "a@b", "Actual", "Alert", "", "", time.Now()), "unsigned"}} {
		code, _, e := postCAP(t, s, s.Token, c.doc, "")
		if code != 422 || e.Error.Code != c.code || e.Error.Message == "" {
			t.Errorf("want 422 %s: %d %v", c.code, code, e)
		}
	}
	if fetched.Load() != 0 {
		t.Error("a hostile document made the server fetch its entity")
	}
	refused := auditLog(t, s, store.AuditCAPRefused)
	if len(refused) != 3 || !strings.Contains(refused[2].Details, "doctype") || !strings.Contains(refused[0].Details, "unsigned") {
		t.Errorf("refusals in the audit log: %+v", refused)
	}
	if countOverrides(t, s) != 0 {
		t.Error("a refused message made an override")
	}
}

func TestCAPRoles(t *testing.T) {
	s := servertest.Start(t, servertest.Options{CAPAllowUnsigned: true})
	mkDisplay(t, s, "Street", nil, f64(21.0), f64(105.8))
	tokens := map[string]string{}
	for _, role := range []string{"authority", "editor", "viewer"} {
		var tok struct{ Token string }
		if code := s.Do("POST", "/api/v1/tokens", map[string]string{"name": role, "role": role}, &tok); code != 201 {
			t.Fatalf("create %s token: %d", role, code)
		}
		tokens[role] = tok.Token
	}
	now := time.Now().Truncate(time.Second)
	for _, role := range []string{"editor", "viewer"} {
		if code, _, e := postCAP(t, s, tokens[role], ownAlert("R-"+role, "a@b", "Actual", "Alert", "", "", now), ""); code != 403 || e.Error.Code != "forbidden" {
			t.Errorf("%s: %d %v", role, code, e)
		}
	}
	if code, ans, e := postCAP(t, s, tokens["authority"], ownAlert("R-1", "a@b", "Actual", "Alert", "", "", now), ""); code != 201 || len(ans.Overrides) != 1 {
		t.Errorf("authority: %d %+v %v", code, ans, e)
	}
	// Expiring in three days: cut to the 24 hour maximum of overrides.
	code, ans, e := postCAP(t, s, tokens["authority"], ownAlert("R-3", "a@b", "Actual", "Alert", "", "", now.Add(72*time.Hour)), "")
	if code != 201 {
		t.Fatalf("long alert: %d %v", code, e)
	}
	if left := time.Until(ans.Overrides[0].ExpiresAt); left < 23*time.Hour+59*time.Minute || left > 24*time.Hour {
		t.Errorf("a three-day alert lasts %s, want the 24 h maximum", left)
	}
	if code, _ := doRaw(t, s, s.Token, "POST", "/api/v1/cap", ownAlert("R-2", "a@b", "Actual", "Alert", "", "", now), nil); code != 415 {
		t.Errorf("JSON content type: %d, want 415", code)
	}
}

func TestCAPFeedPolledWithConditionalGet(t *testing.T) {
	alert := ownAlert("F-1", "feed@example.vn", "Actual", "Alert", "", northVietnam, time.Now().Truncate(time.Second))
	var feedGets, notModified, docGets atomic.Int32
	const etag = `"v1"`
	mux := http.NewServeMux()
	mux.HandleFunc("/feed.atom", func(w http.ResponseWriter, r *http.Request) {
		feedGets.Add(1)
		if r.Header.Get("If-None-Match") == etag {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/atom+xml")
		fmt.Fprint(w, `<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><id>urn:feed</id><title>Floods</title>
<entry><id>urn:F-1</id><updated>2026-01-01T00:00:00Z</updated><link rel="alternate" type="application/cap+xml" href="/alerts/F-1.xml"/></entry></feed>`)
	})
	mux.HandleFunc("/alerts/F-1.xml", func(w http.ResponseWriter, r *http.Request) {
		docGets.Add(1)
		w.Header().Set("Content-Type", "application/cap+xml")
		w.Write(alert)
	})
	feed := httptest.NewServer(mux) // 127.0.0.1
	defer feed.Close()
	s := servertest.Start(t, servertest.Options{CAPSources: []server.CAPSource{
		{ID: "feed", Sender: "feed@example.vn", Policy: cap.AllowUnsigned, FeedURL: feed.URL + "/feed.atom", PollInterval: 100 * time.Millisecond}}})
	hoanKiem := mkDisplay(t, s, "Hoàn Kiếm", nil, f64(21.0285), f64(105.8542))
	servertest.Eventually(t, 20*time.Second, "the feed's alert becomes an override and the feed is asked again conditionally", func() bool {
		return countOverrides(t, s) == 1 && notModified.Load() >= 3
	})
	var list struct{ Overrides []ovrView }
	s.Do("GET", "/api/v1/overrides", nil, &list)
	if !sameIDs(list.Overrides[0].DisplayIDs, []string{hoanKiem}) {
		t.Errorf("feed override targets %v", list.Overrides[0].DisplayIDs)
	}
	if n := docGets.Load(); n != 1 {
		t.Errorf("the entry's CAP document was fetched %d times, want 1", n)
	}
	if countOverrides(t, s) != 1 {
		t.Error("the feed made more than one override")
	}
	acc := auditLog(t, s, store.AuditCAPAccepted)
	if len(acc) != 1 || acc[0].Actor != "cap-source:feed" || acc[0].RemoteAddr != feed.URL+"/feed.atom" {
		t.Errorf("feed message in the audit log: %+v", acc)
	}
}

func TestCAPFeedPlainDocumentWithLastModified(t *testing.T) {
	alert := ownAlert("P-1", "plain@example.vn", "Actual", "Alert", "", "", time.Now().Truncate(time.Second))
	lastMod := time.Now().UTC().Add(-time.Hour).Format(http.TimeFormat)
	var full, notModified atomic.Int32
	var ready atomic.Bool // the display exists: before it, the document would reach no display
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get("If-Modified-Since") == lastMod {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full.Add(1)
		w.Header().Set("Last-Modified", lastMod)
		w.Write(alert)
	}))
	defer feed.Close()
	s := servertest.Start(t, servertest.Options{CAPSources: []server.CAPSource{
		{ID: "plain", Sender: "*", Policy: cap.AllowUnsigned, FeedURL: feed.URL + "/cap.xml", PollInterval: 100 * time.Millisecond}}})
	mkDisplay(t, s, "Street", nil, nil, nil)
	ready.Store(true)
	servertest.Eventually(t, 20*time.Second, "the document becomes an override, then the feed answers 304", func() bool {
		return countOverrides(t, s) == 1 && notModified.Load() >= 2
	})
	// Full answers only until the organisation existed and the document was taken in.
	if n := countOverrides(t, s); n != 1 {
		t.Errorf("%d overrides", n)
	}
	if f := full.Load(); f > 3 {
		t.Errorf("%d full fetches; the conditional GET is not used", f)
	}
}

func TestCAPSourcesFile(t *testing.T) {
	dir := t.TempDir()
	sig := newSigner(t)
	pemData := "-----BEGIN CERTIFICATE-----\n" + wrap64(sig.Cert.Raw) + "-----END CERTIFICATE-----\n"
	if err := os.WriteFile(filepath.Join(dir, "authority.pem"), []byte(pemData), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(body string) string {
		p := filepath.Join(dir, "sources.json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	srcs, err := server.LoadCAPSources(write(`{"sources":[
		{"id":"hanoi","sender":"*@hanoi.example.vn","trusted_certs":["authority.pem"],"feed_url":"https://alerts.example.vn/cap.atom","poll_interval":"30s"},
		{"id":"lab","sender":"lab@example.vn","policy":"allow-unsigned"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 2 || len(srcs[0].Trusted) != 1 || srcs[0].Policy != cap.RequireSigned || srcs[0].PollInterval != 30*time.Second || srcs[1].Policy != cap.AllowUnsigned {
		t.Errorf("sources %+v", srcs)
	}
	for _, bad := range []string{
		`{"sources":[{"id":"a","sender":"*"}]}`, // require-signed without a certificate
		`{"sources":[{"id":"a","policy":"allow-unsigned","feed_url":"ftp://x/y"}]}`,
		`{"sources":[{"id":"a","policy":"allow-unsigned","feed_url":"https://x/y","poll_interval":"1s"}]}`,
		`{"sources":[{"id":"a","policy":"allow-unsigned","polling":"1m"}]}`,
		`{"sources":[{"id":"a","policy":"maybe"}]}`,
		`{"sources":[{"id":"a","policy":"allow-unsigned"},{"id":"a","policy":"allow-unsigned"}]}`,
		`{"sources":[]}`,
	} {
		if _, err := server.LoadCAPSources(write(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func wrap64(der []byte) string {
	b := base64.StdEncoding.EncodeToString(der)
	var out strings.Builder
	for len(b) > 64 {
		out.WriteString(b[:64] + "\n")
		b = b[64:]
	}
	return out.String() + b + "\n"
}

func TestCAPEncodingsVersionsAndHostileFiles(t *testing.T) {
	s := servertest.Start(t, servertest.Options{CAPAllowUnsigned: true})
	mkDisplay(t, s, "Street", nil, f64(21.0), f64(105.8))
	for _, c := range []struct {
		file, code string
	}{
		{"latin1-storm.xml", ""}, {"cap11-storm.xml", ""}, {"flood-alert-vi-en-zh.xml", ""},
		{"hostile-dtd.xml", "doctype"}, {"hostile-xinclude.xml", "xinclude"}, {"wrong-namespace.xml", "namespace"},
	} {
		doc, err := os.ReadFile(filepath.Join("cap", "testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		code, ans, e := postCAP(t, s, s.Token, doc, "?dry_run=true")
		if c.code == "" && (code != 200 || ans.Outcome != "dry_run") {
			t.Errorf("%s: %d %+v %v", c.file, code, ans, e)
		}
		if c.code != "" && (code != 422 || e.Error.Code != c.code) {
			t.Errorf("%s: %d %v, want 422 %s", c.file, code, e, c.code)
		}
	}
	if countOverrides(t, s) != 0 || len(auditLog(t, s, store.AuditCAPRefused)) != 0 {
		t.Error("a dry run stored or recorded something")
	}
}

// BenchmarkCAPPush measures POST /api/v1/cap of a signed alert, from the
// request to the 201 (parse, verify, store, announce, audit).
func BenchmarkCAPPush(b *testing.B) {
	authority := newSigner(b)
	const sender = "bench@example.vn"
	s := servertest.Start(b, servertest.Options{CAPSources: []server.CAPSource{
		{ID: "bench", Sender: sender, Trusted: []*x509.Certificate{authority.Cert}, Policy: cap.RequireSigned}}})
	mkDisplay(b, s, "Hoàn Kiếm", nil, f64(21.0285), f64(105.8542))
	now := time.Now().Truncate(time.Second)
	docs := make([][]byte, b.N)
	for i := range docs {
		docs[i] = authority.Sign(b, ownAlert(fmt.Sprintf("B-%d", i), sender, "Actual", "Alert", "", northVietnam, now))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest("POST", s.URL+"/api/v1/cap", bytes.NewReader(docs[i]))
		req.Header.Set("Content-Type", "application/cap+xml")
		req.Header.Set("Authorization", "Bearer "+s.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
