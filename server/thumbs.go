package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"image"
	"image/color"
	"image/jpeg"

	"beacon/media"
	"beacon/server/store"
)

// Every media item gets a small thumbnail for API clients (and the planned
// console): images and video posters are scaled down; audio gets a picture
// of its own.
const thumbProfile = "thumb"

var thumbSize = media.Profile{Width: 320, Height: 180, Fit: media.FitContain, Background: color.NRGBA{A: 255}}

// thumbFromImage makes the thumbnail of a video from its poster frame.
func (s *Server) thumbFromImage(ctx context.Context, mediaID, path string) error {
	out, err := media.RenderImage(path, []media.Profile{thumbSize}, s.cfg.ImageLimits)
	if err != nil {
		return err
	}
	return s.putThumb(ctx, mediaID, out[0].Data)
}

// audioThumb draws a sound-wave picture whose bars follow the file's hash,
// so audio items look alike as a kind and apart from one another.
func (s *Server) audioThumb(ctx context.Context, m store.Media) error {
	w, h := thumbSize.Width, thumbSize.Height
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	bg, fg := color.RGBA{0x16, 0x1b, 0x2e, 255}, color.RGBA{0x4f, 0xc3, 0xf7, 255}
	sum := sha256.Sum256([]byte(m.SHA256))
	const bars = 32
	for x := 0; x < w; x++ {
		b := x * bars / w
		amp := int(sum[b%len(sum)])%(h/2-10) + 6
		inBar := x%(w/bars) < (w/bars)*2/3
		for y := 0; y < h; y++ {
			c := bg
			if inBar && y > h/2-amp && y < h/2+amp {
				c = fg
			}
			img.SetRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		return err
	}
	return s.putThumb(ctx, m.ID, buf.Bytes())
}

func (s *Server) putThumb(ctx context.Context, mediaID string, data []byte) error {
	b, err := s.blobs.PutBytes(data)
	if err != nil {
		return err
	}
	return s.putRendition(ctx, store.Rendition{MediaID: mediaID, Profile: thumbProfile, Width: thumbSize.Width, Height: thumbSize.Height,
		SHA256: b.SHA256, Size: b.Size, ContentType: "image/jpeg"})
}
