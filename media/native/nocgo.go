//go:build !cgo

package native

import "image"

// Available reports whether the C decoders are linked in.
const Available = false

// HEIFInfo describes the primary image of a HEIF/AVIF file.
type HEIFInfo struct {
	Width, Height           int
	CodedWidth, CodedHeight int
	HasAlpha                bool
	Exif                    []byte
}

func HEIFProbe(data []byte) (HEIFInfo, error)                  { return HEIFInfo{}, ErrUnavailable }
func HEIFDecode(data []byte, check Check) (image.Image, error) { return nil, ErrUnavailable }

// JPEGInfo describes a JPEG's header.
type JPEGInfo struct {
	Width, Height int
}

func JPEGProbe(data []byte) (JPEGInfo, error)                  { return JPEGInfo{}, ErrUnavailable }
func JPEGDecode(data []byte, denom int) (image.Image, error)   { return nil, ErrUnavailable }
func TIFFDecode(data []byte, check Check) (image.Image, error) { return nil, ErrUnavailable }
