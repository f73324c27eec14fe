package media

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
	"runtime"
	"slices"
	"sync"
)

// Rendition is one profile's output: a JPEG of exactly the profile's size.
type Rendition struct {
	Profile       Profile
	Width, Height int
	ContentType   string // "image/jpeg"
	Data          []byte
}

// jpegQuality is the encoder quality of every rendition.
const jpegQuality = 90

// renderSem bounds how many RenderImage calls run at once: one per two CPUs,
// at least one. Each render keeps up to renderWorkers goroutines busy with
// pixel work and holds a full decoded picture in memory. General-purpose
// resizers such as imaging start GOMAXPROCS goroutines for every operation,
// so a burst of uploads would otherwise occupy every core and delay the
// server's WebSocket fan-out to players; with this bound renditions take
// at most about all CPUs and the scheduler keeps the fan-out responsive,
// while memory stays at a few decoded pictures.
var renderSem = make(chan struct{}, max(1, runtime.NumCPU()/2))

// renderWorkers is the number of goroutines one render uses for resampling.
var renderWorkers = min(2, max(1, runtime.GOMAXPROCS(0)))

// RenderImage decodes the picture at path once and returns one JPEG
// rendition per profile, in the order given. The picture is turned upright
// by its EXIF orientation and resampled with a Lanczos filter. Errors wrap
// ErrNotImage, ErrTooManyPixels or ErrCorrupt when the input is at fault.
func RenderImage(path string, profiles []Profile, lim Limits) (out []Rendition, err error) {
	for _, p := range profiles {
		if err := p.validate(); err != nil {
			return nil, err
		}
	}
	renderSem <- struct{}{}
	defer func() { <-renderSem }()

	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	info, err := probe(bytes.NewReader(data), int64(len(data)), lim)
	if err != nil {
		return nil, err
	}
	img, err := decodeStill(forProfiles(info, profiles), data, lim)
	if err != nil {
		return nil, err
	}
	data = nil
	b := img.Bounds()
	if err := lim.check(b.Dx(), b.Dy()); err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("media: rendering failed: %v", p)
		}
	}()
	return render(img, info.Orientation, profiles, renderWorkers)
}

// layer is one channel of a frame and how densely it samples the frame.
type layer struct {
	p      plane
	fx, fy float64 // samples per frame pixel (0.5 for 4:2:0 chroma)
}

// frame is a picture as Y, Cb and Cr layers, in stored orientation.
type frame struct {
	w, h   int
	layers [3]layer
}

// source is a decoded picture prepared for one background colour, with the
// full-frame renditions made so far, which smaller profiles may start from.
type source struct {
	orig   *frame
	stages []*frame
}

func render(img image.Image, orientation int, profiles []Profile, workers int) ([]Rendition, error) {
	if orientation < 1 || orientation > 8 {
		orientation = 1
	}
	// Larger outputs first, so smaller ones can start from them.
	order := make([]int, len(profiles))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		pa, pb := profiles[a], profiles[b]
		return pb.Width*pb.Height - pa.Width*pa.Height
	})

	needsBG := !isOpaque(img)
	sources := map[[3]uint8]*source{}
	out := make([]Rendition, len(profiles))
	errs := make([]error, len(profiles))
	var enc sync.WaitGroup
	for _, i := range order {
		p := profiles[i]
		bg := p.Background
		key := [3]uint8{}
		if needsBG {
			key = [3]uint8{bg.R, bg.G, bg.B}
		}
		src := sources[key]
		if src == nil {
			src = &source{orig: toFrame(img, bg, workers)}
			sources[key] = src
		}
		canvas := renderProfile(src, orientation, p, workers)
		enc.Add(1)
		go func() {
			defer enc.Done()
			var buf bytes.Buffer
			buf.Grow(p.Width * p.Height / 4)
			if err := jpeg.Encode(&buf, canvas, &jpeg.Options{Quality: jpegQuality}); err != nil {
				errs[i] = fmt.Errorf("media: encode %s: %w", p.Name(), err)
				return
			}
			out[i] = Rendition{Profile: p, Width: p.Width, Height: p.Height, ContentType: "image/jpeg", Data: buf.Bytes()}
		}()
	}
	enc.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// renderProfile produces the profile's exact-size picture.
