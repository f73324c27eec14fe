package media

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/disintegration/imaging"
)

// plane is one 8-bit channel (Y, Cb or Cr) of a picture.
type plane struct {
	pix    []uint8
	stride int
	w, h   int
}

func newPlane(w, h int) plane {
	return plane{pix: make([]uint8, w*h), stride: w, w: w, h: h}
}

// sub returns the w×h window of p at (x, y), sharing its pixels.
func (p plane) sub(x, y, w, h int) plane {
	if w == 0 || h == 0 {
		return plane{stride: p.stride}
	}
	start := y*p.stride + x
	end := (y+h-1)*p.stride + x + w
	return plane{pix: p.pix[start:end:end], stride: p.stride, w: w, h: h}
}

func (p plane) row(y int) []uint8 {
	return p.pix[y*p.stride : y*p.stride+p.w]
}

func (p plane) fill(v uint8) {
	for y := 0; y < p.h; y++ {
		r := p.row(y)
		for i := range r {
			r[i] = v
		}
	}
}

// filter is the resampling kernel: imaging's Lanczos (a = 3).
var filter = imaging.Lanczos

// Fixed-point precision of the filter weights. With 22 fraction bits the
// weighted sum of 8-bit samples stays inside int32 for Lanczos, whose
// absolute weights add up to well under 1.5.
const (
	weightBits = 22
	weightOne  = 1 << weightBits
	weightHalf = 1 << (weightBits - 1)
)

// weights holds, for each output sample, n filter taps starting at start[i].
type weights struct {
	n     int
	start []int
	w     []int32 // len(start)*n
}

// makeWeights computes the taps that map the source span [off, off+length)
// (in sample units, where sample i covers [i, i+1)) onto out samples. Taps
// falling outside the avail source samples are folded onto the edges.
func makeWeights(out int, off, length float64, avail int) weights {
	scale := length / float64(out)
	fscale := math.Max(scale, 1)
	support := filter.Support * fscale
	maxTaps := int(math.Ceil(support*2)) + 2
	if maxTaps > avail {
		maxTaps = avail
	}
	ws := weights{n: maxTaps, start: make([]int, out), w: make([]int32, out*maxTaps)}
	buf := make([]float64, int(math.Ceil(support*2))+4)
	for j := 0; j < out; j++ {
		center := off + (float64(j)+0.5)*scale
		lo := int(math.Floor(center - support))
		hi := int(math.Ceil(center + support))
		first := max(lo, 0)
		last := min(hi, avail-1)
		if first > last { // the span lies outside the source: use the nearest edge
			if lo >= avail {
				first, last = avail-1, avail-1
			} else {
				first, last = 0, 0
			}
		}
		acc := buf[:last-first+1]
		clear(acc)
		sum := 0.0
		for i := lo; i <= hi; i++ {
			k := filter.Kernel((float64(i) + 0.5 - center) / fscale)
			if k == 0 {
				continue
			}
			idx := min(max(i, first), last)
			acc[idx-first] += k
			sum += k
		}
		if sum == 0 {
			acc[min(max(int(center), first), last)-first] = 1
			sum = 1
		}
		// Trim zero taps at both ends so the window fits maxTaps.
		for len(acc) > 1 && acc[0] == 0 {
			acc = acc[1:]
			first++
		}
		for len(acc) > 1 && acc[len(acc)-1] == 0 {
			acc = acc[:len(acc)-1]
		}
		start := min(first, avail-maxTaps)
		row := ws.w[j*maxTaps : (j+1)*maxTaps]
		total := int32(0)
		best, bestIdx := 0.0, 0
		for i, v := range acc {
			q := int32(math.Round(v / sum * weightOne))
			row[first-start+i] = q
			total += q
			if math.Abs(v) > best {
				best, bestIdx = math.Abs(v), first-start+i
			}
		}
		row[bestIdx] += weightOne - total // exact unit gain
		ws.start[j] = start
	}
	return ws
}

