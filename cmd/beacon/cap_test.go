package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"beacon/server/servertest"
)

var capTestdata = filepath.Join("..", "..", "server", "cap", "testdata")

// capReports decodes the stream of reports "beacon cap check" prints.
func capReports(t *testing.T, out []byte) []map[string]any {
	t.Helper()
	var reps []map[string]any
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var r map[string]any
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("output is not a stream of JSON objects: %v\n%s", err, out)
		}
		reps = append(reps, r)
	}
	return reps
}

func runCap(t *testing.T, args ...string) ([]map[string]any, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(append([]string{"cap", "check"}, args...), &out, &errb)
	return capReports(t, out.Bytes()), errb.String(), err
}

func TestCapCheckAccepted(t *testing.T) {
	reps, summary, err := runCap(t, filepath.Join(capTestdata, "flood-alert-vi-en-zh.xml"), filepath.Join(capTestdata, "flood-cancel.xml"))
	if err != nil {
		t.Fatalf("%v\n%s", err, summary)
	}
	if len(reps) != 2 || !strings.Contains(summary, "2 accepted, 0 refused") {
		t.Fatalf("%d reports, %s", len(reps), summary)
	}
	r := reps[0]
	if r["accepted"] != true || r["level"] != "critical" || r["audience"] != "public" {
		t.Errorf("report %v", r)
	}
	if sig := r["signature"].(map[string]any); sig["verdict"] != "unsigned" {
		t.Errorf("signature %v", sig)
	}
	tg := r["targets"].(map[string]any)
	if areas := tg["areas"].([]any); len(areas) != 3 || !strings.Contains(tg["note"].(string), "geocode:VALUE") {
		t.Errorf("targets %v", tg)
	}
	if r["alert"].(map[string]any)["identifier"] != "BEACON-TEST-FLOOD-001" {
		t.Errorf("alert %v", r["alert"])
	}
	if vi := r["texts"].(map[string]any)["vi"].(map[string]any); vi["headline"] != "KHẨN CẤP: Lũ quét tại Hội An" {
		t.Errorf("vi text %v", vi)
	}
	if sup := reps[1]["supersedes"].([]any); len(sup) != 2 {
		t.Errorf("cancel supersedes %v", sup)
	}
}

func TestCapCheckRefusedMakesItFail(t *testing.T) {
	reps, summary, err := runCap(t,
		filepath.Join(capTestdata, "test-status.xml"),
		filepath.Join(capTestdata, "wrong-namespace.xml"),
		filepath.Join(capTestdata, "hostile-dtd.xml"),
		filepath.Join(capTestdata, "no-such-file.xml"))
	if err == nil {
		t.Fatal("refused files, yet no error")
	}
	if len(reps) != 4 || !strings.Contains(summary, "1 accepted, 3 refused") {
		t.Fatalf("%d reports: %s", len(reps), summary)
	}
	if reps[0]["audience"] != "test" {
		t.Errorf("test status %v", reps[0])
	}
	for i, code := range []string{"namespace", "doctype", "unreadable"} {
		r := reps[i+1]
		ref, _ := r["refused"].(map[string]any)
		if r["accepted"] != false || ref == nil || ref["code"] != code || ref["reason"] == "" {
			t.Errorf("%s: %v", r["file"], r)
		}
	}
	// require-signed refuses an unsigned message.
	if _, _, err := runCap(t, "--policy", "require-signed", filepath.Join(capTestdata, "flood-update.xml")); err == nil {
		t.Error("require-signed accepted an unsigned file")
	}
	if _, _, err := runCap(t, "--policy", "sometimes", filepath.Join(capTestdata, "flood-update.xml")); err == nil {
		t.Error("an unknown policy was taken")
	}
}

