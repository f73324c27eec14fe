package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/tus/tusd/v2/pkg/filestore"
	tusd "github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
	tuslog "golang.org/x/exp/slog" // the tus handler's logger type

	"beacon/media"
)

// Resumable uploads (the tus protocol, v1.0.0 core with the creation,
// creation-with-upload and termination extensions) at /api/v1/uploads/.
// They sit behind the same authentication and roles as every API route;
// each upload belongs to the organisation and user that created it and is
// invisible (404) to any other organisation. The size limit is the
// multipart upload's. A finished upload goes through exactly the checks
// a multipart upload does (admit) and becomes a media item: the final
// PATCH answers with the item (201, or 200 for bytes the library already
// holds) or with the API's error. Incomplete uploads untouched for
// uploadTTL are removed.

const (
	uploadsPath = "/api/v1/uploads/"
	uploadTTL   = 24 * time.Hour
	metaOrg     = "beacon_org"
	metaUser    = "beacon_user"
	metaName    = "filename"
)

type principalKey struct{}

// tusUploads is the tus handler and the directory its uploads live in.
type tusUploads struct {
	dir     string
	store   filestore.FileStore
	handler *tusd.Handler
}

func (s *Server) newUploads() (*tusUploads, error) {
	dir := filepath.Join(s.cfg.DataDir, "uploads")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("uploads: %w", err)
	}
	fsStore := filestore.New(dir)
	composer := tusd.NewStoreComposer()
	fsStore.UseIn(composer)
	memorylocker.New().UseIn(composer)
	h, err := tusd.NewHandler(tusd.Config{
		StoreComposer:             composer,
		BasePath:                  uploadsPath,
		MaxSize:                   s.cfg.MaxUploadBytes,
		DisableDownload:           true,
		DisableConcatenation:      true,
		Cors:                      &tusd.CorsConfig{Disable: true}, // same origin only
		NetworkTimeout:            s.cfg.ReadTimeout,
		Logger:                    tuslog.New(tuslog.NewTextHandler(io.Discard, nil)),
		PreUploadCreateCallback:   s.tusCreate,
		PreFinishResponseCallback: s.tusFinish,
	})
	if err != nil {
		return nil, fmt.Errorf("uploads: %w", err)
	}
	return &tusUploads{dir: dir, store: fsStore, handler: h}, nil
}

// tusError is a tus refusal in the API's error shape.
func tusError(status int, code, msg string) tusd.Error {
	var body errorBody
	body.Error.Code, body.Error.Message = code, msg
	b, _ := json.Marshal(body)
	return tusd.Error{ErrorCode: code, Message: msg, HTTPResponse: tusd.HTTPResponse{StatusCode: status, Body: string(b),
		Header: tusd.HTTPHeader{"Content-Type": fiber.MIMEApplicationJSONCharsetUTF8}}}
}

// tusCreate admits a new upload: its length must be given (no deferred
// length), within the limit; it is stamped with the caller's organisation
// and user, and its file name is cleaned as a multipart one is.
func (s *Server) tusCreate(ev tusd.HookEvent) (tusd.HTTPResponse, tusd.FileInfoChanges, error) {
	p, ok := ev.Context.Value(principalKey{}).(principal)
	if !ok || p.OrgID == "" {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, tusError(fiber.StatusUnauthorized, "unauthorized", "sign in to upload")
	}
	if ev.Upload.SizeIsDeferred {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, tusError(fiber.StatusBadRequest, "invalid", "send Upload-Length: uploads of unknown length are not accepted")
	}
	if ev.Upload.Size > s.cfg.MaxUploadBytes {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, tusError(fiber.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("file exceeds the upload limit of %d bytes", s.cfg.MaxUploadBytes))
	}
	name := ev.Upload.MetaData[metaName]
	if name == "" {
		name = ev.Upload.MetaData["name"]
	}
	name = cleanFilename(filepath.Base(strings.ReplaceAll(name, "\\", "/")))
	if err := checkLen("filename", name, maxNameLen); err != nil {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, tusError(fiber.StatusBadRequest, "invalid", err.Error())
	}
	return tusd.HTTPResponse{}, tusd.FileInfoChanges{MetaData: tusd.MetaData{metaName: name, metaOrg: p.OrgID, metaUser: p.UserID}}, nil
}