func renderProfile(src *source, orientation int, p Profile, workers int) *image.YCbCr {
	W, H := p.Width, p.Height
	sw, sh := float64(src.orig.w), float64(src.orig.h)
	swap := orientation >= 5
	dw, dh := sw, sh // display size
	if swap {
		dw, dh = sh, sw
	}

	// The span of the stored frame to use, the stored-orientation output
	// size, and where the output goes on the display canvas.
	rx, ry, rw, rh := 0.0, 0.0, sw, sh
	var pw, ph int // display size of the placed picture
	var px, py int
	fit := p.fit()
	switch fit {
	case FitContain:
		s := math.Min(float64(W)/dw, float64(H)/dh)
		pw = min(max(int(math.Round(dw*s)), 1), W)
		ph = min(max(int(math.Round(dh*s)), 1), H)
		px, py = (W-pw)/2, (H-ph)/2
	case FitCover:
		s := math.Max(float64(W)/dw, float64(H)/dh)
		cw, ch := float64(W)/s, float64(H)/s
		if swap {
			cw, ch = ch, cw
		}
		rx, ry, rw, rh = (sw-cw)/2, (sh-ch)/2, cw, ch
		pw, ph = W, H
	default: // stretch
		pw, ph = W, H
	}
	ow, oh := pw, ph // stored-orientation output size
	if swap {
		ow, oh = ph, pw
	}

	canvas := image.NewYCbCr(image.Rect(0, 0, W, H), image.YCbCrSubsampleRatio444)
	cplanes := [3]plane{
		{pix: canvas.Y, stride: canvas.YStride, w: W, h: H},
		{pix: canvas.Cb, stride: canvas.CStride, w: W, h: H},
		{pix: canvas.Cr, stride: canvas.CStride, w: W, h: H},
	}
	if pw != W || ph != H {
		y, cb, cr := color.RGBToYCbCr(p.Background.R, p.Background.G, p.Background.B)
		for c, v := range [3]uint8{y, cb, cr} {
			cplanes[c].fill(v)
		}
	}

	// Start from the smallest earlier rendition that still has at least
	// twice the target resolution over the span, else from the original.
	from := src.orig
	for _, st := range src.stages {
		kx, ky := float64(st.w)/sw, float64(st.h)/sh
		if rw*kx >= 2*float64(ow) && rh*ky >= 2*float64(oh) && st.w*st.h < from.w*from.h {
			from = st
		}
	}
	kx, ky := float64(from.w)/sw, float64(from.h)/sh

	stage := &frame{w: ow, h: oh}
	for c := range 3 {
		var dst plane
		if orientation == 1 {
			dst = cplanes[c].sub(px, py, pw, ph)
		} else {
			dst = newPlane(ow, oh)
		}
		l := from.layers[c]
		fx, fy := kx*l.fx, ky*l.fy
		resize(l.p, rx*fx, ry*fy, rw*fx, rh*fy, dst, workers)
		if orientation != 1 {
			orient(dst, cplanes[c].sub(px, py, pw, ph), orientation)
		}
		stage.layers[c] = layer{p: dst, fx: 1, fy: 1}
	}
	if fit != FitCover {
		src.stages = append(src.stages, stage)
	}
	return canvas
}

// orient copies src (stored orientation) into dst (display orientation)
// applying EXIF orientation o.
func orient(src, dst plane, o int) {
	sw, sh, st := src.w, src.h, src.stride
	for y := 0; y < dst.h; y++ {
		var base, step int
		switch o {
		case 2:
			base, step = y*st+sw-1, -1
		case 3:
			base, step = (sh-1-y)*st+sw-1, -1
		case 4:
			base, step = (sh-1-y)*st, 1
		case 5:
			base, step = y, st
		case 6:
			base, step = (sh-1)*st+y, -st
		case 7:
			base, step = (sh-1)*st+sw-1-y, -st
		case 8:
			base, step = sw-1-y, st
		default:
			base, step = y*st, 1
		}
		out := dst.row(y)
		idx := base
		for x := range out {
			out[x] = src.pix[idx]
			idx += step
		}
	}
}

// isOpaque reports whether img certainly has no transparent pixels.
func isOpaque(img image.Image) bool {
	switch img.(type) {
	case *image.YCbCr, *image.Gray, *image.Gray16, *image.CMYK:
		return true
	}
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return false
}