func clamp8(v int32) uint8 {
	v >>= weightBits
	if uint32(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return uint8(v)
}

// resample resizes the source span (x0, y0, sw, sh) of src (in sample
// units) into all of dst with the Lanczos filter, horizontally first.
func resample(src plane, x0, y0, sw, sh float64, dst plane, workers int) {
	hw := makeWeights(dst.w, x0, sw, src.w)
	vw := makeWeights(dst.h, y0, sh, src.h)
	rowLo := vw.start[0]
	rowHi := vw.start[len(vw.start)-1] + vw.n
	for _, s := range vw.start {
		rowLo = min(rowLo, s)
		rowHi = max(rowHi, s+vw.n)
	}
	tmp := newPlane(dst.w, rowHi-rowLo)

	// Horizontal pass over the source rows the vertical pass needs.
	parallel(tmp.h, workers, func(lo, hi int) {
		n := hw.n
		for y := lo; y < hi; y++ {
			in := src.row(rowLo + y)
			out := tmp.row(y)
			for x := range out {
				s := hw.start[x]
				w := hw.w[x*n : x*n+n]
				p := in[s : s+n]
				p = p[:len(w)]
				sum := int32(weightHalf)
				i := 0
				for ; i+4 <= len(w); i += 4 {
					sum += int32(p[i])*w[i] + int32(p[i+1])*w[i+1] + int32(p[i+2])*w[i+2] + int32(p[i+3])*w[i+3]
				}
				for ; i < len(w); i++ {
					sum += int32(p[i]) * w[i]
				}
				out[x] = clamp8(sum)
			}
		}
	})

	// Vertical pass, one output row at a time.
	parallel(dst.h, workers, func(lo, hi int) {
		n := vw.n
		acc := make([]int32, dst.w)
		for y := lo; y < hi; y++ {
			for i := range acc {
				acc[i] = weightHalf
			}
			s := vw.start[y] - rowLo
			w := vw.w[y*n : y*n+n]
			k := 0
			for ; k+2 <= n; k += 2 {
				w0, w1 := w[k], w[k+1]
				if w0 == 0 && w1 == 0 {
					continue
				}
				r0 := tmp.row(s + k)
				r1 := tmp.row(s + k + 1)
				r0 = r0[:len(acc)]
				r1 = r1[:len(acc)]
				for x := range acc {
					acc[x] += int32(r0[x])*w0 + int32(r1[x])*w1
				}
			}
			if k < n && w[k] != 0 {
				w0 := w[k]
				r0 := tmp.row(s + k)
				r0 = r0[:len(acc)]
				for x := range acc {
					acc[x] += int32(r0[x]) * w0
				}
			}
			out := dst.row(y)
			out = out[:len(acc)]
			for x, v := range acc {
				out[x] = clamp8(v)
			}
		}
	})
}

// boxReduce averages kx×ky blocks of the window [x0,x1)×[y0,y1) of src. The
// last block in a row or column may be partial and averages what it has.
func boxReduce(src plane, x0, y0, x1, y1, kx, ky, workers int) plane {
	ow := (x1 - x0 + kx - 1) / kx
	oh := (y1 - y0 + ky - 1) / ky
	dst := newPlane(ow, oh)
	parallel(oh, workers, func(lo, hi int) {
		acc := make([]uint32, ow)
		for oy := lo; oy < hi; oy++ {
			clear(acc)
			sy := y0 + oy*ky
			ey := min(sy+ky, y1)
			for y := sy; y < ey; y++ {
				in := src.row(y)[x0:x1]
				ox := 0
				for i := 0; i+kx <= len(in); i += kx {
					var s uint32
					for _, v := range in[i : i+kx] {
						s += uint32(v)
					}
					acc[ox] += s
					ox++
				}
				if rem := len(in) % kx; rem != 0 {
					var s uint32
					for _, v := range in[len(in)-rem:] {
						s += uint32(v)
					}
					acc[ox] += s
				}
			}
			rows := uint32(ey - sy)
			full := rows * uint32(kx)
			out := dst.row(oy)
			for ox, s := range acc {
				cnt := full
				if ox == ow-1 {
					if rem := (x1 - x0) % kx; rem != 0 {
						cnt = rows * uint32(rem)
					}
				}
				out[ox] = uint8((s + cnt/2) / cnt)
			}
		}
	})
	return dst
}

// resize maps the span (x0, y0, sw, sh) of src, in sample units, onto dst.
// When the reduction is large it first averages integer blocks, keeping the
// intermediate at least twice the target size so the Lanczos pass that
// follows decides the quality.
func resize(src plane, x0, y0, sw, sh float64, dst plane, workers int) {
	kx := int(sw / float64(dst.w) / 2)
	ky := int(sh / float64(dst.h) / 2)
	if kx >= 2 || ky >= 2 {
		kx, ky = max(kx, 1), max(ky, 1)
		bx0 := max(int(math.Floor(x0)), 0)
		by0 := max(int(math.Floor(y0)), 0)
		bx1 := min(int(math.Ceil(x0+sw)), src.w)
		by1 := min(int(math.Ceil(y0+sh)), src.h)
		if bx1 > bx0 && by1 > by0 {
			src = boxReduce(src, bx0, by0, bx1, by1, kx, ky, workers)
			x0 = (x0 - float64(bx0)) / float64(kx)
			y0 = (y0 - float64(by0)) / float64(ky)
			sw /= float64(kx)
			sh /= float64(ky)
		}
	}
	resample(src, x0, y0, sw, sh, dst, workers)
}

// parallel runs fn over [0, n) in chunks on up to workers goroutines. A
// panic in a worker is re-raised in the caller.
func parallel(n, workers int, fn func(lo, hi int)) {
	if workers <= 1 || n < 32 {
		fn(0, n)
		return
	}
	chunk := max(n/(workers*4), 8)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var panicked any
	work := func() {
		defer func() {
			if p := recover(); p != nil {
				mu.Lock()
				panicked = p
				mu.Unlock()
			}
		}()
		for {
			lo := int(next.Add(int64(chunk))) - chunk
			if lo >= n {
				return
			}
			fn(lo, min(lo+chunk, n))
		}
	}
	for i := 1; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
	if panicked != nil {
		panic(panicked)
	}
}