func TestCapCheckSignedRealAlert(t *testing.T) {
	dir := findShared(t)
	alert := filepath.Join(dir, "05-naads-ec-update-bilingual-2signatures.cap")
	at := "--at=2013-01-24T22:00:00Z"
	for _, cert := range []string{"05a-naads_x509_cert.pem", "05b-environment_canada_x509_cert.pem"} {
		reps, summary, err := runCap(t, "--trust", filepath.Join(dir, cert), at, alert)
		if err != nil {
			t.Fatalf("%s: %v %s", cert, err, summary)
		}
		if sig := reps[0]["signature"].(map[string]any); sig["verdict"] != "valid" || sig["certificate_subject"] == "" {
			t.Errorf("%s: %v", cert, sig)
		}
	}
	// Trusted but checked now: the certificates have expired.
	reps, _, err := runCap(t, "--trust", filepath.Join(dir, "05a-naads_x509_cert.pem"), alert)
	if err == nil || reps[0]["refused"].(map[string]any)["code"] != "signature" {
		t.Errorf("expired certificate accepted: %v", reps)
	}
	// Nothing trusted: the signature cannot be verified, refused.
	reps, _, err = runCap(t, at, alert)
	if err == nil || reps[0]["signature"].(map[string]any)["verdict"] != "invalid" {
		t.Errorf("untrusted signature accepted: %v", reps)
	}
}

// The process exits 0 only when every file is accepted.
func TestCapCheckExitStatus(t *testing.T) {
	if os.Getenv("BEACON_CAP_CHECK_MAIN") == "1" {
		os.Args = append([]string{"beacon"}, strings.Fields(os.Getenv("BEACON_CAP_CHECK_ARGS"))...)
		main()
		os.Exit(0)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	status := func(files ...string) int {
		cmd := exec.Command(exe, "-test.run=^TestCapCheckExitStatus$")
		cmd.Env = append(os.Environ(), "BEACON_CAP_CHECK_MAIN=1", "BEACON_CAP_CHECK_ARGS=cap check "+strings.Join(files, " "))
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return 0
	}
	good := filepath.Join(capTestdata, "flood-update.xml")
	bad := filepath.Join(capTestdata, "wrong-namespace.xml")
	if s := status(good); s != 0 {
		t.Errorf("accepted file: exit %d", s)
	}
	if s := status(good, bad); s == 0 {
		t.Error("one refused file: exit 0")
	}
}

// findShared finds shared/testdata/cap beside the repository or a parent
// of it; the test is skipped when absent.
func findShared(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for up := filepath.Dir(dir); ; up = filepath.Dir(up) {
		d := filepath.Join(up, "shared", "testdata", "cap")
		if _, err := os.Stat(d); err == nil {
			return d
		}
		if filepath.Dir(up) == up {
			t.Skip("shared/testdata/cap not found beside the repository: skipping the real signed alert")
		}
	}
}

func TestCapCheckAsksTheServerForTargets(t *testing.T) {
	s := servertest.Start(t, servertest.Options{CAPAllowUnsigned: true})
	hoiAn := testDisplay(s.OrgID)
	lat, lon := 15.8801, 108.3380
	hoiAn.Latitude, hoiAn.Longitude = &lat, &lon
	d, err := s.Store().CreateDisplay(t.Context(), hoiAn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store().CreateDisplay(t.Context(), testDisplay(s.OrgID)); err != nil { // no location
		t.Fatal(err)
	}
	reps, summary, err := runCap(t, "--server", s.URL, "--token", s.Token, filepath.Join(capTestdata, "flood-alert-vi-en-zh.xml"))
	if err != nil || len(reps) != 1 {
		t.Fatalf("%v %s", err, summary)
	}
	tg := reps[0]["targets"].(map[string]any)
	if ids, _ := tg["display_ids"].([]any); len(ids) != 1 || ids[0] != d.ID {
		t.Errorf("targets %v, want only %s", tg, d.ID)
	}
	var list struct{ Overrides []any }
	if s.Do("GET", "/api/v1/overrides", nil, &list); len(list.Overrides) != 0 {
		t.Error("a dry run made an override")
	}
}
