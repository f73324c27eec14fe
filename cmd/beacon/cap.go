package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"beacon/server/cap"
)

const capUsage = `usage:
  beacon cap check [--trust CERT.pem]… [--policy require-signed|allow-unsigned] [--at TIME] [--max-bytes N]
                   [--server URL --token T] FILE…`

// capCmd is "beacon cap …".
func capCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		return errors.New(capUsage)
	}
	return capCheck(args[1:], stdout, stderr)
}

// capReport is what "beacon cap check" prints for one file.
type capReport struct {
	File      string       `json:"file"`
	Accepted  bool         `json:"accepted"`
	Refused   *capRefusal  `json:"refused,omitempty"`
	Signature *cap.Verdict `json:"signature,omitempty"`
	Level     cap.Level    `json:"level,omitempty"`
	Audience  cap.Audience `json:"audience,omitempty"`
	// Why the audience is what it is.
	AudienceReason string              `json:"audience_reason,omitempty"`
	Key            *cap.Key            `json:"key,omitempty"`
	Supersedes     []cap.Key           `json:"supersedes,omitempty"`
	Expires        *time.Time          `json:"expires,omitempty"`
	Texts          map[string]cap.Text `json:"texts,omitempty"`
	Targets        *capTargets         `json:"targets,omitempty"`
	Alert          *cap.Alert          `json:"alert,omitempty"`
}

type capRefusal struct {
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

type capTargets struct {
	Areas []cap.Area `json:"areas"`
	Note  string     `json:"note"`
	// With --server: what the server answered to a dry run (its sources,
	// policy and displays decide), and the displays it would reach.
	Server     json.RawMessage `json:"server,omitempty"`
	DisplayIDs []string        `json:"display_ids,omitempty"`
}

const targetsNote = "a display is targeted when its location lies in one of these polygons or circles, or it is tagged geocode:VALUE for one of their geocodes; with no such area, every display; give --server and --token to ask a server which displays"

const serverNote = "the displays the server would target (POST /api/v1/cap?dry_run=true: nothing was stored or shown)"

// capCheck parses, verifies and reports each file; it fails unless every
// file is accepted.
func capCheck(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cap check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var trustFiles stringList
	fs.Var(&trustFiles, "trust", "PEM certificate trusted to sign (repeatable)")
	policyFlag := fs.String("policy", "", "require-signed or allow-unsigned (default: require-signed with --trust, else allow-unsigned)")
	atFlag := fs.String("at", "", "verify signatures at this instant (RFC 3339) instead of now")
	maxBytes := fs.Int64("max-bytes", cap.DefaultMaxBytes, "largest document accepted")
	serverURL := fs.String("server", "", "ask this Beacon server which displays each accepted file would reach (a dry run)")
	token := fs.String("token", "", "API token (admin or authority) for --server (or $BEACON_TOKEN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var client *apiClient
	if *serverURL != "" {
		var err error
		if client, err = newAPIClient(*serverURL, *token); err != nil {
			return err
		}
	}
	files := fs.Args()
	if len(files) == 0 {
		return errors.New(capUsage)
	}
	src := cap.Source{Name: "command line", Options: cap.Options{MaxBytes: *maxBytes}}
	for _, f := range trustFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		certs, err := cap.LoadCertificates(b)
		if err != nil {
			return fmt.Errorf("--trust %s: %v", f, err)
		}
		src.Trusted = append(src.Trusted, certs...)
	}
	switch {
	case *policyFlag != "":
		p, err := cap.ParsePolicy(*policyFlag)
		if err != nil {
			return err
		}
		src.Policy = p
	case len(src.Trusted) > 0:
		src.Policy = cap.RequireSigned
	default:
		src.Policy = cap.AllowUnsigned
	}
	var at time.Time
	if *atFlag != "" {
		t, err := time.Parse(time.RFC3339, *atFlag)
		if err != nil {
			return fmt.Errorf("--at %q: want RFC 3339, e.g. 2013-01-24T22:00:00Z", *atFlag)
		}
		at = t
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	refused := 0
	for _, f := range files {
		rep := checkFile(f, src, at)
		if rep.Accepted && client != nil {
			askServer(client, f, &rep)
		}
		if !rep.Accepted {
			refused++
		}
		if err := enc.Encode(rep); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "cap check: %d accepted, %d refused (policy %s, %d trusted certificates)\n", len(files)-refused, refused, src.Policy, len(src.Trusted))
	if refused > 0 {
		return fmt.Errorf("%d of %d files refused", refused, len(files))
	}
	return nil
}

func checkFile(name string, src cap.Source, at time.Time) capReport {
	rep := capReport{File: name}
	fail := func(code, reason string) capReport {
		rep.Refused = &capRefusal{Code: code, Reason: reason}
		return rep
	}
	fh, err := os.Open(name)
	if err != nil {
		return fail("unreadable", err.Error())
	}
	data, err := cap.ReadAll(fh, src.Options)
	fh.Close()
	if err != nil {
		if r, ok := cap.Refusal(err); ok {
			return fail(r.Code, r.Reason)
		}
		return fail("unreadable", err.Error())
	}
	a, v, err := src.Check(data, at)
	if v.Kind != "" {
		rep.Signature = &v
	}
	if err != nil {
		if r, ok := cap.Refusal(err); ok {
			return fail(r.Code, r.Reason)
		}
		return fail("error", err.Error())
	}
	rep.Accepted = true
	rep.Alert = a
	rep.Level = a.Level()
	rep.Audience, rep.AudienceReason = a.Audience()
	k := a.Key()
	rep.Key = &k
	rep.Supersedes = a.Supersedes()
	if exp, ok := a.Expires(); ok {
		rep.Expires = &exp
	}
	rep.Texts = a.Texts()
	rep.Targets = &capTargets{Areas: a.Areas(), Note: targetsNote}
	if rep.Targets.Areas == nil {
		rep.Targets.Areas = []cap.Area{}
	}
	return rep
}

// askServer sends the file to the server as a dry run; a refusal there
// (its own sources and policy) refuses the file.
func askServer(c *apiClient, name string, rep *capReport) {
	data, err := os.ReadFile(name)
	if err != nil {
		rep.Accepted, rep.Refused = false, &capRefusal{Code: "unreadable", Reason: err.Error()}
		return
	}
	b, err := c.do("POST", "/api/v1/cap?dry_run=true", data, map[string]string{"Content-Type": "application/cap+xml"})
	if err != nil {
		rep.Accepted, rep.Refused = false, &capRefusal{Code: "server", Reason: err.Error()}
		return
	}
	var ans struct {
		DisplayIDs []string `json:"display_ids"`
	}
	_ = json.Unmarshal(b, &ans)
	rep.Targets.Server = json.RawMessage(b)
	rep.Targets.DisplayIDs = ans.DisplayIDs
	if rep.Targets.DisplayIDs == nil {
		rep.Targets.DisplayIDs = []string{}
	}
	rep.Targets.Note = serverNote
}
