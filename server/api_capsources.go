package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"beacon/server/cap"
	"beacon/server/store"
)

// CAP sources and messages as the console's emergency page shows them
// (docs/cap.md, "Reading sources and messages"): the configured sources
// with their policy, trusted certificates and feed state, and the last
// messages, accepted (with the outcome and the signature verdict) or
// refused (with the reason), newest first.

// feedStatuses is the last poll of each feed source.
type feedStatuses struct {
	mu sync.Mutex
	m  map[string]feedStatus
}

type feedStatus struct {
	at  time.Time
	err string
}

func (f *feedStatuses) polled(id string, at time.Time, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]feedStatus{}
	}
	st := feedStatus{at: at}
	if err != nil {
		st.err = err.Error()
	}
	f.m[id] = st
}

func (f *feedStatuses) get(id string) (feedStatus, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.m[id]
	return st, ok
}

type capCertView struct {
	Subject  string    `json:"subject"`
	SHA256   string    `json:"sha256"`
	NotAfter time.Time `json:"not_after"`
}

type capSourceView struct {
	ID            string        `json:"id"`
	Sender        string        `json:"sender"`
	Policy        string        `json:"policy"`
	Trusted       []capCertView `json:"trusted_certificates"`
	FeedURL       string        `json:"feed_url,omitempty"`
	PollIntervalS float64       `json:"poll_interval_s,omitempty"`
	LastPollAt    *time.Time    `json:"last_poll_at,omitempty"`
	LastPollError string        `json:"last_poll_error,omitempty"`
	// LastMessage is the newest message of this source (accepted or
	// refused), null when none came.
	LastMessage *capMessageView `json:"last_message"`
}

type capMessageView struct {
	ID           string       `json:"id"`
	Source       string       `json:"source"`
	Key          string       `json:"key,omitempty"`
	Accepted     bool         `json:"accepted"`
	Outcome      string       `json:"outcome"` // triggered, cancelled, no_screens, …, or "refused"
	Code         string       `json:"code,omitempty"`
	Reason       string       `json:"reason,omitempty"`
	Status       string       `json:"status,omitempty"`
	MsgType      string       `json:"msg_type,omitempty"`
	Level        string       `json:"level,omitempty"`
	Signature    *cap.Verdict `json:"signature,omitempty"`
	OverrideIDs  []string     `json:"override_ids"`
	ReceivedBy   string       `json:"received_by"`
	ReceivedFrom string       `json:"received_from"`
	ReceivedAt   time.Time    `json:"received_at"`
}

// maxCAPMessagesListed bounds the messages read for one answer.
const maxCAPMessagesListed = 1000

func viewCAPMessage(m store.CAPMessage) capMessageView {
	v := capMessageView{ID: m.ID, Source: m.Source, Key: m.Key, Accepted: true, Outcome: m.Outcome, Status: m.Status,
		MsgType: m.MsgType, OverrideIDs: nonNil(m.OverrideIDs), ReceivedBy: m.ReceivedBy, ReceivedFrom: m.ReceivedFrom, ReceivedAt: m.CreatedAt}
	var ans capAnswer
	if json.Unmarshal(m.Result, &ans) == nil {
		v.Reason, v.Level = ans.Reason, ans.Level
		if ans.Signature.Kind != "" {
			sig := ans.Signature
			v.Signature = &sig
		}
	}
	return v
}

// viewCAPRefusal reads a refusal from its audit entry, whose details are
// "source=ID CODE: REASON" (see refuseCAP).
func viewCAPRefusal(e store.AuditEntry) capMessageView {
	v := capMessageView{ID: e.ID, Key: e.Subject, Outcome: "refused", OverrideIDs: []string{}, ReceivedBy: e.Actor,
		ReceivedFrom: e.RemoteAddr, ReceivedAt: e.CreatedAt}
	rest, ok := strings.CutPrefix(e.Details, "source=")
	if ok {
		v.Source, rest, _ = strings.Cut(rest, " ")
	}
	v.Code, v.Reason, ok = strings.Cut(rest, ": ")
	if !ok {
		v.Code, v.Reason = "", rest
	}
	switch v.Code {
	case cap.CodeSignature:
		v.Signature = &cap.Verdict{Kind: cap.Invalid, Reason: v.Reason}
	case cap.CodeUnsigned:
		v.Signature = &cap.Verdict{Kind: cap.Unsigned, Reason: v.Reason}
	}
	return v
}

// capMessages merges accepted and refused messages, newest first.
func (s *Server) capMessages(c *fiber.Ctx, source string) ([]capMessageView, error) {
	ctx, cancel := s.timeout()
	defer cancel()
	org := who(c).OrgID
	acc, err := s.store.CAPMessages(ctx, org, maxCAPMessagesListed)
	if err != nil {
		return nil, err
	}
	ref, err := s.store.AuditLogAction(ctx, org, store.AuditCAPRefused, maxCAPMessagesListed)
	if err != nil {
		return nil, err
	}
	out := make([]capMessageView, 0, len(acc)+len(ref))
	for _, m := range acc {
		if source == "" || m.Source == source {
			out = append(out, viewCAPMessage(m))
		}
	}
	for _, e := range ref {
		if v := viewCAPRefusal(e); source == "" || v.Source == source {
			out = append(out, v)
		}
	}
	return out, nil
}

func (s *Server) listCAPMessages(c *fiber.Ctx) error {
	list, err := s.capMessages(c, c.Query("source"))
	if err != nil {
		return err
	}
	return listPage(c, "messages", list, func(m capMessageView) string { return sortKey(timeKey(m.ReceivedAt), m.ID) }, true, func(m capMessageView) (any, error) {
		return m, nil
	})
}

func (s *Server) listCAPSources(c *fiber.Ctx) error {
	msgs, err := s.capMessages(c, "")
	if err != nil {
		return err
	}
	last := map[string]*capMessageView{}
	for i := range msgs {
		m := &msgs[i]
		if p := last[m.Source]; p == nil || m.ReceivedAt.After(p.ReceivedAt) {
			last[m.Source] = m
		}
	}
	org := who(c).OrgID
	out := []capSourceView{}
	for _, src := range s.capSources {
		if src.OrgID != "" && src.OrgID != org { // another organisation's feed
			continue
		}
		policy := src.Policy
		if policy == "" {
			policy = cap.RequireSigned
		}
		v := capSourceView{ID: src.ID, Sender: src.Sender, Policy: string(policy), Trusted: []capCertView{}, FeedURL: src.FeedURL, LastMessage: last[src.ID]}
		if v.Sender == "" {
			v.Sender = "*"
		}
		for _, cert := range src.Trusted {
			sum := sha256.Sum256(cert.Raw)
			v.Trusted = append(v.Trusted, capCertView{Subject: cert.Subject.String(), SHA256: hex.EncodeToString(sum[:]), NotAfter: cert.NotAfter})
		}
		if src.FeedURL != "" {
			iv := src.PollInterval
			if iv <= 0 {
				iv = DefaultCAPPollInterval
			}
			v.PollIntervalS = iv.Seconds()
			if st, ok := s.feeds.get(src.ID); ok {
				at := st.at
				v.LastPollAt, v.LastPollError = &at, st.err
			}
		}
		out = append(out, v)
	}
	return c.JSON(fiber.Map{"sources": out})
}