// tusFinish turns a complete upload into a media item exactly as a
// multipart upload does, then removes the upload.
func (s *Server) tusFinish(ev tusd.HookEvent) (tusd.HTTPResponse, error) {
	info := ev.Upload
	defer s.dropUpload(info.ID)
	org := info.MetaData[metaOrg]
	f, err := os.Open(info.Storage[filestore.StorageKeyPath])
	if err != nil {
		return tusd.HTTPResponse{}, tusError(fiber.StatusInternalServerError, "internal", "the upload's file is missing")
	}
	blob, err := s.blobs.Put(f, s.cfg.MaxUploadBytes)
	f.Close()
	if errors.Is(err, media.ErrTooLarge) {
		s.m.uploads.WithLabelValues("too_large").Inc()
		return tusd.HTTPResponse{}, tusError(fiber.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("file exceeds the upload limit of %d bytes", s.cfg.MaxUploadBytes))
	}
	if err != nil {
		s.log.Error("store a finished upload", "err", err)
		return tusd.HTTPResponse{}, tusError(fiber.StatusInternalServerError, "internal", "could not store the file")
	}
	filename := info.MetaData[metaName]
	if filename == "" || filename == "." || filename == "/" {
		filename = blob.SHA256[:12]
	}
	ctx, cancel := s.timeout()
	defer cancel()
	m, created, err := s.admit(ctx, org, blob, filename)
	if err != nil {
		if !s.blobs.Has(blob.SHA256) {
			return tusd.HTTPResponse{}, tusError(fiber.StatusConflict, "retry", filename+": the same file was being deleted; upload it again")
		}
		s.dropUnused(blob.SHA256)
		var ae *apiError
		if errors.As(err, &ae) {
			return tusd.HTTPResponse{}, tusError(ae.Status, ae.Code, ae.Message)
		}
		s.log.Error("admit a finished upload", "err", err)
		return tusd.HTTPResponse{}, tusError(fiber.StatusInternalServerError, "internal", "internal server error")
	}
	status, view, err := s.uploaded(ctx, m, created)
	if err != nil {
		return tusd.HTTPResponse{}, tusError(fiber.StatusInternalServerError, "internal", "internal server error")
	}
	b, _ := json.Marshal(view)
	return tusd.HTTPResponse{StatusCode: status, Body: string(b), Header: tusd.HTTPHeader{"Content-Type": fiber.MIMEApplicationJSONCharsetUTF8, "Beacon-Media-Id": m.ID}}, nil
}

// dropUpload removes an upload's file and record.
func (s *Server) dropUpload(id string) {
	if !validUploadID(id) {
		return
	}
	for _, p := range []string{filepath.Join(s.uploads.dir, id), filepath.Join(s.uploads.dir, id+".info"), filepath.Join(s.uploads.dir, id+".lock")} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("remove upload", "id", id, "err", err)
		}
	}
}

// validUploadID: the ids the file store makes are hex.
func validUploadID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// sweepUploads removes incomplete uploads untouched for uploadTTL.
func (s *Server) sweepUploads() {
	entries, err := os.ReadDir(s.uploads.dir)
	if err != nil {
		return
	}
	cutoff := time.Now().Add(-uploadTTL)
	for _, e := range entries {
		id := strings.TrimSuffix(e.Name(), ".info")
		if !validUploadID(id) {
			continue
		}
		fi, err := os.Stat(filepath.Join(s.uploads.dir, id))
		if errors.Is(err, fs.ErrNotExist) || err == nil && fi.ModTime().Before(cutoff) {
			if info, err := e.Info(); err == nil && info.ModTime().Before(cutoff) {
				s.dropUpload(id)
			}
		}
	}
}