// toFrame exposes img as Y, Cb and Cr layers. JPEG-style YCbCr and grey
// pictures are used in place; anything else is converted once, with
// transparent pixels composited over bg.
func toFrame(img image.Image, bg color.NRGBA, workers int) *frame {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	f := &frame{w: w, h: h}
	switch m := img.(type) {
	case *image.YCbCr:
		if b.Min != (image.Point{}) {
			break
		}
		hdiv, vdiv := 1, 1
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio444:
		case image.YCbCrSubsampleRatio422:
			hdiv = 2
		case image.YCbCrSubsampleRatio420:
			hdiv, vdiv = 2, 2
		case image.YCbCrSubsampleRatio440:
			vdiv = 2
		case image.YCbCrSubsampleRatio411:
			hdiv = 4
		case image.YCbCrSubsampleRatio410:
			hdiv, vdiv = 4, 2
		default:
			hdiv = 0
		}
		if hdiv == 0 {
			break
		}
		cw, ch := (w+hdiv-1)/hdiv, (h+vdiv-1)/vdiv
		f.layers[0] = layer{p: plane{pix: m.Y, stride: m.YStride, w: w, h: h}, fx: 1, fy: 1}
		f.layers[1] = layer{p: plane{pix: m.Cb, stride: m.CStride, w: cw, h: ch}, fx: 1 / float64(hdiv), fy: 1 / float64(vdiv)}
		f.layers[2] = layer{p: plane{pix: m.Cr, stride: m.CStride, w: cw, h: ch}, fx: 1 / float64(hdiv), fy: 1 / float64(vdiv)}
		return f
	case *image.Gray:
		if b.Min != (image.Point{}) {
			break
		}
		f.layers[0] = layer{p: plane{pix: m.Pix, stride: m.Stride, w: w, h: h}, fx: 1, fy: 1}
		neutral := plane{pix: []uint8{128}, stride: 1, w: 1, h: 1}
		f.layers[1] = layer{p: neutral, fx: 1 / float64(w), fy: 1 / float64(h)}
		f.layers[2] = f.layers[1]
		return f
	}

	var ps [3]plane
	for c := range ps {
		ps[c] = newPlane(w, h)
		f.layers[c] = layer{p: ps[c], fx: 1, fy: 1}
	}
	bgY, bgCb, bgCr := color.RGBToYCbCr(bg.R, bg.G, bg.B)
	var lut [256][3]uint8 // palette as Y, Cb, Cr; unknown indexes show bg
	if m, ok := img.(*image.Paletted); ok {
		for i := range lut {
			lut[i] = [3]uint8{bgY, bgCb, bgCr}
		}
		for i, c := range m.Palette {
			if i < len(lut) {
				lut[i] = flatten(c, bg)
			}
		}
	}
	parallel(h, workers, func(lo, hi int) {
		for y := lo; y < hi; y++ {
			Y, Cb, Cr := ps[0].row(y), ps[1].row(y), ps[2].row(y)
			sy := b.Min.Y + y
			switch m := img.(type) {
			case *image.NRGBA:
				row := m.Pix[m.PixOffset(b.Min.X, sy):]
				for x := range Y {
					s := row[4*x : 4*x+4 : 4*x+4]
					r, g, bb, a := uint32(s[0]), uint32(s[1]), uint32(s[2]), uint32(s[3])
					if a != 255 {
						r = (r*a + uint32(bg.R)*(255-a) + 127) / 255
						g = (g*a + uint32(bg.G)*(255-a) + 127) / 255
						bb = (bb*a + uint32(bg.B)*(255-a) + 127) / 255
					}
					Y[x], Cb[x], Cr[x] = color.RGBToYCbCr(uint8(r), uint8(g), uint8(bb))
				}
			case *image.RGBA:
				row := m.Pix[m.PixOffset(b.Min.X, sy):]
				for x := range Y {
					s := row[4*x : 4*x+4 : 4*x+4]
					r, g, bb, a := uint32(s[0]), uint32(s[1]), uint32(s[2]), uint32(s[3])
					if a != 255 {
						r += (uint32(bg.R)*(255-a) + 127) / 255
						g += (uint32(bg.G)*(255-a) + 127) / 255
						bb += (uint32(bg.B)*(255-a) + 127) / 255
					}
					Y[x], Cb[x], Cr[x] = color.RGBToYCbCr(uint8(min(r, 255)), uint8(min(g, 255)), uint8(min(bb, 255)))
				}
			case *image.NYCbCrA:
				for x := range Y {
					sx := b.Min.X + x
					yi, ci := m.YOffset(sx, sy), m.COffset(sx, sy)
					yy, cb, cr, a := uint32(m.Y[yi]), uint32(m.Cb[ci]), uint32(m.Cr[ci]), uint32(m.A[m.AOffset(sx, sy)])
					if a != 255 {
						yy = (yy*a + uint32(bgY)*(255-a) + 127) / 255
						cb = (cb*a + uint32(bgCb)*(255-a) + 127) / 255
						cr = (cr*a + uint32(bgCr)*(255-a) + 127) / 255
					}
					Y[x], Cb[x], Cr[x] = uint8(yy), uint8(cb), uint8(cr)
				}
			case *image.Paletted:
				row := m.Pix[m.PixOffset(b.Min.X, sy):]
				for x := range Y {
					v := lut[row[x]]
					Y[x], Cb[x], Cr[x] = v[0], v[1], v[2]
				}
			default:
				for x := range Y {
					v := flatten(img.At(b.Min.X+x, sy), bg)
					Y[x], Cb[x], Cr[x] = v[0], v[1], v[2]
				}
			}
		}
	})
	return f
}

// flatten composites c over bg and returns it as Y, Cb, Cr.
func flatten(c color.Color, bg color.NRGBA) [3]uint8 {
	r, g, b, a := c.RGBA() // premultiplied, 16 bit
	t := 0xffff - a
	r = (r + uint32(bg.R)*0x101*t/0xffff) >> 8
	g = (g + uint32(bg.G)*0x101*t/0xffff) >> 8
	b = (b + uint32(bg.B)*0x101*t/0xffff) >> 8
	y, cb, cr := color.RGBToYCbCr(uint8(min(r, 255)), uint8(min(g, 255)), uint8(min(b, 255)))
	return [3]uint8{y, cb, cr}
}
