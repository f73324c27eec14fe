package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Result states.
const (
	Pass = "PASS"
	Fail = "FAIL"
	Skip = "SKIP"
)

// Result is the verdict on one check.
type Result struct {
	Scenario string
	Check    string
	Status   string // Pass, Fail or Skip
	Reason   string // why it failed or was skipped
	Took     time.Duration
}

// Report is a whole run.
type Report struct {
	Player       string   // player_version from hello
	Capabilities []string // from hello
	Results      []Result
}

// Failed reports whether any check failed.
func (r Report) Failed() bool {
	for _, x := range r.Results {
		if x.Status == Fail {
			return true
		}
	}
	return false
}

// Find returns the result of a check by scenario and check name prefix.
func (r Report) Find(scenario, check string) (Result, bool) {
	for _, x := range r.Results {
		if x.Scenario == scenario && strings.HasPrefix(x.Check, check) {
			return x, true
		}
	}
	return Result{}, false
}

// Write prints the report, one line per check, then a summary.
func (r Report) Write(w io.Writer) {
	caps := "none"
	if len(r.Capabilities) > 0 {
		caps = strings.Join(r.Capabilities, ", ")
	}
	fmt.Fprintf(w, "player %q, capabilities: %s\n", r.Player, caps)
	n := map[string]int{}
	for _, x := range r.Results {
		n[x.Status]++
		line := fmt.Sprintf("%s  %s: %s", x.Status, x.Scenario, x.Check)
		if x.Reason != "" {
			line += " — " + x.Reason
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", n[Pass], n[Fail], n[Skip])
}

// Run plays the script against the player that connects to the kit. It
// returns when every check has a verdict or ctx ends (the checks not run
// are then failed).
func (k *Kit) Run(ctx context.Context) Report {
	r := &run{k: k}
	var rep Report
	fatal := ""
	for _, sc := range script {
		if k.opts.Log != nil {
			fmt.Fprintf(k.opts.Log, "scenario: %s\n", sc.name)
		}
		if sc.needs != "" && fatal == "" {
			k.mu.Lock()
			caps := rep.Capabilities
			k.mu.Unlock()
			if !slices.Contains(caps, sc.needs) {
				for _, c := range sc.checks {
					rep.Results = append(rep.Results, Result{Scenario: sc.name, Check: c.name, Status: Skip, Reason: fmt.Sprintf("not announced (hello.capabilities lacks %q)", sc.needs)})
				}
				continue
			}
		}
		failed := ""
		for _, c := range sc.checks {
			res := Result{Scenario: sc.name, Check: c.name}
			switch {
			case fatal != "":
				res.Status, res.Reason = Fail, "not run: "+fatal
			case failed != "":
				res.Status, res.Reason = Skip, "not run: "+failed+" failed"
			default:
				began := time.Now()
				err := c.run(ctx, r)
				res.Took = time.Since(began)
				var s skip
				switch {
				case err == nil:
					res.Status = Pass
				case errors.As(err, &s):
					res.Status, res.Reason = Skip, s.Error()
				default:
					res.Status, res.Reason = Fail, err.Error()
					failed = "“" + c.name + "”"
				}
			}
			rep.Results = append(rep.Results, res)
		}
		if sc.name == "pairing" {
			k.mu.Lock()
			for _, c := range k.conns {
				if c.hello != nil {
					rep.Player, rep.Capabilities = c.hello.PlayerVersion, c.hello.Capabilities
					break
				}
			}
			k.mu.Unlock()
		}
		if sc.fatal && failed != "" && fatal == "" {
			fatal = sc.name + " failed"
		}
		if ctx.Err() != nil && fatal == "" {
			fatal = "the run was cancelled"
		}
	}
	// A tampered file shown later than its scenario still fails it.
	if r.tampered.SHA256 != "" {
		if err := r.tamperedNeverShown(); err != nil {
			rep.Results = append(rep.Results, Result{Scenario: "tampered file", Check: "the file is never shown (whole run)", Status: Fail, Reason: err.Error()})
		}
	}
	return rep
}