// serveUpload hands a tus request to the tus handler after checking that
// an existing upload belongs to the caller's organisation; the body
// streams through limitBody's bound.
func (s *Server) serveUpload(c *fiber.Ctx) error {
	p := who(c)
	id := c.Params("id")
	if id != "" {
		if !validUploadID(id) {
			return fail(fiber.StatusNotFound, "not_found", "no such upload: "+id)
		}
		up, err := s.uploads.store.GetUpload(c.UserContext(), id)
		var info tusd.FileInfo
		if err == nil {
			info, err = up.GetInfo(c.UserContext())
		}
		if err != nil || info.MetaData[metaOrg] != p.OrgID {
			return fail(fiber.StatusNotFound, "not_found", "no such upload: "+id)
		}
	}
	ctx, cancel := context.WithCancel(context.WithValue(s.bg, principalKey{}, p))
	defer cancel()
	path := "/"
	if id != "" {
		path = "/" + id
	}
	var body io.Reader = http.NoBody
	if c.Request().Header.ContentLength() != 0 {
		body = uploadBody(c)
	}
	req, err := http.NewRequestWithContext(ctx, c.Method(), path, body)
	if err != nil {
		return fail(fiber.StatusBadRequest, "bad_request", err.Error())
	}
	c.Request().Header.VisitAll(func(k, v []byte) {
		req.Header.Add(string(k), string(v))
	})
	req.ContentLength = int64(c.Request().Header.ContentLength())
	if req.ContentLength < 0 {
		req.ContentLength = -1
	}
	req.Host = string(c.Request().Host())
	req.RemoteAddr = c.Context().RemoteAddr().String()
	w := &fiberWriter{c: c, h: http.Header{}}
	s.uploads.handler.ServeHTTP(w, req)
	// The tus handler may still cut the body short from a goroutine of its
	// own (an upload interrupted by another request) after ServeHTTP has
	// returned; from here on the fiber context belongs to the next request.
	w.finish()
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if c.Response().StatusCode() >= 400 {
		c.Context().SetConnectionClose() // part of the body may be unread
	}
	return nil
}

// fiberWriter is the http.ResponseWriter the tus handler writes to: a
// fiber response. Errors in tus's plain-text form are rewritten in the
// API's JSON shape.
type fiberWriter struct {
	mu       sync.Mutex
	finished bool // ServeHTTP returned: c is no longer this request's
	c        *fiber.Ctx
	h        http.Header
	wrote    bool
	plain    bool // the body is a tus plain-text error to rewrite
}

func (w *fiberWriter) Header() http.Header { return w.h }

func (w *fiberWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	// The upload's address, as a path: the tus handler would make it
	// absolute from what it can see of the request (not TLS, not a proxy).
	if loc := w.h.Get("Location"); loc != "" {
		if u, err := url.Parse(loc); err == nil {
			w.h.Set("Location", u.EscapedPath())
		}
	}
	for k, vs := range w.h {
		for _, v := range vs {
			w.c.Response().Header.Add(k, v)
		}
	}
	w.c.Status(code)
	w.plain = code >= 400 && strings.HasPrefix(w.h.Get("Content-Type"), "text/plain")
	if w.plain {
		w.c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	}
}

func (w *fiberWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.plain {
		code, msg, _ := strings.Cut(strings.TrimSpace(string(b)), ": ")
		var body errorBody
		body.Error.Code, body.Error.Message = tusCode(code, w.c.Response().StatusCode()), msg
		out, _ := json.Marshal(body)
		w.c.Response().SetBody(out)
		return len(b), nil
	}
	w.c.Response().AppendBody(b)
	return len(b), nil
}

// SetReadDeadline lets the tus handler bound each read of the body (and
// cut a stalled one short) on the connection itself, while the request
// is still being served; afterwards the connection may carry another
// request and the call does nothing.
func (w *fiberWriter) SetReadDeadline(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.finished {
		return nil
	}
	if conn := w.c.Context().Conn(); conn != nil {
		return conn.SetReadDeadline(t)
	}
	return nil
}

// finish marks the request served; see SetReadDeadline.
func (w *fiberWriter) finish() {
	w.mu.Lock()
	w.finished = true
	w.mu.Unlock()
}

// SetWriteDeadline: writes are bounded by the server's progress rule.
func (w *fiberWriter) SetWriteDeadline(time.Time) error { return nil }

func tusCode(code string, status int) string {
	switch code {
	case "ERR_MAX_SIZE_EXCEEDED", "ERR_UPLOAD_SIZE_EXCEEDED":
		return "too_large"
	case "ERR_UPLOAD_NOT_FOUND":
		return "not_found"
	case "ERR_MISMATCHED_OFFSET":
		return "offset_mismatch"
	case "ERR_UNSUPPORTED_VERSION":
		return "unsupported_version"
	}
	if code == "" {
		return codeFor(status)
	}
	return strings.ToLower(strings.TrimPrefix(code, "ERR_"))
}
