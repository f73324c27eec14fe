package playlists

import (
	"io"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"
)

func benchProgram(b *testing.B) (*benchWorld, *Program) {
	bw := newBenchWorld(50, 200, 2000)
	return bw, bw.programFor(bw.displays[3])
}

// BenchmarkTimelineWeek is one display's Timeline over a week, from a
// freshly compiled Program each time (no cached plans).
func BenchmarkTimelineWeek(b *testing.B) {
	bw, p := benchProgram(b)
	from, to := bw.start, bw.start.AddDate(0, 0, 7)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n = len(Compile(p).Timeline(from, to, Options{}))
	}
	b.ReportMetric(float64(n), "plays")
}

// BenchmarkAt is At on random instants of a week for one display.
func BenchmarkAt(b *testing.B) {
	bw, p := benchProgram(b)
	r := rand.New(rand.NewPCG(1, 2))
	span := int64(7 * 24 * time.Hour)
	inst := make([]time.Time, 4096)
	for i := range inst {
		inst[i] = bw.start.Add(time.Duration(r.Int64N(span)))
	}
	c := Compile(p)
	c.At(inst[0], Options{})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.At(inst[i&4095], Options{})
		i++
	}
}

func BenchmarkRunTimelineBenchSmall(b *testing.B) {
	for b.Loop() {
		if err := RunTimelineBench(io.Discard, 50, 7, 200, 2000); err != nil {
			b.Fatal(err)
		}
	}
}

// At and Timeline may be called concurrently on one Compiled.
func TestConcurrentAt(t *testing.T) {
	bw := newBenchWorld(20, 60, 300)
	p := Compile(bw.programFor(bw.displays[1]))
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func(g int) {
			r := rand.New(rand.NewPCG(uint64(g), 3))
			for i := 0; i < 200; i++ {
				x := bw.start.Add(time.Duration(r.Int64N(int64(72 * time.Hour))))
				p.At(x, Options{})
			}
			p.Timeline(bw.start, bw.start.Add(24*time.Hour), Options{})
			done <- true
		}(g)
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}

func TestRunTimelineBenchSmall(t *testing.T) {
	var b strings.Builder
	if err := RunTimelineBench(&b, 20, 2, 40, 200); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^timeline displays=20 days=2 total_ms=\d+ at_us=\d+\.\d\d$`).MatchString(last) {
		t.Errorf("last line %q", last)
	}
}
