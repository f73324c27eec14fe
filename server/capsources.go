package server

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"beacon/server/cap"
)

// CAP sources (docs/cap.md, "Sources"). A source says which senders it
// covers, which certificates sign their messages and under which policy,
// and optionally a feed this server polls.

// Feed polling bounds.
const (
	DefaultCAPPollInterval = time.Minute
	MinCAPPollInterval     = 10 * time.Second
	maxCAPFeedBytes        = 4 << 20
)

// CAPSource is one configured CAP source.
type CAPSource struct {
	ID string
	// Sender matches the CAP sender of pushed messages: exact, or a
	// pattern with * (path.Match); "" or "*" matches every sender. The
	// first source that matches a pushed message's sender checks it.
	Sender  string
	Trusted []*x509.Certificate
	Policy  cap.Policy // "" is require-signed
	// FeedURL, when set, is polled every PollInterval (a CAP document or
	// an Atom feed of CAP entries) for the organisation OrgID ("" is the
	// only organisation of the server).
	FeedURL      string
	PollInterval time.Duration
	OrgID        string
	// MaxBytes bounds one CAP document; 0 is cap.DefaultMaxBytes.
	MaxBytes int64
	// ResourceHosts are the hosts whose resource URIs are fetched ("host",
	// "host:port", "*.domain"); none: only inline (derefUri) resources
	// are taken. ResourceMaxBytes bounds one resource (0:
	// DefaultCAPResourceMaxBytes); ResourceTimeout bounds the time the
	// resources of one alert may take to fetch and process (0:
	// DefaultCAPResourceTimeout).
	ResourceHosts    []string
	ResourceMaxBytes int64
	ResourceTimeout  time.Duration
}

func (src CAPSource) check() cap.Source {
	return cap.Source{Name: src.ID, Policy: src.Policy, Trusted: src.Trusted, Options: cap.Options{MaxBytes: src.MaxBytes}}
}

func (src CAPSource) matches(sender string) bool {
	if src.Sender == "" || src.Sender == "*" {
		return true
	}
	ok, err := path.Match(src.Sender, sender)
	return err == nil && ok
}

// defaultCAPSource is used when no source is configured: push only, every
// sender, no certificate trusted, so require-signed refuses every message
// until the operator configures sources or allows unsigned ones.
func defaultCAPSource(allowUnsigned bool) CAPSource {
	p := cap.RequireSigned
	if allowUnsigned {
		p = cap.AllowUnsigned
	}
	return CAPSource{ID: "default", Sender: "*", Policy: p}
}

type capSourceFile struct {
	Sources []struct {
		ID           string   `json:"id"`
		Sender       string   `json:"sender"`
		TrustedCerts []string `json:"trusted_certs"`
		Policy       string   `json:"policy"`
		FeedURL      string   `json:"feed_url"`
		PollInterval string   `json:"poll_interval"`
		OrgID        string   `json:"org_id"`
		MaxBytes     int64    `json:"max_bytes"`
		// Resources: see CAPSource.
		ResourceHosts    []string `json:"resource_hosts"`
		ResourceMaxBytes int64    `json:"resource_max_bytes"`
		ResourceTimeout  string   `json:"resource_timeout"`
	} `json:"sources"`
}

// LoadCAPSources reads a CAP sources file (JSON, see docs/cap.md).
// Certificate paths are relative to the file's directory.
func LoadCAPSources(file string) ([]CAPSource, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var f capSourceFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if len(f.Sources) == 0 {
		return nil, fmt.Errorf("%s: no sources", file)
	}
	dir := filepath.Dir(file)
	seen := map[string]bool{}
	var out []CAPSource
	for i, r := range f.Sources {
		where := fmt.Sprintf("%s: sources[%d]", file, i)
		if r.ID == "" || seen[r.ID] {
			return nil, fmt.Errorf("%s: id is missing or used twice", where)
		}
		seen[r.ID] = true
		src := CAPSource{ID: r.ID, Sender: r.Sender, FeedURL: r.FeedURL, OrgID: r.OrgID, MaxBytes: r.MaxBytes,
			ResourceHosts: r.ResourceHosts, ResourceMaxBytes: r.ResourceMaxBytes}
		if r.ResourceMaxBytes < 0 {
			return nil, fmt.Errorf("%s: resource_max_bytes must not be negative", where)
		}
		for _, h := range r.ResourceHosts {
			if strings.TrimSpace(h) == "" || strings.ContainsAny(h, "/?#@ ") {
				return nil, fmt.Errorf("%s: resource_hosts: %q is not a host, host:port or *.domain", where, h)
			}
		}
		if r.ResourceTimeout != "" {
			if src.ResourceTimeout, err = time.ParseDuration(r.ResourceTimeout); err != nil || src.ResourceTimeout <= 0 {
				return nil, fmt.Errorf("%s: resource_timeout %q is not a positive duration", where, r.ResourceTimeout)
			}
		}
		if _, err := path.Match(r.Sender, ""); err != nil {
			return nil, fmt.Errorf("%s: sender pattern %q: %v", where, r.Sender, err)
		}
		src.Policy = cap.RequireSigned
		if r.Policy != "" {
			if src.Policy, err = cap.ParsePolicy(r.Policy); err != nil {
				return nil, fmt.Errorf("%s: %v", where, err)
			}
		}
		for _, c := range r.TrustedCerts {
			if !filepath.IsAbs(c) {
				c = filepath.Join(dir, c)
			}
			pemData, err := os.ReadFile(c)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", where, err)
			}
			certs, err := cap.LoadCertificates(pemData)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %v", where, c, err)
			}
			src.Trusted = append(src.Trusted, certs...)
		}
		if src.Policy == cap.RequireSigned && len(src.Trusted) == 0 {
			return nil, fmt.Errorf("%s: policy require-signed needs trusted_certs (or set policy allow-unsigned)", where)
		}
		if r.FeedURL != "" {
			u, err := url.Parse(r.FeedURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, fmt.Errorf("%s: feed_url %q is not an http or https URL", where, r.FeedURL)
			}
			src.PollInterval = DefaultCAPPollInterval
			if r.PollInterval != "" {
				if src.PollInterval, err = time.ParseDuration(r.PollInterval); err != nil {
					return nil, fmt.Errorf("%s: poll_interval: %v", where, err)
				}
			}
			if src.PollInterval < MinCAPPollInterval {
				return nil, fmt.Errorf("%s: poll_interval is under the minimum of %s", where, MinCAPPollInterval)
			}
		} else if r.PollInterval != "" {
			return nil, fmt.Errorf("%s: poll_interval without feed_url", where)
		}
		out = append(out, src)
	}
	return out, nil
}
