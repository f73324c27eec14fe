package av

import (
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	"beacon/media"
)

// VideoProfile is one video rendition: an exact output size and how the
// picture is fitted into it, a frame-rate cap and H.264 constraints.
type VideoProfile struct {
	Width       int         `json:"width"`
	Height      int         `json:"height"`
	Fit         media.Fit   `json:"fit,omitempty"`          // "" = contain
	Background  color.NRGBA `json:"background"`             // letterbox colour for contain (alpha ignored)
	MaxFPS      float64     `json:"max_fps,omitempty"`      // 0 = 30
	MaxBitrate  int         `json:"max_bitrate,omitempty"`  // bits per second; 0 = chosen from the size
	H264Profile string      `json:"h264_profile,omitempty"` // baseline, main or high (default)
	H264Level   string      `json:"h264_level,omitempty"`   // e.g. "4.1"; "" = chosen by the encoder
}

func (p VideoProfile) fit() media.Fit {
	if p.Fit == "" {
		return media.FitContain
	}
	return p.Fit
}

func (p VideoProfile) maxFPS() float64 {
	if p.MaxFPS <= 0 {
		return 30
	}
	return p.MaxFPS
}

func (p VideoProfile) h264Profile() string {
	if p.H264Profile == "" {
		return "high"
	}
	return strings.ToLower(p.H264Profile)
}

// size returns the output size, rounded down to even numbers as 4:2:0
// chroma needs.
func (p VideoProfile) size() (int, int) {
	return max(p.Width&^1, 2), max(p.Height&^1, 2)
}

// maxBitrate is the rate cap: the profile's, or about 0.13 bits per pixel
// per frame (8 Mb/s for 1080p30), never under 300 kb/s.
func (p VideoProfile) maxBitrate(fps float64) int {
	if p.MaxBitrate > 0 {
		return p.MaxBitrate
	}
	w, h := p.size()
	return max(int(float64(w*h)*fps*0.13), 300_000)
}

// Name is a stable identifier for the profile, used in output file names,
// e.g. "1920x1080-contain-000000-30fps".
func (p VideoProfile) Name() string {
	w, h := p.size()
	fps := strconv.FormatFloat(p.maxFPS(), 'f', -1, 64)
	s := fmt.Sprintf("%dx%d-%s-%02x%02x%02x-%sfps", w, h, p.fit(), p.Background.R, p.Background.G, p.Background.B, fps)
	if p.MaxBitrate > 0 {
		s += fmt.Sprintf("-%dk", p.MaxBitrate/1000)
	}
	if hp := p.h264Profile(); hp != "high" {
		s += "-" + hp
	}
	if p.H264Level != "" {
		s += "-l" + p.H264Level
	}
	return s
}

// Validate checks a profile's values.
func (p VideoProfile) Validate() error {
	if p.Width < 16 || p.Height < 16 || p.Width > MaxWidth || p.Height > MaxHeight {
		return fmt.Errorf("av: profile size %dx%d out of range (16..%d)", p.Width, p.Height, MaxWidth)
	}
	if _, err := media.ParseFit(string(p.Fit)); err != nil {
		return err
	}
	switch p.h264Profile() {
	case "baseline", "main", "high":
	default:
		return fmt.Errorf("av: unknown H.264 profile %q (baseline, main or high)", p.H264Profile)
	}
	if p.H264Level != "" {
		if _, err := strconv.ParseFloat(p.H264Level, 64); err != nil {
			return fmt.Errorf("av: bad H.264 level %q", p.H264Level)
		}
	}
	if p.MaxFPS < 0 || p.MaxFPS > 120 || p.MaxBitrate < 0 {
		return fmt.Errorf("av: bad frame rate or bitrate cap")
	}
	return nil
}

// ParseVideoProfile parses the command line form
// WIDTHxHEIGHT[:FIT][:bg=RRGGBB][:fps=N][:kbps=N][:profile=P][:level=L],
// e.g. "1920x1080", "384x192:cover", "1080x1920:contain:bg=ffffff:fps=25".
func ParseVideoProfile(s string) (VideoProfile, error) {
	parts := strings.Split(s, ":")
	var p VideoProfile
	if _, err := fmt.Sscanf(parts[0], "%dx%d", &p.Width, &p.Height); err != nil {
		return p, fmt.Errorf("av: profile %q: want WIDTHxHEIGHT", s)
	}
	for _, part := range parts[1:] {
		k, v, ok := strings.Cut(part, "=")
		var err error
		switch {
		case !ok:
			p.Fit, err = media.ParseFit(k)
		case k == "bg":
			var c uint64
			c, err = strconv.ParseUint(strings.TrimPrefix(v, "#"), 16, 32)
			p.Background = color.NRGBA{uint8(c >> 16), uint8(c >> 8), uint8(c), 255}
		case k == "fps":
			p.MaxFPS, err = strconv.ParseFloat(v, 64)
		case k == "kbps":
			var n int
			n, err = strconv.Atoi(v)
			p.MaxBitrate = n * 1000
		case k == "profile":
			p.H264Profile = v
		case k == "level":
			p.H264Level = v
		default:
			err = fmt.Errorf("unknown key %q", k)
		}
		if err != nil {
			return p, fmt.Errorf("av: profile %q: %v", s, err)
		}
	}
	return p, p.Validate()
}

// scaleFilter is the libavfilter chain that fits a srcW×srcH picture
// (sample aspect ratio sar) into the profile: scale, then pad (contain) or
// crop (cover), then yuv420p with square pixels.
func (p VideoProfile) scaleFilter(srcW, srcH int, sar float64) string {
	W, H := p.size()
	if sar <= 0 || math.IsNaN(sar) || math.IsInf(sar, 0) {
		sar = 1
	}
	dw, dh := float64(srcW)*sar, float64(srcH)
	even := func(v float64) int { return max(int(math.Round(v/2))*2, 2) }
	var f string
	switch p.fit() {
	case media.FitStretch:
		f = fmt.Sprintf("scale=%d:%d", W, H)
	case media.FitCover:
		s := math.Max(float64(W)/dw, float64(H)/dh)
		sw, sh := max(even(dw*s), W), max(even(dh*s), H)
		f = fmt.Sprintf("scale=%d:%d", sw, sh)
		if sw != W || sh != H {
			f += fmt.Sprintf(",crop=%d:%d:%d:%d", W, H, ((sw-W)/2)&^1, ((sh-H)/2)&^1)
		}
	default:
		s := math.Min(float64(W)/dw, float64(H)/dh)
		sw, sh := min(even(dw*s), W), min(even(dh*s), H)
		f = fmt.Sprintf("scale=%d:%d", sw, sh)
		if sw != W || sh != H {
			bg := p.Background
			f += fmt.Sprintf(",pad=%d:%d:%d:%d:color=0x%02x%02x%02x", W, H, ((W-sw)/2)&^1, ((H-sh)/2)&^1, bg.R, bg.G, bg.B)
		}
	}
	return f + ",format=yuv420p,setsar=1"
}
