package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"beacon/server/cap"
)

// Polled CAP feeds: each source with a feed URL is fetched at its
// interval with a conditional GET (If-None-Match, If-Modified-Since). The
// feed is a CAP document or an Atom feed whose entries link to CAP
// documents; each new document goes through intakeCAP under the feed's
// own source. Duplicates (the same CAP key) are ignored there.

const nsAtom = "http://www.w3.org/2005/Atom"

type feedState struct {
	etag, lastModified string
	entries            map[string]string // Atom entry id → updated, fetched already
	lastDoc            [32]byte          // SHA-256 of the last plain CAP document taken in
}

func (s *Server) startCAPFeeds() {
	for i := range s.cfg.CAPSources {
		src := s.cfg.CAPSources[i]
		if src.FeedURL == "" {
			continue
		}
		if src.PollInterval <= 0 {
			src.PollInterval = DefaultCAPPollInterval
		}
		s.bgDone.Add(1)
		go func() {
			defer s.bgDone.Done()
			s.pollCAPFeed(&src)
		}()
	}
}

func (s *Server) pollCAPFeed(src *CAPSource) {
	client := &http.Client{Timeout: 30 * time.Second}
	st := &feedState{entries: map[string]string{}}
	t := time.NewTicker(src.PollInterval)
	defer t.Stop()
	for {
		err := s.fetchCAPFeed(s.bg, client, src, st)
		if err != nil && s.bg.Err() == nil {
			s.log.Warn("CAP feed", "source", src.ID, "url", src.FeedURL, "err", err)
		}
		s.feeds.polled(src.ID, time.Now().UTC(), err)
		select {
		case <-s.bg.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) feedOrg(ctx context.Context, src *CAPSource) (string, error) {
	if src.OrgID != "" {
		return src.OrgID, nil
	}
	orgs, err := s.store.Orgs(ctx)
	if err != nil {
		return "", err
	}
	if len(orgs) != 1 {
		return "", fmt.Errorf("the server has %d organisations: set org_id on the source", len(orgs))
	}
	return orgs[0].ID, nil
}

// get fetches u, conditionally when etag or lastModified is set, reading
// at most limit bytes. It returns nil data on 304.
func get(ctx context.Context, client *http.Client, u, etag, lastModified string, limit int64) (data []byte, newETag, newLM string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", "", err
	}
	req.Header.Set("Accept", "application/cap+xml, application/atom+xml, application/xml;q=0.9")
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if lastModified != "" {
		req.Header.Set("If-Modified-Since", lastModified)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return nil, etag, lastModified, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", "", fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	data, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, "", "", err
	}
	if int64(len(data)) > limit {
		return nil, "", "", fmt.Errorf("GET %s: larger than %d bytes", u, limit)
	}
	return data, resp.Header.Get("ETag"), resp.Header.Get("Last-Modified"), nil
}

type atomFeed struct {
	XMLName xml.Name `xml:"feed"`
	Entries []struct {
		ID      string `xml:"id"`
		Updated string `xml:"updated"`
		Links   []struct {
			Href string `xml:"href,attr"`
			Rel  string `xml:"rel,attr"`
			Type string `xml:"type,attr"`
		} `xml:"link"`
	} `xml:"entry"`
}

// isAtom reports whether data's root element is an Atom feed. It refuses
// a DOCTYPE like the CAP parser does.
func isAtom(data []byte) (bool, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false, fmt.Errorf("not XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return false, errors.New("the feed has a DOCTYPE; refused")
		case xml.StartElement:
			return t.Name.Space == nsAtom && t.Name.Local == "feed", nil
		}
	}
}

func (s *Server) fetchCAPFeed(ctx context.Context, client *http.Client, src *CAPSource, st *feedState) error {
	orgID, err := s.feedOrg(ctx, src)
	if err != nil {
		return err
	}
	o := capOrigin{p: principal{OrgID: orgID, Source: src.ID}, addr: src.FeedURL, source: src}
	docMax := src.MaxBytes
	if docMax <= 0 {
		docMax = cap.DefaultMaxBytes
	}
	data, etag, lm, err := get(ctx, client, src.FeedURL, st.etag, st.lastModified, max(docMax, maxCAPFeedBytes))
	if err != nil || data == nil {
		return err
	}
	atom, err := isAtom(data)
	if err != nil {
		return err
	}
	if !atom {
		if sum := sha256.Sum256(data); sum != st.lastDoc {
			s.intakeFeedDoc(ctx, o, data)
			st.lastDoc = sum
		}
		st.etag, st.lastModified = etag, lm
		return nil
	}
	var f atomFeed
	if err := xml.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("Atom feed: %v", err)
	}
	base, _ := url.Parse(src.FeedURL)
	for _, e := range f.Entries {
		if prev, ok := st.entries[e.ID]; ok && prev == e.Updated {
			continue
		}
		href := ""
		for _, l := range e.Links {
			if l.Type == "application/cap+xml" || (href == "" && (l.Rel == "" || l.Rel == "alternate")) {
				href = l.Href
			}
		}
		if href == "" {
			s.log.Warn("CAP feed: entry without a link", "source", src.ID, "entry", e.ID)
			continue
		}
		u, err := base.Parse(href)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			s.log.Warn("CAP feed: entry link is not http(s)", "source", src.ID, "entry", e.ID, "href", href)
			continue
		}
		doc, _, _, err := get(ctx, client, u.String(), "", "", docMax)
		if err != nil {
			s.log.Warn("CAP feed: entry", "source", src.ID, "entry", e.ID, "err", err)
			continue // fetched again at the next poll
		}
		s.intakeFeedDoc(ctx, o, doc)
		st.entries[e.ID] = e.Updated
	}
	st.etag, st.lastModified = etag, lm
	return nil
}

func (s *Server) intakeFeedDoc(ctx context.Context, o capOrigin, data []byte) {
	ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, _, err := s.intakeCAP(ictx, o, data); err != nil {
		s.log.Debug("CAP feed document refused", "source", o.source.ID, "err", err) // recorded in the audit log
	}
}
