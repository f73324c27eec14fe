package server

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"beacon/media"
	"beacon/server/cap"
	"beacon/server/store"
)

// CAP resources (docs/cap.md, "Resources"): the image, audio and video
// files an alert names are taken into the organisation's media library
// and shown with its override. A resource comes inline (derefUri, base64)
// or from its uri, fetched over http or https only, from a host the
// source allows (CAPSource.ResourceHosts; none: no uri is fetched), within
// the source's size and time limits, with the content type it declares
// (image/*, audio/* or video/*, and the response's type of the same
// kind), and its SHA-1 digest when the alert gives one. The file is then
// admitted as an upload is (decoded, or probed by the media worker) and
// attached once its renditions are made. A resource that cannot be had
// in time leaves the override with its text only; each outcome, with the
// reason, is in the intake's answer and the audit log.

// Limits of CAP resources.
const (
	DefaultCAPResourceMaxBytes = 20 << 20
	DefaultCAPResourceTimeout  = 10 * time.Second // for all the resources of one alert
	maxCAPResources            = 8
)

// capResource is what became of one resource.
type capResource struct {
	Description string `json:"description"`
	MimeType    string `json:"mime_type"`
	URI         string `json:"uri,omitempty"`
	Inline      bool   `json:"inline,omitempty"` // from derefUri
	MediaID     string `json:"media_id,omitempty"`
	Kind        string `json:"kind,omitempty"`
	Error       string `json:"error,omitempty"` // why it is not shown
}

// resourceKind is image, audio or video from a MIME type, "" otherwise.
func resourceKind(mt string) string {
	t, _, err := mime.ParseMediaType(mt)
	if err != nil {
		return ""
	}
	for _, k := range []string{"image", "audio", "video"} {
		if strings.HasPrefix(t, k+"/") {
			return k
		}
	}
	return ""
}

// hostAllowed reports whether u's host is one of the source's: an entry
// is a host name or address, with a port to allow that port only, and
// may start with "*." for every subdomain.
func (src CAPSource) hostAllowed(u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	for _, h := range src.ResourceHosts {
		h = strings.ToLower(strings.TrimSpace(h))
		port := ""
		if hh, pp, err := net.SplitHostPort(h); err == nil {
			h, port = hh, pp
		}
		h = strings.Trim(h, "[]")
		switch {
		case h == "" || (port != "" && port != u.Port()):
		case strings.HasPrefix(h, "*."):
			if strings.HasSuffix(host, h[1:]) {
				return true
			}
		case host == h:
			return true
		}
	}
	return false
}

// checkResourceURL admits http and https URLs of allowed hosts only.
func (src CAPSource) checkResourceURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("uri is not a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("uri scheme %q is not fetched (http and https only)", u.Scheme)
	}
	if u.Host == "" || u.User != nil {
		return nil, errors.New("uri has no host, or carries a user name")
	}
	if !src.hostAllowed(u) {
		return nil, fmt.Errorf("host %s is not among the source's resource_hosts", u.Host)
	}
	return u, nil
}

