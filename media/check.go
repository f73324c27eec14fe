package media

import "os"

// CheckImage probes the picture at path and then decodes it in full, so an
// upload that is cut short or damaged past its header is refused at once
// (an error wrapping ErrCorrupt) rather than when its first rendition is
// made. The decoded pixels are dropped. Animated pictures are not decoded:
// info.Animation describes them, checked against lim.Anim.
func CheckImage(path string, lim Limits) (ImageInfo, error) {
	info, err := ProbeImage(path, lim)
	if err != nil {
		return info, err
	}
	// An animation is played as video: its frames are decoded by the media
	// worker, so only its structure is read here.
	if a, ok, err := ProbeAnimation(path, info.Format); err != nil {
		return info, err
	} else if ok {
		info.Animation = &a
		return info, lim.Anim.Check(a)
	}
	renderSem <- struct{}{}
	defer func() { <-renderSem }()
	data, err := os.ReadFile(path)
	if err != nil {
		return info, err
	}
	if _, err := decodeStill(checkOnly(info), data, lim); err != nil {
		return info, err
	}
	return info, nil
}
