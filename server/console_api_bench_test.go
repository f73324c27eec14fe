package server_test

import (
	"fmt"
	"net/url"
	"testing"

	"beacon/server/servertest"
)

// BenchmarkScheduleSaveWithWarnings: saving a schedule that reaches 50
// displays (the most a save checks) among 20 other schedules, with the
// engine's conflicts over 31 days on each display in the answer.
func BenchmarkScheduleSaveWithWarnings(b *testing.B) {
	s := servertest.Start(b, servertest.Options{})
	for i := 0; i < 50; i++ {
		mkDisplay(b, s, fmt.Sprint("wall ", i), []string{"gate"}, nil, nil)
	}
	pl := benchPlaylist(b, s)
	for i := 0; i < 20; i++ {
		if code := s.Do("POST", "/api/v1/schedules", map[string]any{"target": map[string]any{"tags": []string{"gate"}}, "content": map[string]any{"playlist_id": pl},
			"windows": []map[string]string{{"start": fmt.Sprintf("%02d:00", 7+i%14), "end": fmt.Sprintf("%02d:30", 7+i%14)}}, "priority": i % 3}, nil); code != 201 {
			b.Fatalf("schedule: %d", code)
		}
	}
	// Baseline: the same save for a tag no display carries (no warnings
	// to compute), in the same run.
	for _, c := range []struct{ name, tag string }{{"no_display", "nowhere"}, {"50_displays", "gate"}} {
		b.Run(c.name, func(b *testing.B) {
			var saved struct {
				ID       string
				Warnings []any
			}
			body := map[string]any{"target": map[string]any{"tags": []string{c.tag}}, "content": map[string]any{"playlist_id": pl},
				"windows": []map[string]string{{"start": "08:00", "end": "12:00"}}, "priority": 1}
			if code := s.Do("POST", "/api/v1/schedules", body, &saved); code != 201 {
				b.Fatalf("schedule: %d", code)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if code := s.Do("PUT", "/api/v1/schedules/"+saved.ID, body, &saved); code != 200 {
					b.Fatalf("save: %d", code)
				}
			}
			b.ReportMetric(float64(len(saved.Warnings)), "warnings")
		})
	}
}

// BenchmarkDisplayCalendarMonth: the six weeks a month view draws, for a
// display with 20 schedules.
func BenchmarkDisplayCalendarMonth(b *testing.B) {
	s := servertest.Start(b, servertest.Options{})
	d := mkDisplay(b, s, "wall", []string{"gate"}, nil, nil)
	pl := benchPlaylist(b, s)
	for i := 0; i < 20; i++ {
		if code := s.Do("POST", "/api/v1/schedules", map[string]any{"target": map[string]any{"tags": []string{"gate"}}, "content": map[string]any{"playlist_id": pl},
			"windows": []map[string]string{{"start": fmt.Sprintf("%02d:00", 7+i%14), "end": fmt.Sprintf("%02d:45", 7+i%14)}}, "days": []int{i % 7, (i + 3) % 7}, "priority": i % 4}, nil); code != 201 {
			b.Fatalf("schedule: %d", code)
		}
	}
	q := url.Values{"from": {"2026-11-30T00:00:00+07:00"}, "to": {"2027-01-11T00:00:00+07:00"}}
	var cal struct{ Occurrences []any }
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if code := s.Do("GET", "/api/v1/displays/"+d+"/calendar?"+q.Encode(), nil, &cal); code != 200 {
			b.Fatalf("calendar: %d", code)
		}
	}
	b.ReportMetric(float64(len(cal.Occurrences)), "occurrences")
}

func benchPlaylist(b *testing.B, s *servertest.Server) string {
	b.Helper()
	var it, pl struct{ ID string }
	if code := s.Do("POST", "/api/v1/items", map[string]any{"kind": "text", "duration_s": 10, "variants": map[string]any{"vi": map[string]string{"text": "x"}}}, &it); code != 201 {
		b.Fatalf("item: %d", code)
	}
	if code := s.Do("POST", "/api/v1/playlists", map[string]any{"name": "p", "items": []map[string]any{{"item_id": it.ID}}}, &pl); code != 201 {
		b.Fatalf("playlist: %d", code)
	}
	return pl.ID
}
