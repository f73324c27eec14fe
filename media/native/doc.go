// Package native decodes still pictures with the system's C libraries
// through cgo: HEIF/HEIC and AVIF with libheif, JPEG with libjpeg-turbo and
// the TIFF variants Go's decoder lacks (JPEG-compressed, CMYK, tiled) with
// libtiff. Only the server links it: the player never imports media.
//
// Built without cgo, Available reports false and every decoder returns an
// error wrapping ErrUnavailable, so the pure-Go paths in media take over
// (and HEIF/AVIF are refused as not supported).
//
// Every decoder checks the picture's size with the caller's Check function
// before it allocates pixels, and returns errors of three kinds: the input
// is damaged (ErrDamaged), uses a feature the library cannot decode
// (ErrUnsupported), or is too large (whatever Check returned, or
// ErrTooLarge for a part larger than the whole).
package native

import "errors"

var (
	// ErrDamaged: the file is recognised but its data cannot be decoded.
	ErrDamaged = errors.New("damaged")
	// ErrUnsupported: the file is valid but uses a feature this build cannot
	// decode (for example a HEIF coded with a codec libheif lacks).
	ErrUnsupported = errors.New("not supported")
	// ErrTooLarge: a part of the file (a grid tile) is larger than the
	// size the caller accepted for the whole.
	ErrTooLarge = errors.New("too large")
	// ErrUnavailable: the binary was built without cgo.
	ErrUnavailable = errors.New("not supported: this build has no C image decoders (built without cgo)")
)

// Check is called with the size of the pixels about to be decoded and
// refuses them by returning an error.
type Check func(w, h int) error
