package cap

import (
	"math"
	"testing"
)

func TestDistanceKm(t *testing.T) {
	// Hanoi (Hoan Kiem) to Ho Chi Minh City (Ben Thanh): about 1,140 km.
	d := DistanceKm(Point{21.0285, 105.8542}, Point{10.7725, 106.6980})
	if d < 1130 || d > 1150 {
		t.Errorf("Hanoi–HCMC %.1f km", d)
	}
	if d := DistanceKm(Point{1, 2}, Point{1, 2}); d != 0 {
		t.Errorf("same point %.6f", d)
	}
	// One degree of latitude is about 111.2 km.
	if d := DistanceKm(Point{0, 0}, Point{1, 0}); math.Abs(d-111.195) > 0.01 {
		t.Errorf("1° latitude %.3f km", d)
	}
}

func TestCircleContains(t *testing.T) {
	c := Circle{Center: Point{0, 0}, RadiusKm: 111.195}
	for _, tc := range []struct {
		p    Point
		want bool
	}{
		{Point{0, 0}, true},
		{Point{0.999, 0}, true},
		{Point{1.001, 0}, false},
		{Point{0, -0.999}, true},
		{Point{0.8, 0.8}, false}, // ≈ 125 km away
	} {
		if got := c.Contains(tc.p); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.p, got, tc.want)
		}
	}
	// Radius 0 (CAP's A.3 example): only the centre itself.
	z := Circle{Center: Point{32.9525, -115.5527}}
	if !z.Contains(z.Center) || z.Contains(Point{32.9526, -115.5527}) {
		t.Error("zero radius")
	}
	// Circles shrink in longitude towards the poles: at 60°N a degree of
	// longitude is half as long.
	n := Circle{Center: Point{60, 10}, RadiusKm: 60}
	if !n.Contains(Point{60, 11}) || n.Contains(Point{61, 10}) {
		t.Error("haversine at 60°N")
	}
}

func TestPolygonContains(t *testing.T) {
	// A concave "U": the notch (lat 1..3, lon 1..2) is outside.
	u, err := ParsePolygon("0,0 0,3 3,3 3,2 1,2 1,1 3,1 3,0 0,0")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    Point
		want bool
	}{
		{Point{0.5, 0.5}, true},
		{Point{2, 0.5}, true},
		{Point{2, 2.5}, true},
		{Point{2, 1.5}, false}, // in the notch
		{Point{0, 1.5}, true},  // on an edge
		{Point{3, 3}, true},    // a vertex
		{Point{-0.1, 1}, false},
		{Point{1, 3.1}, false},
	} {
		if got := u.Contains(tc.p); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.p, got, tc.want)
		}
	}
	// Negative coordinates and an area crossing the equator and meridian.
	sq, _ := ParsePolygon("-1,-1 -1,1 1,1 1,-1 -1,-1")
	if !sq.Contains(Point{0, 0}) || sq.Contains(Point{0, 1.5}) {
		t.Error("square around 0,0")
	}
}

func TestParseGeometry(t *testing.T) {
	if _, err := ParseCircle("32.9525,-115.5527 0"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "1,2", "1,2 x", "1;2 3", "1,2 3 4", "91,0 1", "0,181 1", "NaN,0 1", "0,0 -1", "0,0 Inf"} {
		if _, err := ParseCircle(bad); err == nil {
			t.Errorf("ParseCircle(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"", "1,1 2,2 1,1", "1,1 1,2 2,2 2,1", "1,1 1,2 x 1,1"} {
		if _, err := ParsePolygon(bad); err == nil {
			t.Errorf("ParsePolygon(%q) accepted", bad)
		}
	}
}
