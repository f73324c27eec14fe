package cap

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Point is a WGS 84 position in decimal degrees.
type Point struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Polygon is a closed ring of points; the first and last are equal.
type Polygon []Point

// Circle is a centre and a radius in kilometres.
type Circle struct {
	Center   Point   `json:"center"`
	RadiusKm float64 `json:"radius_km"`
}

// EarthRadiusKm is the mean Earth radius used by the haversine distance.
const EarthRadiusKm = 6371.0088

func parsePoint(s string) (Point, error) {
	lat, lon, ok := strings.Cut(s, ",")
	if !ok {
		return Point{}, fmt.Errorf("%q is not lat,lon", s)
	}
	la, err1 := strconv.ParseFloat(strings.TrimSpace(lat), 64)
	lo, err2 := strconv.ParseFloat(strings.TrimSpace(lon), 64)
	if err1 != nil || err2 != nil {
		return Point{}, fmt.Errorf("%q is not lat,lon", s)
	}
	if la < -90 || la > 90 || lo < -180 || lo > 180 || math.IsNaN(la) || math.IsNaN(lo) {
		return Point{}, fmt.Errorf("%q is outside -90..90, -180..180", s)
	}
	return Point{Lat: la, Lon: lo}, nil
}

// ParsePolygon parses CAP's polygon form: space-separated lat,lon pairs,
// at least four, the first equal to the last.
func ParsePolygon(s string) (Polygon, error) {
	f := strings.Fields(s)
	if len(f) < 4 {
		return nil, fmt.Errorf("%d points; a polygon needs at least 4 (closed)", len(f))
	}
	p := make(Polygon, 0, len(f))
	for _, x := range f {
		pt, err := parsePoint(x)
		if err != nil {
			return nil, err
		}
		p = append(p, pt)
	}
	if p[0] != p[len(p)-1] {
		return nil, fmt.Errorf("first point %v and last point %v differ; a CAP polygon is closed", p[0], p[len(p)-1])
	}
	return p, nil
}

// ParseCircle parses CAP's circle form: "lat,lon radius" with the radius
// in kilometres.
func ParseCircle(s string) (Circle, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return Circle{}, fmt.Errorf("%q is not \"lat,lon radius\"", strings.TrimSpace(s))
	}
	c, err := parsePoint(f[0])
	if err != nil {
		return Circle{}, err
	}
	r, err := strconv.ParseFloat(f[1], 64)
	if err != nil || r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
		return Circle{}, fmt.Errorf("radius %q is not a distance in km", f[1])
	}
	return Circle{Center: c, RadiusKm: r}, nil
}

// DistanceKm is the great-circle (haversine) distance between two points.
func DistanceKm(a, b Point) float64 {
	rad := math.Pi / 180
	dLat := (b.Lat - a.Lat) * rad
	dLon := (b.Lon - a.Lon) * rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * EarthRadiusKm * math.Asin(math.Min(1, math.Sqrt(h)))
}

// Contains reports whether p is within the circle (on the rim counts).
func (c Circle) Contains(p Point) bool { return DistanceKm(c.Center, p) <= c.RadiusKm }

// Contains reports whether p is inside the polygon or on its boundary.
// Edges are straight lines in latitude/longitude, as CAP areas are drawn;
// polygons that cross the antimeridian are not supported.
func (poly Polygon) Contains(p Point) bool {
	n := len(poly)
	if n < 3 {
		return false
	}
	inside := false
	for i, j := 0, n-1; i < n; j, i = i, i+1 {
		a, b := poly[i], poly[j]
		if onSegment(a, b, p) {
			return true
		}
		if (a.Lat > p.Lat) != (b.Lat > p.Lat) {
			x := (b.Lon-a.Lon)*(p.Lat-a.Lat)/(b.Lat-a.Lat) + a.Lon
			if p.Lon < x {
				inside = !inside
			}
		}
	}
	return inside
}

func onSegment(a, b, p Point) bool {
	const eps = 1e-12
	cross := (b.Lon-a.Lon)*(p.Lat-a.Lat) - (b.Lat-a.Lat)*(p.Lon-a.Lon)
	if math.Abs(cross) > eps {
		return false
	}
	return p.Lon >= math.Min(a.Lon, b.Lon)-eps && p.Lon <= math.Max(a.Lon, b.Lon)+eps &&
		p.Lat >= math.Min(a.Lat, b.Lat)-eps && p.Lat <= math.Max(a.Lat, b.Lat)+eps
}

// Contains reports whether p lies in any polygon or circle of the area.
func (ar Area) Contains(p Point) bool {
	for _, poly := range ar.Polygons {
		if poly.Contains(p) {
			return true
		}
	}
	for _, c := range ar.Circles {
		if c.Contains(p) {
			return true
		}
	}
	return false
}

// HasGeometry reports whether the area has a polygon or circle; an area of
// geocodes only cannot be matched against a display's position.
func (ar Area) HasGeometry() bool { return len(ar.Polygons)+len(ar.Circles) > 0 }
