package media_test

import (
	"bytes"
	"errors"
	"image/jpeg"
	"os"
	"strings"
	"testing"

	"beacon/media"
	"beacon/media/corpus"
	"beacon/media/native"
)

// TestStillCorpus runs every file of the still-picture corpus through the
// upload check and the renderer: each becomes a rendition of its expected
// size with its top-left corner where its transforms put it, or is refused
// with the expected kind of message.
func TestStillCorpus(t *testing.T) {
	if !native.Available {
		t.Skip("built without cgo: HEIF/AVIF are refused and JPEG uses Go's decoder")
	}
	big := os.Getenv("BEACON_BIG") == "1" || !testing.Short()
	cases, skipped := corpus.Build(t, t.TempDir(), big)
	for _, s := range skipped {
		t.Logf("skipped: %s", s)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			info, err := media.CheckImage(c.Path, media.DefaultLimits)
			if c.Want != corpus.Ready {
				checkRefusal(t, c, err)
				_, err := media.RenderImage(c.Path, []media.Profile{{Width: 64, Height: 64}}, media.DefaultLimits)
				checkRefusal(t, c, err)
				return
			}
			if err != nil {
				t.Fatalf("CheckImage: %v", err)
			}
			if c.Format == "jpeg" {
				data, _ := os.ReadFile(c.Path)
				_, goErr := jpeg.Decode(bytes.NewReader(data))
				t.Logf("Go's own decoder: %v", goErr)
				if c.GoRefuses && goErr == nil {
					t.Errorf("Go's decoder reads it: the case does not show why libjpeg-turbo is needed")
				}
			}
			if info.Format != c.Format {
				t.Errorf("format %q, want %q", info.Format, c.Format)
			}
			if w, h := info.DisplaySize(); w != c.Width || h != c.Height {
				t.Errorf("display size %d×%d, want %d×%d", w, h, c.Width, c.Height)
			}
			pw, ph := c.Width, c.Height
			if pw*ph > 4_000_000 {
				pw, ph = pw/8, ph/8
			}
			out, err := media.RenderImage(c.Path, []media.Profile{{Width: pw, Height: ph, Fit: media.FitStretch}}, media.DefaultLimits)
			if err != nil {
				t.Fatalf("RenderImage: %v", err)
			}
			img, err := jpeg.Decode(bytes.NewReader(out[0].Data))
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != pw || b.Dy() != ph {
				t.Errorf("rendition %v, want %d×%d", b, pw, ph)
			}
			if c.Red != "" {
				if got := corpus.RedQuarter(img); got != c.Red {
					t.Errorf("red quarter %q, want %q (orientation not applied as the file says)", got, c.Red)
				}
			}
		})
	}
}

func checkRefusal(t *testing.T, c corpus.Case, err error) {
	t.Helper()
	var want error
	switch c.Want {
	case corpus.TooLarge:
		want = media.ErrTooManyPixels
	case corpus.Unsupported:
		want = media.ErrUnsupported
	case corpus.Damaged:
		want = media.ErrCorrupt
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
	if !strings.HasPrefix(err.Error(), c.Want) || !strings.Contains(err.Error(), c.Message) {
		t.Errorf("message %q, want it to start with %q and contain %q", err, c.Want, c.Message)
	}
	for _, other := range []error{media.ErrTooManyPixels, media.ErrUnsupported, media.ErrCorrupt, media.ErrNotImage} {
		if other != want && errors.Is(err, other) {
			t.Errorf("error %v is also %v", err, other)
		}
	}
}
