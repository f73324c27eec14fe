package av

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/asticode/go-astiav"
)

// graph is a libavfilter graph with one input and one output.
type graph struct {
	g    *astiav.FilterGraph
	src  *astiav.FilterContext
	sink *astiav.FilterContext
}

// newVideoGraph builds "buffer → desc → buffersink" for frames like f in
// time base tb.
func newVideoGraph(desc string, f *astiav.Frame, tb astiav.Rational, threads int) (*graph, error) {
	sar := f.SampleAspectRatio()
	if sar.Num() <= 0 || sar.Den() <= 0 {
		sar = astiav.NewRational(1, 1)
	}
	args := astiav.FilterArgs{
		"pix_fmt":      strconv.Itoa(int(f.PixelFormat())),
		"pixel_aspect": sar.String(),
		"time_base":    tb.String(),
		"video_size":   fmt.Sprintf("%dx%d", f.Width(), f.Height()),
	}
	return newGraph("buffer", "buffersink", args, desc, threads)
}

var defaultLayouts = map[int]string{1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}

// newAudioGraph builds "abuffer → desc → abuffersink".
func newAudioGraph(desc string, f *astiav.Frame, tb astiav.Rational) (*graph, error) {
	args := astiav.FilterArgs{}
	if l := f.ChannelLayout(); l.Valid() && !strings.Contains(l.String(), "channels") {
		args["channel_layout"] = l.String()
	} else if d, ok := defaultLayouts[f.ChannelLayout().NbChannels()]; ok {
		args["channel_layout"] = d // unknown order: assume the usual one
	} else {
		args["channels"] = strconv.Itoa(f.ChannelLayout().NbChannels())
	}
	args["sample_fmt"] = f.SampleFormat().Name()
	args["sample_rate"] = strconv.Itoa(f.SampleRate())
	args["time_base"] = tb.String()
	return newGraph("abuffer", "abuffersink", args, desc, 1)
}

func newGraph(srcName, sinkName string, args astiav.FilterArgs, desc string, threads int) (_ *graph, err error) {
	g := &graph{g: astiav.AllocFilterGraph()}
	if g.g == nil {
		return nil, errors.New("av: cannot allocate a filter graph")
	}
	defer func() {
		if err != nil {
			g.free()
		}
	}()
	if threads > 0 {
		g.g.SetThreadCount(threads)
	}
	if g.src, err = g.g.NewFilterContext(astiav.FindFilterByName(srcName), "in", args); err != nil {
		return nil, fmt.Errorf("av: filter source %s: %w%s", args, err, lastLog())
	}
	if g.sink, err = g.g.NewFilterContext(astiav.FindFilterByName(sinkName), "out", nil); err != nil {
		return nil, fmt.Errorf("av: filter sink: %w", err)
	}
	outputs, inputs := astiav.AllocFilterInOut(), astiav.AllocFilterInOut()
	defer outputs.Free()
	defer inputs.Free()
	outputs.SetName("in")
	outputs.SetFilterContext(g.src)
	outputs.SetPadIdx(0)
	outputs.SetNext(nil)
	inputs.SetName("out")
	inputs.SetFilterContext(g.sink)
	inputs.SetPadIdx(0)
	inputs.SetNext(nil)
	if desc == "" {
		desc = "null"
		if srcName == "abuffer" {
			desc = "anull"
		}
	}
	if err = g.g.Parse(desc, inputs, outputs); err != nil {
		return nil, fmt.Errorf("av: filter %q: %w%s", desc, err, lastLog())
	}
	if err = g.g.Configure(); err != nil {
		return nil, fmt.Errorf("av: filter %q: %w%s", desc, err, lastLog())
	}
	return g, nil
}

// outTimeBase is the time base of the frames the graph produces.
func (g *graph) outTimeBase() astiav.Rational {
	return g.sink.Inputs()[0].TimeBase()
}

// push sends a frame (nil = end of stream) into the graph, taking the
// frame's reference, and calls each for every frame that comes out. The
// frame given to each is only valid during the call.
func (g *graph) push(f *astiav.Frame, out *astiav.Frame, each func(*astiav.Frame) error) error {
	if err := g.src.BuffersrcAddFrame(f, astiav.NewBuffersrcFlags()); err != nil {
		return fmt.Errorf("av: filtering: %w", err)
	}
	for {
		out.Unref()
		err := g.sink.BuffersinkGetFrame(out, astiav.NewBuffersinkFlags())
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("av: filtering: %w", err)
		}
		err = each(out)
		out.Unref()
		if err != nil {
			return err
		}
	}
}

func (g *graph) free() {
	if g != nil && g.g != nil {
		g.g.Free()
		g.g = nil
	}
}

// lastLog is FFmpeg's last logged message, as " (message)", or "".
func lastLog() string {
	l := recentLog()
	if len(l) == 0 {
		return ""
	}
	return " (" + l[len(l)-1] + ")"
}
