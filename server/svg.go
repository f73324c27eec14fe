package server

import (
	"context"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"time"

	"github.com/gofiber/fiber/v2"

	"beacon/media"
	"beacon/media/worker"
	"beacon/server/store"
)

// SVG pictures are sanitised on upload (media.SanitizeSVG); the sanitised
// document is kept as the item's "svg" rendition, and every screen gets a
// picture rasterised from it by librsvg in the media worker at exactly the
// panel's size (see docs/media.md, "SVG").

// svgProfile names the sanitised SVG of an item.
const svgProfile = "svg"

const svgType = "image/svg+xml"

// admitSVG checks, sanitises and records an uploaded SVG (or .svgz).
func (s *Server) admitSVG(ctx context.Context, orgID string, blob media.Blob, filename string) (store.Media, bool, error) {
	refuse := func(status int, code, msg string) (store.Media, bool, error) {
		s.m.uploads.WithLabelValues("rejected").Inc()
		return store.Media{}, false, fail(status, code, filename+": "+msg)
	}
	clean, info, err := media.SanitizeSVGFile(s.blobs.Path(blob.SHA256))
	switch {
	case errors.Is(err, media.ErrTooManyPixels):
		return refuse(fiber.StatusUnprocessableEntity, "image_too_large", err.Error())
	case errors.Is(err, media.ErrSVGUnsupported):
		return refuse(fiber.StatusUnsupportedMediaType, "unsupported_media", err.Error())
	case errors.Is(err, media.ErrCorrupt):
		return refuse(fiber.StatusUnprocessableEntity, "corrupt_media", err.Error())
	case errors.Is(err, media.ErrNotImage):
		return refuse(fiber.StatusUnsupportedMediaType, "unsupported_media", "not a supported image, video or audio file ("+err.Error()+")")
	case err != nil:
		return store.Media{}, false, err
	}
	if s.cfg.MediaWorker == nil {
		return refuse(fiber.StatusUnsupportedMediaType, "unsupported_media", "not supported: SVG pictures are rendered by the media worker, and this server has none")
	}
	cb, err := s.blobs.PutBytes(clean)
	if err != nil {
		return store.Media{}, false, err
	}
	w, h := info.Size()
	// Render once now: a document librsvg cannot draw is refused here, and
	// one without width, height or viewBox gets the size of its drawing.
	dir, err := os.MkdirTemp(filepath.Join(s.cfg.DataDir, "media", "tmp"), "svg-")
	if err != nil {
		return store.Media{}, false, err
	}
	defer os.RemoveAll(dir)
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := s.cfg.MediaWorker.Run(rctx, worker.Job{Op: worker.OpSVG, Input: s.blobs.Path(cb.SHA256), OutDir: dir, Profiles: []worker.Profile{{}}}, nil)
	if err != nil {
		s.dropUnused(cb.SHA256)
		var we *worker.Error
		if errors.As(err, &we) && (we.Code == worker.CodeCorrupt || we.Code == worker.CodeAbsurd) {
			return refuse(fiber.StatusUnprocessableEntity, "corrupt_media", "the SVG cannot be drawn: "+we.Message)
		}
		return refuse(fiber.StatusUnprocessableEntity, "corrupt_media", "the SVG cannot be drawn: "+err.Error())
	}
	if !info.HasSize() && len(res.Outputs) == 1 && res.Outputs[0].Width > 0 {
		w, h = res.Outputs[0].Width, res.Outputs[0].Height
	}
	m, created, err := s.createMedia(ctx, store.Media{OrgID: orgID, SHA256: blob.SHA256, Filename: filename,
		ContentType: svgType, Kind: "image", Size: blob.Size, Width: w, Height: h, Status: store.MediaProcessing})
	if err != nil {
		s.dropUnused(cb.SHA256)
		return m, created, err
	}
	if err := s.putRendition(ctx, store.Rendition{MediaID: m.ID, Profile: svgProfile, Width: w, Height: h, SHA256: cb.SHA256, Size: cb.Size, ContentType: svgType}); err != nil {
		return m, created, err
	}
	return m, created, nil
}

// renderSVG rasterises an SVG item for each profile at the profile's own
// resolution and composes it on the profile's canvas.
func (s *Server) renderSVG(ctx context.Context, m store.Media, profiles []media.Profile) ([]media.Rendition, error) {
	if s.cfg.MediaWorker == nil {
		return nil, errors.New("not supported: SVG pictures are rendered by the media worker, and this server has none")
	}
	rs, err := s.store.Renditions(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	src := ""
	for _, r := range rs {
		if r.Profile == svgProfile && s.blobs.Has(r.SHA256) {
			src = s.blobs.Path(r.SHA256)
		}
	}
	dir, err := os.MkdirTemp(filepath.Join(s.cfg.DataDir, "media", "tmp"), "svg-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if src == "" { // the sanitised copy is gone: make it again
		clean, _, err := media.SanitizeSVGFile(s.blobs.Path(m.SHA256))
		if err != nil {
			return nil, err
		}
		src = filepath.Join(dir, "clean.svg")
		if err := os.WriteFile(src, clean, 0o600); err != nil {
			return nil, err
		}
	}
	job := worker.Job{Op: worker.OpSVG, Input: src, OutDir: dir}
	for _, p := range profiles {
		w, h := media.RasterSize(m.Width, m.Height, p)
		job.Profiles = append(job.Profiles, worker.Profile{Width: w, Height: h})
	}
	res, err := s.cfg.MediaWorker.Run(ctx, job, nil)
	if err != nil {
		return nil, err
	}
	if len(res.Outputs) != len(profiles) {
		return nil, fmt.Errorf("the media worker rendered %d of %d sizes", len(res.Outputs), len(profiles))
	}
	out := make([]media.Rendition, len(profiles))
	for i, o := range res.Outputs {
		f, err := os.Open(o.Path)
		if err != nil {
			return nil, err
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			return nil, err
		}
		if out[i], err = media.ComposeRaster(img, profiles[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}
