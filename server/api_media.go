package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"beacon/media"
	"beacon/media/worker"
	"beacon/protocol"
	"beacon/server/store"
)

type renditionView struct {
	Profile string `json:"profile"`
	Width   int    `json:"width"`
	Height  int    `json:"height"`
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
	URL     string `json:"url"`
}

type mediaView struct {
	ID          string          `json:"id"`
	Filename    string          `json:"filename"`
	Kind        string          `json:"kind"`
	ContentType string          `json:"content_type"`
	Size        int64           `json:"size"`
	Width       int             `json:"width"`
	Height      int             `json:"height"`
	SHA256      string          `json:"sha256"`
	Status      string          `json:"status"`
	Error       string          `json:"error,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	DurationS   float64         `json:"duration_s,omitempty"`
	Thumbnail   string          `json:"thumbnail_url,omitempty"`
	Poster      string          `json:"poster_url,omitempty"`
	Probe       json.RawMessage `json:"probe,omitempty"`
	Renditions  []renditionView `json:"renditions"`
	Tags        []string        `json:"tags"`
}

func (s *Server) mediaView(m store.Media, rends []store.Rendition) mediaView {
	v := mediaView{ID: m.ID, Filename: m.Filename, Kind: m.Kind, ContentType: m.ContentType, Size: m.Size, Width: m.Width, Height: m.Height,
		SHA256: m.SHA256, Status: m.Status, Error: m.Error, CreatedAt: m.CreatedAt, DurationS: m.DurationS, Renditions: []renditionView{}, Tags: []string{}}
	if m.Probe != "" {
		v.Probe = json.RawMessage(m.Probe)
	}
	for _, r := range rends {
		switch r.Profile {
		case thumbProfile:
			v.Thumbnail = "/api/v1/files/" + r.SHA256
		case posterProfile:
			v.Poster = "/api/v1/files/" + r.SHA256
		}
		v.Renditions = append(v.Renditions, renditionView{Profile: r.Profile, Width: r.Width, Height: r.Height, SHA256: r.SHA256, Size: r.Size, URL: "/api/v1/files/" + r.SHA256})
	}
	return v
}

var imageTypes = map[string]string{
	"jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp", "bmp": "image/bmp", "tiff": "image/tiff", "svg": svgType,
	"heic": "image/heic", "heif": "image/heif", "avif": "image/avif",
}

// animTypes are the content types of animated pictures (kind "video").
var animTypes = map[string]string{"gif": "image/gif", "png": "image/apng", "webp": "image/webp"}

// uploadMedia streams the multipart field "file" to the content-addressed
// store (never holding it in memory), checks what it is, and queues its
// renditions. Re-uploading the same bytes returns the same item.
func (s *Server) uploadMedia(c *fiber.Ctx) error {
	_, params, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || params["boundary"] == "" {
		return fail(fiber.StatusBadRequest, "bad_upload", "send the file as multipart/form-data in a field named \"file\"")
	}
	mr := multipart.NewReader(uploadBody(c), params["boundary"])
	var blob media.Blob
	var filename string
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.m.uploads.WithLabelValues("bad_request").Inc()
			return fail(fiber.StatusBadRequest, "bad_upload", "malformed multipart body: "+err.Error())
		}
		if part.FormName() != "file" {
			_, _ = io.Copy(io.Discard, io.LimitReader(part, 1<<20))
			continue
		}
		filename = filepath.Base(strings.ReplaceAll(part.FileName(), "\\", "/"))
		blob, err = s.blobs.Put(part, s.cfg.MaxUploadBytes)
		if err != nil {
			// The client may still be sending: do not read the rest as a
			// next request on this connection.
			c.Context().SetConnectionClose()
		}
		if errors.Is(err, media.ErrTooLarge) {
			s.m.uploads.WithLabelValues("too_large").Inc()
			return fail(fiber.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("file exceeds the upload limit of %d bytes", s.cfg.MaxUploadBytes))
		}
		if err != nil {
			s.m.uploads.WithLabelValues("error").Inc()
			return fail(fiber.StatusBadRequest, "bad_upload", "upload interrupted: "+err.Error())
		}
		break
	}
	if blob.SHA256 == "" {
		return fail(fiber.StatusBadRequest, "bad_upload", "no field named \"file\" in the upload")
	}
	filename = cleanFilename(filename)
	if filename == "" || filename == "." || filename == "/" {
		filename = blob.SHA256[:12]
	}
	ctx, cancel := s.timeout()
	defer cancel()
	org := who(c).OrgID
	m, created, err := s.admit(ctx, org, blob, filename)
	if err != nil {
		if !s.blobs.Has(blob.SHA256) { // removed with a deleted item of the same bytes meanwhile
			return fail(fiber.StatusConflict, "retry", filename+": the same file was being deleted; upload it again")
		}
		s.dropUnused(blob.SHA256) // a refused upload leaves nothing behind
		return err
	}
	status, view, err := s.uploaded(ctx, m, created)
	if err != nil {
		return err
	}
	return c.Status(status).JSON(view)
}

// uploaded finishes an admitted upload (multipart or tus): counts it,
// starts its renditions when it is new, and answers the item with 201
// (new) or 200 (bytes the library already had).
func (s *Server) uploaded(ctx context.Context, m store.Media, created bool) (int, mediaView, error) {
	status := fiber.StatusOK
	if created {
		status = fiber.StatusCreated
		s.m.uploads.WithLabelValues("created").Inc()
		s.work.kick(m.OrgID)
		s.events.publish(m.OrgID, Event{Type: "media", Data: map[string]string{"id": m.ID, "status": m.Status}})
	} else {
		s.m.uploads.WithLabelValues("duplicate").Inc()
	}
	rends, err := s.store.Renditions(ctx, m.ID)
	if err != nil {
		return 0, mediaView{}, err
	}
	return status, s.mediaView(m, rends), nil
}

// dropUnused removes a file that no item holds as its original or as a
// rendition (a refused upload, a deleted item's files).
func (s *Server) dropUnused(sha string) {
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	ctx, cancel := s.timeout()
	defer cancel()
	if used, err := s.store.FileInUse(ctx, sha); err == nil && !used {
		if err := s.blobs.Remove(sha); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("remove unused file", "sha256", sha, "err", err)
		}
	}
}

func (s *Server) getMedia(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	m, err := s.store.Media(ctx, who(c).OrgID, c.Params("id"))
	if err != nil {
		return err
	}
	rends, err := s.store.Renditions(ctx, m.ID)
	if err != nil {
		return err
	}
	return c.JSON(s.mediaView(m, rends))
}

// deleteMedia removes an item that nothing plays: its jobs are cancelled,
// and its original and renditions are deleted unless another item (of any
// organisation: files are shared by content) holds the same bytes.
func (s *Server) deleteMedia(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	org, id := who(c).OrgID, c.Params("id")
	if _, err := s.store.Media(ctx, org, id); err != nil {
		return err
	}
	if err := s.notInUse(ctx, org, id); err != nil {
		return err
	}
	if err := s.removeMedia(ctx, org, id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// removeMedia deletes an item the caller found unused: its queued and
// running jobs are cancelled, then the item and the files nothing else
// holds.
func (s *Server) removeMedia(ctx context.Context, org, id string) error {
	jobs, err := s.store.Jobs(ctx, org, id, 100)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if j.Status == store.JobQueued || j.Status == store.JobRunning {
			if _, err := s.store.CancelJob(ctx, org, j.ID); err != nil {
				return err
			}
			s.jobs.cancel(j.ID)
		}
	}
	shas, err := s.store.DeleteMedia(ctx, org, id)
	if errors.Is(err, store.ErrConflict) {
		return fail(fiber.StatusConflict, "in_use", "a playlist started to use it just now; remove it there first")
	}
	if err != nil {
		return err
	}
	for _, sha := range shas {
		s.dropUnused(sha)
	}
	s.events.publish(org, Event{Type: "media", Data: map[string]string{"id": id, "status": "deleted"}})
	return nil
}

// mediaOriginal downloads an item's original as uploaded, with Range.
func (s *Server) mediaOriginal(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	m, err := s.store.Media(ctx, who(c).OrgID, c.Params("id"))
	if err != nil {
		return err
	}
	if !s.blobs.Has(m.SHA256) {
		return fail(fiber.StatusNotFound, "not_found", "the original of "+m.ID+" is missing from the media store")
	}
	c.Set(fiber.HeaderContentDisposition, attachment(m.Filename, m.SHA256))
	return s.sendBlob(c, m.SHA256, m.ContentType)
}

// attachment is a Content-Disposition that saves the file under its name
// (RFC 2231 encoded when it is not ASCII; control characters dropped).
func attachment(name, sha string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": name}); v != "" && name != "" {
		return v
	}
	return `attachment; filename="` + sha[:12] + `"`
}

// sendBlob serves a content-addressed file with Range support; the ETag is
// its SHA-256.
func (s *Server) sendBlob(c *fiber.Ctx, sha, contentType string) error {
	if !s.blobs.Has(sha) {
		return fail(fiber.StatusNotFound, "not_found", "no such file")
	}
	c.Set(fiber.HeaderETag, `"`+sha+`"`)
	c.Set(fiber.HeaderCacheControl, "private, max-age=31536000, immutable")
	if err := c.SendFile(s.blobs.Path(sha)); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, contentType)
	return nil
}

// playerFile serves a file to a player; only files of its own
// organisation's media are served.
func (s *Server) playerFile(c *fiber.Ctx) error {
	d := c.Locals("display").(store.Display)
	return s.serveOrgFile(c, d.OrgID)
}

func (s *Server) apiFile(c *fiber.Ctx) error { return s.serveOrgFile(c, who(c).OrgID) }

func (s *Server) serveOrgFile(c *fiber.Ctx, orgID string) error {
	sha := c.Params("sha")
	if !protocol.ValidSHA256(sha) {
		return fail(fiber.StatusNotFound, "not_found", "no such file")
	}
	ctx, cancel := s.timeout()
	defer cancel()
	ct, ok, err := s.store.OrgHasFile(ctx, orgID, sha)
	if err != nil {
		return err
	}
	if !ok {
		return fail(fiber.StatusNotFound, "not_found", "no such file")
	}
	return s.sendBlob(c, sha, ct)
}

// createMedia records an uploaded item unless its file was removed (as a
// deleted item's, with the same bytes) since it was stored.
func (s *Server) createMedia(ctx context.Context, m store.Media) (store.Media, bool, error) {
	s.fileMu.RLock()
	defer s.fileMu.RUnlock()
	if !s.blobs.Has(m.SHA256) {
		return store.Media{}, false, errors.New("stored file removed")
	}
	return s.store.CreateMedia(ctx, m)
}

// admit checks what an upload is and records it: images are decoded in
// full now; anything else is probed by the media worker and, if it is
// video or audio, queued for transcoding. A refused upload leaves nothing
// behind.
func (s *Server) admit(ctx context.Context, orgID string, blob media.Blob, filename string) (store.Media, bool, error) {
	path := s.blobs.Path(blob.SHA256)
	info, err := media.CheckImage(path, s.cfg.ImageLimits)
	anim := info.Animation // an animated GIF, PNG or WebP: played as video
	if err == nil && anim == nil {
		w, h := info.DisplaySize()
		return s.createMedia(ctx, store.Media{OrgID: orgID, SHA256: blob.SHA256, Filename: filename,
			ContentType: imageTypes[info.Format], Kind: "image", Size: blob.Size, Width: w, Height: h, Status: store.MediaProcessing})
	}
	refuse := func(status int, code, msg string) (store.Media, bool, error) {
		s.m.uploads.WithLabelValues("rejected").Inc()
		return store.Media{}, false, fail(status, code, filename+": "+msg)
	}
	switch {
	case errors.Is(err, media.ErrTooManyPixels):
		return refuse(fiber.StatusUnprocessableEntity, "image_too_large", err.Error())
	case errors.Is(err, media.ErrCorrupt):
		return refuse(fiber.StatusUnprocessableEntity, "corrupt_media", err.Error())
	case errors.Is(err, media.ErrUnsupported):
		return refuse(fiber.StatusUnsupportedMediaType, "unsupported_media", err.Error())
	case err != nil && !errors.Is(err, media.ErrNotImage):
		return store.Media{}, false, err
	}
	// Not an image: video or audio?
	if existing, err := s.store.MediaBySHA(ctx, orgID, blob.SHA256); err == nil {
		return existing, false, nil
	}
	if anim == nil && media.LooksLikeSVG(path) {
		return s.admitSVG(ctx, orgID, blob, filename)
	}
	if s.cfg.MediaWorker == nil {
		if anim != nil {
			return refuse(fiber.StatusUnsupportedMediaType, "unsupported_media", "not supported: animated pictures are played as video, and this server has no media worker")
		}
		return refuse(fiber.StatusUnsupportedMediaType, "unsupported_media", media.ErrNotImage.Error())
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := s.cfg.MediaWorker.Run(pctx, worker.Job{Op: worker.OpProbe, Input: path}, nil)
	if err != nil {
		var we *worker.Error
		if errors.As(err, &we) {
			switch we.Code {
			case worker.CodeEmpty, worker.CodeNotMedia:
				return refuse(fiber.StatusUnsupportedMediaType, "unsupported_media", "not a supported image, video or audio file ("+we.Message+")")
			case worker.CodeTruncated, worker.CodeCorrupt, worker.CodeAbsurd, worker.CodeNoVideo:
				// A damaged video or audio file is kept as a failed item, so
				// the media list shows what went wrong with it.
				kind := "video"
				if strings.HasPrefix(contentTypes[strings.ToLower(filepath.Ext(filename))], "audio/") {
					kind = "audio"
				}
				if _, _, err := s.createMedia(ctx, store.Media{OrgID: orgID, SHA256: blob.SHA256, Filename: filename, ContentType: mediaContentType(kind, filename),
					Kind: kind, Size: blob.Size, Status: store.MediaFailed, Error: we.Message}); err != nil {
					return store.Media{}, false, err
				}
				s.m.uploads.WithLabelValues("failed").Inc()
				return store.Media{}, false, fail(fiber.StatusUnprocessableEntity, "corrupt_media", filename+": "+we.Message)
			}
		}
		return refuse(fiber.StatusUnprocessableEntity, "corrupt_media", "the media worker could not read the file: "+err.Error())
	}
	var probe struct {
		Streams []struct {
			Type     string `json:"type"`
			Width    int    `json:"width"`
			Height   int    `json:"height"`
			Rotation int    `json:"rotation"`
		} `json:"streams"`
	}
	_ = json.Unmarshal(res.Info, &probe)
	kind, w, h := "", 0, 0
	for _, st := range probe.Streams {
		if st.Type == "video" && kind != "video" {
			kind, w, h = "video", st.Width, st.Height
			if st.Rotation == 90 || st.Rotation == 270 {
				w, h = h, w
			}
		}
		if st.Type == "audio" && kind == "" {
			kind = "audio"
		}
	}
	if kind == "" {
		return refuse(fiber.StatusUnsupportedMediaType, "unsupported_media", "the file has neither video nor audio")
	}
	ct, dur := mediaContentType(kind, filename), res.Duration
	if anim != nil {
		if kind != "video" {
			return refuse(fiber.StatusUnprocessableEntity, "corrupt_media", "the animation is damaged: no frame could be decoded")
		}
		// The container may not say how long it plays (APNG), and an
		// animated WebP is probed from its first frames: the frames'
		// own durations tell.
		ct, w, h, dur = animTypes[info.Format], anim.Width, anim.Height, anim.Duration
	}
	m, created, err := s.createMedia(ctx, store.Media{OrgID: orgID, SHA256: blob.SHA256, Filename: filename, ContentType: ct, Kind: kind,
		Size: blob.Size, Width: w, Height: h, Status: store.MediaProcessing, Probe: string(res.Info), DurationS: dur})
	if err != nil || !created {
		return m, created, err
	}
	jk := jobAudio
	if kind == "video" {
		jk = jobTranscode
	}
	if _, err := s.queueJob(ctx, m, jk); err != nil {
		return m, created, err
	}
	return m, created, nil
}

var contentTypes = map[string]string{
	".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm", ".mkv": "video/x-matroska",
	".avi": "video/x-msvideo", ".ts": "video/mp2t", ".mpg": "video/mpeg", ".mpeg": "video/mpeg",
	".mp3": "audio/mpeg", ".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg", ".oga": "audio/ogg",
	".m4a": "audio/mp4", ".aac": "audio/aac", ".opus": "audio/ogg",
}

// mediaContentType names an original's type from its kind and extension
// (players never get originals; this is for API clients and downloads).
func mediaContentType(kind, filename string) string {
	if t, ok := contentTypes[strings.ToLower(filepath.Ext(filename))]; ok && strings.HasPrefix(t, kind) {
		return t
	}
	if kind == "audio" {
		return "audio/mpeg"
	}
	return "video/mp4"
}
