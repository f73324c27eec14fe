package server

import (
	"math"
	"sort"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Map data for targeting (docs/emergency.md, "Map"): the organisation's
// displays that have a location, as points, and each cluster's outline
// (the convex hull of its displays' locations, or its own location when
// it has a single point), drawn by the console on a plain background: no
// tiles, nothing fetched from elsewhere. And the preview of an override's
// targets: how many displays it reaches and how many of them are offline,
// by the same code that triggers it, without sending anything.

type mapDisplay struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Lat       float64  `json:"lat"`
	Lon       float64  `json:"lon"`
	ClusterID string   `json:"cluster_id"`
	Tags      []string `json:"tags"`
	Online    bool     `json:"online"`
}

type mapCluster struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Outline is a closed-free ring of [lat, lon] points (the convex hull
	// of the cluster's located displays): 0 points when nothing in it is
	// located, 1 or 2 when its points do not enclose an area.
	Outline  [][2]float64 `json:"outline"`
	Displays int          `json:"displays"` // all displays of the cluster
	Located  int          `json:"located"`  // those with a location
}

// mapBounds is the box around every point ([lat, lon] south-west and
// north-east corners), null when nothing is located.
type mapBounds struct {
	South float64 `json:"south"`
	West  float64 `json:"west"`
	North float64 `json:"north"`
	East  float64 `json:"east"`
}

func (s *Server) targetMap(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	org := who(c).OrgID
	ds, err := s.store.Displays(ctx, org)
	if err != nil {
		return err
	}
	cls, err := s.store.Clusters(ctx, org)
	if err != nil {
		return err
	}
	points := []mapDisplay{}
	byCluster := map[string][][2]float64{}
	count := map[string]int{}
	unlocated := 0
	var b *mapBounds
	grow := func(lat, lon float64) {
		if b == nil {
			b = &mapBounds{South: lat, North: lat, West: lon, East: lon}
			return
		}
		b.South, b.North = math.Min(b.South, lat), math.Max(b.North, lat)
		b.West, b.East = math.Min(b.West, lon), math.Max(b.East, lon)
	}
	for _, d := range ds {
		count[d.ClusterID]++
		if d.Latitude == nil || d.Longitude == nil {
			unlocated++
			continue
		}
		points = append(points, mapDisplay{ID: d.ID, Name: d.Name, Lat: *d.Latitude, Lon: *d.Longitude, ClusterID: d.ClusterID,
			Tags: nonNil(d.Tags), Online: s.hub.Online(d.ID)})
		byCluster[d.ClusterID] = append(byCluster[d.ClusterID], [2]float64{*d.Latitude, *d.Longitude})
		grow(*d.Latitude, *d.Longitude)
	}
	clusters := []mapCluster{}
	for _, cl := range cls {
		pts := byCluster[cl.ID]
		if len(pts) == 0 && cl.Latitude != nil && cl.Longitude != nil {
			pts = [][2]float64{{*cl.Latitude, *cl.Longitude}}
			grow(*cl.Latitude, *cl.Longitude)
		}
		clusters = append(clusters, mapCluster{ID: cl.ID, Name: cl.Name, Outline: convexHull(pts), Displays: count[cl.ID], Located: len(byCluster[cl.ID])})
	}
	return c.JSON(fiber.Map{"displays": points, "clusters": clusters, "unlocated": unlocated, "bounds": b})
}

// convexHull returns the convex hull of [lat, lon] points, counter-
// clockwise in (lon, lat), without repeating the first point (Andrew's
// monotone chain). Duplicates are dropped; fewer than 3 distinct points
// come back as they are.
func convexHull(pts [][2]float64) [][2]float64 {
	p := append([][2]float64(nil), pts...)
	sort.Slice(p, func(i, j int) bool {
		if p[i][1] != p[j][1] {
			return p[i][1] < p[j][1]
		}
		return p[i][0] < p[j][0]
	})
	uniq := p[:0]
	for i, q := range p {
		if i == 0 || q != p[i-1] {
			uniq = append(uniq, q)
		}
	}
	p = uniq
	if len(p) < 3 {
		return append([][2]float64{}, p...)
	}
	// x = lon, y = lat
	cross := func(o, a, b [2]float64) float64 {
		return (a[1]-o[1])*(b[0]-o[0]) - (a[0]-o[0])*(b[1]-o[1])
	}
	hull := make([][2]float64, 0, 2*len(p))
	for _, q := range p {
		for len(hull) >= 2 && cross(hull[len(hull)-2], hull[len(hull)-1], q) <= 0 {
			hull = hull[:len(hull)-1]
		}
		hull = append(hull, q)
	}
	lower := len(hull) + 1
	for i := len(p) - 2; i >= 0; i-- {
		for len(hull) >= lower && cross(hull[len(hull)-2], hull[len(hull)-1], p[i]) <= 0 {
			hull = hull[:len(hull)-1]
		}
		hull = append(hull, p[i])
	}
	return hull[:len(hull)-1]
}

// previewOverride answers what POST /overrides would do with the same
// body, without storing or sending anything: the displays it targets and
// which of them are offline now. The body is validated by the same code;
// an invalid one gets the same error.
func (s *Server) previewOverride(c *fiber.Ctx) error {
	var req overrideRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ctx, cancel := s.timeout()
	defer cancel()
	now := time.Now().UTC()
	o, _, err := s.buildOverride(ctx, who(c), req, now)
	if err != nil && !isNoDisplays(err) {
		return err
	}
	offline := []string{}
	for _, id := range o.DisplayIDs {
		if !s.hub.Online(id) {
			offline = append(offline, id)
		}
	}
	ans := fiber.Map{"targeted": len(o.DisplayIDs), "online": len(o.DisplayIDs) - len(offline), "offline": len(offline),
		"display_ids": nonNil(o.DisplayIDs), "offline_ids": offline}
	if err == nil {
		ans["level"], ans["presentation"], ans["wake"] = o.Level, o.Presentation, o.Wake
		ans["starts_at"], ans["expires_at"] = o.StartsAt, o.ExpiresAt
	}
	return c.JSON(ans)
}
