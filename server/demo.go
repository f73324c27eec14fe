package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"strings"

	"beacon/playlists"
	"beacon/server/auth"
	"beacon/server/store"
)

// DemoResult is what SeedDemo made.
type DemoResult struct {
	Seeded        bool   // false if the store already had an organisation
	OrgID         string // the demo (or first) organisation
	AdminUser     string
	AdminPassword string // only when Seeded
	DisplayID     string
}

// SeedDemo fills an empty store with a demo organisation, an admin account,
// demo images, a playlist, and one display already paired with a local
// player whose identity it writes to playerDir (player.key, state.json).
func (s *Server) SeedDemo(ctx context.Context, playerDir string) (DemoResult, error) {
	orgs, err := s.store.Orgs(ctx)
	if err != nil {
		return DemoResult{}, err
	}
	if len(orgs) > 0 {
		res := DemoResult{OrgID: orgs[0].ID, AdminUser: "admin"}
		if ds, err := s.store.Displays(ctx, orgs[0].ID); err == nil && len(ds) > 0 {
			res.DisplayID = ds[0].ID
		}
		return res, nil
	}
	org, err := s.store.CreateOrg(ctx, "Demo province")
	if err != nil {
		return DemoResult{}, err
	}
	password := auth.NewPassword()
	hash, err := auth.HashPassword(password)
	if err != nil {
		return DemoResult{}, err
	}
	if _, err := s.store.CreateUser(ctx, store.User{OrgID: org.ID, Username: "admin", PasswordHash: hash, Role: store.RoleAdmin}); err != nil {
		return DemoResult{}, err
	}
	// The demo square runs all day, so the demo shows something whenever it
	// is started; real clusters default to 07:00–22:00. The ticker states
	// these hours (hoursText), so the two cannot disagree.
	hours, _ := json.Marshal(demoHours)
	cluster, err := s.store.CreateCluster(ctx, store.Cluster{OrgID: org.ID, Name: "Demo square", Location: "Demo",
		Timezone: playlists.DefaultTimezone, Hours: string(hours), Holidays: "[]"})
	if err != nil {
		return DemoResult{}, err
	}
	var items []store.PlaylistItem
	for i := 0; i < 3; i++ {
		b, err := demoImage(i)
		if err != nil {
			return DemoResult{}, err
		}
		blob, err := s.blobs.PutBytes(b)
		if err != nil {
			return DemoResult{}, err
		}
		m, _, err := s.store.CreateMedia(ctx, store.Media{OrgID: org.ID, SHA256: blob.SHA256, Filename: fmt.Sprintf("demo-%d.jpg", i+1),
			ContentType: "image/jpeg", Kind: "image", Size: blob.Size, Width: 1920, Height: 1080, Status: store.MediaProcessing})
		if err != nil {
			return DemoResult{}, err
		}
		items = append(items, store.PlaylistItem{MediaID: m.ID, DurationS: 8})
	}
	pl, err := s.store.CreatePlaylist(ctx, store.Playlist{OrgID: org.ID, Name: "Demo loop", Items: items})
	if err != nil {
		return DemoResult{}, err
	}
	res := DemoResult{Seeded: true, OrgID: org.ID, AdminUser: "admin", AdminPassword: password}
	if playerDir != "" {
		id, err := s.pairLocalPlayer(ctx, org.ID, cluster.ID, playerDir)
		if err != nil {
			return DemoResult{}, err
		}
		content, err := s.demoLayout(ctx, org.ID, pl.ID, demoHours)
		if err != nil {
			return DemoResult{}, err
		}
		sc, _ := json.Marshal(playlists.Schedule{Name: "Demo loop, always", Target: playlists.Target{ClusterIDs: []string{cluster.ID}}, Content: content})
		if _, err := s.store.CreateDoc(ctx, store.Schedules, store.Doc{ID: store.NewDocID(store.Schedules), OrgID: org.ID, Body: sc}); err != nil {
			return DemoResult{}, err
		}
		res.DisplayID = id
	}
	s.work.kick(org.ID)
	return res, nil
}

