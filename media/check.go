package media

import "os"

// CheckImage probes the picture at path and then decodes it in full, so an
// upload that is cut short or damaged past its header is refused at once
// (an error wrapping ErrCorrupt) rather than when its first rendition is
// made. The decoded pixels are dropped.
func CheckImage(path string, lim Limits) (ImageInfo, error) {
	info, err := ProbeImage(path, lim)
	if err != nil {
		return info, err
	}
	renderSem <- struct{}{}
	defer func() { <-renderSem }()
	data, err := os.ReadFile(path)
	if err != nil {
		return info, err
	}
	if _, err := decodeImage(info.Format, data); err != nil {
		return info, corrupt(err)
	}
	return info, nil
}