// capResources takes an alert's image, audio and video resources into
// the media library; it returns the media ids ready to show and what
// became of each resource.
func (s *Server) capResources(ctx context.Context, orgID string, src CAPSource, a *cap.Alert) ([]string, []capResource) {
	timeout := src.ResourceTimeout
	if timeout <= 0 {
		timeout = DefaultCAPResourceTimeout
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	var ids []string
	out := []capResource{}
	seen := map[string]bool{}
	for _, in := range a.Info {
		for _, r := range in.Resources {
			key := r.URI + "\x00" + r.Digest
			if r.DerefURI != "" {
				key = "deref\x00" + r.Digest + r.DerefURI[:min(len(r.DerefURI), 64)]
			}
			if seen[key] {
				continue
			}
			seen[key] = true
			res := capResource{Description: r.Description, MimeType: r.MimeType, URI: r.URI, Inline: r.DerefURI != ""}
			if len(out) >= maxCAPResources {
				res.Error = fmt.Sprintf("not taken: at most %d resources per alert", maxCAPResources)
				out = append(out, res)
				continue
			}
			id, kind, err := s.capResource(ctx, orgID, src, r, timeout)
			if err != nil {
				res.Error = err.Error()
			} else {
				res.MediaID, res.Kind = id, kind
				if !contains(ids, id) {
					ids = append(ids, id)
				}
			}
			out = append(out, res)
		}
	}
	return ids, out
}

func contains(v []string, s string) bool {
	for _, x := range v {
		if x == s {
			return true
		}
	}
	return false
}

// capResource takes one resource: fetched (or decoded), checked, admitted,
// and ready with its renditions within the source's time limit.
func (s *Server) capResource(ctx context.Context, orgID string, src CAPSource, r cap.Resource, timeout time.Duration) (string, string, error) {
	kind := resourceKind(r.MimeType)
	if kind == "" {
		return "", "", fmt.Errorf("mimeType %q is not an image, audio or video type", r.MimeType)
	}
	limit := src.ResourceMaxBytes
	if limit <= 0 {
		limit = DefaultCAPResourceMaxBytes
	}
	if s.cfg.MaxUploadBytes > 0 && limit > s.cfg.MaxUploadBytes {
		limit = s.cfg.MaxUploadBytes
	}
	if r.Size > limit {
		return "", "", fmt.Errorf("size %d bytes is over the limit of %d", r.Size, limit)
	}
	var body io.Reader
	name := "cap-resource"
	switch {
	case r.DerefURI != "":
		data, err := r.Deref()
		if err != nil {
			return "", "", fmt.Errorf("derefUri is not valid base64: %v", err)
		}
		if int64(len(data)) > limit {
			return "", "", fmt.Errorf("derefUri is %d bytes, over the limit of %d", len(data), limit)
		}
		body = bytes.NewReader(data)
		if r.URI != "" {
			name = r.URI
		}
	case r.URI == "":
		return "", "", errors.New("neither uri nor derefUri")
	default:
		u, err := src.checkResourceURL(r.URI)
		if err != nil {
			return "", "", err
		}
		resp, err := s.fetchResource(ctx, src, u)
		if err != nil {
			return "", "", err
		}
		defer resp.Body.Close()
		if got := resourceKind(resp.Header.Get("Content-Type")); got != kind {
			return "", "", fmt.Errorf("GET %s: content type %q is not the %s the alert declares (%s)", u.Redacted(), resp.Header.Get("Content-Type"), kind, r.MimeType)
		}
		if resp.ContentLength > limit {
			return "", "", fmt.Errorf("GET %s: %d bytes, over the limit of %d", u.Redacted(), resp.ContentLength, limit)
		}
		body = resp.Body
		name = path.Base(u.Path)
	}
	h := sha1.New()
	blob, err := s.blobs.Put(io.TeeReader(body, h), limit)
	if errors.Is(err, media.ErrTooLarge) {
		return "", "", fmt.Errorf("over the limit of %d bytes", limit)
	}
	if err != nil {
		if ctx.Err() != nil {
			return "", "", fmt.Errorf("not fetched within %s: %v", timeout, err)
		}
		return "", "", fmt.Errorf("fetch: %v", err)
	}
	if r.Digest != "" && !strings.EqualFold(hex.EncodeToString(h.Sum(nil)), strings.TrimSpace(r.Digest)) {
		s.dropUnused(blob.SHA256)
		return "", "", fmt.Errorf("SHA-1 digest %s does not match the file's %s", r.Digest, hex.EncodeToString(h.Sum(nil)))
	}
	name = cleanFilename(name)
	if name == "" || name == "." || name == "/" {
		name = "cap-resource"
	}
	m, created, err := s.admit(ctx, orgID, blob, name)
	if err != nil {
		s.dropUnused(blob.SHA256)
		var ae *apiError
		if errors.As(err, &ae) {
			return "", "", errors.New(ae.Message)
		}
		return "", "", err
	}
	if m.Kind != kind {
		return "", "", fmt.Errorf("the file is %s, not the %s the alert declares (%s)", m.Kind, kind, r.MimeType)
	}
	if created {
		s.work.kick(orgID)
		s.events.publish(orgID, Event{Type: "media", Data: map[string]string{"id": m.ID, "status": m.Status}})
	}
	// Ready with renditions for the displays, or text only.
	for {
		cur, err := s.store.Media(ctx, orgID, m.ID)
		if err == nil {
			switch cur.Status {
			case store.MediaReady:
				if rs, err := s.store.Renditions(ctx, m.ID); err == nil && len(rs) > 0 {
					return m.ID, kind, nil
				}
			case store.MediaFailed:
				return "", "", fmt.Errorf("media %s failed: %s", m.ID, cur.Error)
			}
		}
		select {
		case <-ctx.Done():
			return "", "", fmt.Errorf("media %s not ready for displays within %s (shown without it)", m.ID, timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// fetchResource GETs u, following redirects only to allowed http(s) URLs.
func (s *Server) fetchResource(ctx context.Context, src CAPSource, u *url.URL) (*http.Response, error) {
	client := &http.Client{
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			_, err := src.checkResourceURL(req.URL.String())
			return err
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", u.Redacted(), err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", u.Redacted(), resp.Status)
	}
	return resp, nil
}

// planResources says, without fetching anything, what the intake would do
// with each resource (a dry run).
func planResources(src CAPSource, a *cap.Alert) []capResource {
	out := []capResource{}
	for _, in := range a.Info {
		for _, r := range in.Resources {
			res := capResource{Description: r.Description, MimeType: r.MimeType, URI: r.URI, Inline: r.DerefURI != ""}
			switch {
			case resourceKind(r.MimeType) == "":
				res.Error = fmt.Sprintf("mimeType %q is not an image, audio or video type", r.MimeType)
			case r.DerefURI != "":
				if _, err := r.Deref(); err != nil {
					res.Error = "derefUri is not valid base64: " + err.Error()
				}
			case r.URI == "":
				res.Error = "neither uri nor derefUri"
			default:
				if _, err := src.checkResourceURL(r.URI); err != nil {
					res.Error = err.Error()
				}
			}
			if res.Error == "" {
				res.Error = "dry run: not fetched"
			}
			out = append(out, res)
		}
	}
	return out
}