// demoLayout makes the demo's three-zone layout: the image loop, a
// bilingual ticker along the bottom and a clock in the corner.
func (s *Server) demoLayout(ctx context.Context, orgID, loopID string, hours []playlists.Window) (playlists.Content, error) {
	put := func(table string, v any) (string, error) {
		id := store.NewDocID(table)
		body, _ := json.Marshal(v)
		_, err := s.store.CreateDoc(ctx, table, store.Doc{ID: id, OrgID: orgID, Body: body})
		return id, err
	}
	vi, en := hoursText(hours)
	ticker, err := put(store.Items, itemDoc{Kind: playlists.KindText, Name: "Welcome ticker", DurationS: 60, DefaultLang: "vi",
		Variants: map[string]variantDoc{
			"vi": {Text: "Chào mừng quý khách đến với cụm thông tin đối ngoại — màn hình hoạt động " + vi},
			"en": {Text: "Welcome to the external-information cluster — screens run " + en}},
		Text: &playlists.TextStyle{Scroll: true, Color: "#ffffff", Background: "#0b3d91", SpeedPxS: 120}})
	if err != nil {
		return playlists.Content{}, err
	}
	clock, err := put(store.Items, itemDoc{Kind: playlists.KindClock, Name: "Clock", DurationS: 3600, Variants: map[string]variantDoc{"": {}},
		Clock: &playlists.ClockStyle{Format: "15:04", Color: "#ffffff", Background: "#000000"}})
	if err != nil {
		return playlists.Content{}, err
	}
	var ids [2]string
	for i, item := range []string{ticker, clock} {
		p, err := s.store.CreatePlaylist(ctx, store.Playlist{OrgID: orgID, Name: []string{"Ticker", "Clock"}[i], Items: []store.PlaylistItem{{ItemID: item}}})
		if err != nil {
			return playlists.Content{}, err
		}
		ids[i] = p.ID
	}
	layout, err := put(store.Layouts, playlists.Layout{Name: "Main, ticker and clock", Zones: []playlists.Zone{
		{ID: "main", W: 100, H: 100, Unit: playlists.UnitPercent}, // the ticker and clock sit over it
		{ID: "ticker", Y: 88, W: 100, H: 12, Unit: playlists.UnitPercent, Z: 1},
		{ID: "clock", X: 84, Y: 2, W: 14, H: 12, Unit: playlists.UnitPercent, Z: 2},
	}})
	if err != nil {
		return playlists.Content{}, err
	}
	return playlists.Content{LayoutID: layout, Zones: map[string]string{"main": loopID, "ticker": ids[0], "clock": ids[1]}}, nil
}

// demoHours are the demo cluster's operating hours: all day.
var demoHours = []playlists.Window{{Start: "00:00", End: "00:00"}}

// hoursText says a cluster's daily operating hours in Vietnamese and
// English, for the demo ticker.
func hoursText(hours []playlists.Window) (vi, en string) {
	if len(hours) == 1 && hours[0].Start == hours[0].End {
		return "suốt ngày đêm", "around the clock"
	}
	var vs, es []string
	for _, w := range hours {
		vs = append(vs, "từ "+string(w.Start)+" đến "+string(w.End))
		es = append(es, "from "+string(w.Start)+" to "+string(w.End))
	}
	return strings.Join(vs, " và ") + " hằng ngày", strings.Join(es, " and ") + " every day"
}

// pairLocalPlayer makes a player identity in dir and registers it as a
// display, as if its pairing code had been claimed.
func (s *Server) pairLocalPlayer(ctx context.Context, orgID, clusterID, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	keyPath := filepath.Join(dir, "player.key")
	if _, err := os.Stat(keyPath); err == nil {
		return "", errors.New("demo: " + keyPath + " exists; remove the player directory to re-pair")
	}
	d, err := s.store.CreateDisplay(ctx, store.Display{OrgID: orgID, Name: "Demo screen", PublicKey: pub, Width: 1280, Height: 720, Fit: "contain", Background: "#000000", ClusterID: clusterID})
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(keyPath, priv.Seed(), 0o600); err != nil {
		return "", err
	}
	state, _ := json.Marshal(map[string]any{"display_id": d.ID, "name": d.Name, "server_key": []byte(s.PublicKey())})
	if err := os.WriteFile(filepath.Join(dir, "state.json"), state, 0o600); err != nil {
		return "", err
	}
	return d.ID, nil
}

// demoImage draws one of three 1920×1080 demo pictures.
func demoImage(n int) ([]byte, error) {
	const w, h = 1920, 1080
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	palettes := [][2]color.RGBA{
		{{0x0b, 0x3d, 0x91, 255}, {0x00, 0xa8, 0xe8, 255}},
		{{0xc8, 0x10, 0x2e, 255}, {0xff, 0xcd, 0x00, 255}},
		{{0x0f, 0x5e, 0x3a, 255}, {0x9b, 0xd7, 0x70, 255}},
	}
	a, b := palettes[n%3][0], palettes[n%3][1]
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			t := float64(x+y) / float64(w+h)
			c := color.RGBA{lerp(a.R, b.R, t), lerp(a.G, b.G, t), lerp(a.B, b.B, t), 255}
			dx, dy := float64(x-w/2), float64(y-h/2)
			r := math.Hypot(dx, dy)
			switch n % 3 {
			case 0: // a ring
				if r > 300 && r < 360 {
					c = color.RGBA{255, 255, 255, 255}
				}
			case 1: // a star-like burst
				if int(math.Atan2(dy, dx)*12/math.Pi)%2 == 0 && r < 420 {
					c = color.RGBA{255, 255, 255, 255}
				}
			case 2: // a checkerboard panel
				if r < 400 && ((x/80)+(y/80))%2 == 0 {
					c = color.RGBA{255, 255, 255, 255}
				}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 88}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func lerp(a, b uint8, t float64) uint8 { return uint8(float64(a) + (float64(b)-float64(a))*t) }
