package server_test

import (
	"strings"
	"testing"
	"time"

	"beacon/server/servertest"
)

// API routes the console's schedules and emergency pages rely on:
// override templates, CAP sources and messages, schedule warnings on
// save, map data and the override preview.

type templateJSON struct {
	ID           string            `json:"id"`
	Topic        string            `json:"topic"`
	Name         map[string]string `json:"name"`
	Level        string            `json:"level"`
	Presentation string            `json:"presentation"`
	Text         map[string]string `json:"text"`
	Fields       []struct {
		Name  string            `json:"name"`
		Label map[string]string `json:"label"`
	} `json:"fields"`
	ExpiresInS float64 `json:"expires_in_s"`
}

func roleTokens(t *testing.T, s *servertest.Server, roles ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, role := range roles {
		var tok struct{ Token string }
		if code := s.Do("POST", "/api/v1/tokens", map[string]string{"name": role, "role": role}, &tok); code != 201 {
			t.Fatalf("create %s token: %d", role, code)
		}
		out[role] = tok.Token
	}
	return out
}

func TestOverrideTemplates(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	tok := roleTokens(t, s, "authority", "editor", "viewer")

	// Every organisation starts with flood, evacuation and border closure,
	// in Vietnamese and English; every role reads them.
	var list struct{ Templates []templateJSON }
	if code := s.DoToken(tok["viewer"], "GET", "/api/v1/override-templates", nil, &list); code != 200 {
		t.Fatalf("viewer lists templates: %d", code)
	}
	var topics []string
	for _, tp := range list.Templates {
		topics = append(topics, tp.Topic)
		if tp.Name["vi"] == "" || tp.Name["en"] == "" || tp.Text["vi"] == "" || tp.Text["en"] == "" || len(tp.Fields) == 0 {
			t.Errorf("seed template %s lacks a language or fields: %+v", tp.Topic, tp)
		}
		for _, f := range tp.Fields {
			if !strings.Contains(tp.Text["vi"], "{"+f.Name+"}") || !strings.Contains(tp.Text["en"], "{"+f.Name+"}") {
				t.Errorf("template %s: field %s is not in both texts", tp.Topic, f.Name)
			}
		}
	}
	if strings.Join(topics, ",") != "flood,evacuation,border_closure" {
		t.Fatalf("seeded topics: %v", topics)
	}

	// An authority writes; an editor and a viewer may not.
	body := map[string]any{"topic": "landslide", "name": map[string]string{"vi": "Sạt lở đất", "en": "Landslide"},
		"level": "critical", "presentation": "fullscreen",
		"text":   map[string]string{"vi": "SẠT LỞ ĐẤT tại {road}. Tránh xa khu vực.", "en": "LANDSLIDE on {road}. Keep away."},
		"fields": []map[string]any{{"name": "road", "label": map[string]string{"vi": "Tuyến đường", "en": "Road"}}},
		"tone":   map[string]any{"kind": "alert", "repeat": 2}, "expires_in_s": 1800}
	for _, role := range []string{"editor", "viewer"} {
		if code := s.DoToken(tok[role], "POST", "/api/v1/override-templates", body, nil); code != 403 {
			t.Fatalf("%s creates a template: %d", role, code)
		}
	}
	var made templateJSON
	if code := s.DoToken(tok["authority"], "POST", "/api/v1/override-templates", body, &made); code != 201 || made.ID == "" || made.Name["vi"] != "Sạt lở đất" {
		t.Fatalf("authority creates: %d %+v", code, made)
	}
	body["level"] = "warning"
	var upd templateJSON
	if code := s.DoToken(tok["authority"], "PUT", "/api/v1/override-templates/"+made.ID, body, &upd); code != 200 || upd.Level != "warning" {
		t.Fatalf("authority updates: %d %+v", code, upd)
	}
	if code := s.DoToken(tok["editor"], "DELETE", "/api/v1/override-templates/"+made.ID, nil, nil); code != 403 {
		t.Fatalf("editor deletes: %d", code)
	}

	// Bad templates are refused naming what is wrong, and nothing changes.
	for _, c := range []struct {
		change func(m map[string]any)
		want   string
	}{
		{func(m map[string]any) { m["text"] = map[string]string{"vi": "Lũ tại {khu}"} }, "uses {khu}, which fields does not declare"},
		{func(m map[string]any) { m["level"] = "panic" }, "level must be"},
		{func(m map[string]any) { m["name"] = map[string]string{} }, "name needs at least one language"},
		{func(m map[string]any) {
			m["fields"] = []map[string]any{{"name": "Road", "label": map[string]string{"vi": "x"}}}
		}, "fields[0].name"},
		{func(m map[string]any) { m["expires_in_s"] = 10 * 24 * 3600 }, "expires_in_s"},
		{func(m map[string]any) { m["presentation"] = "banner"; m["position"] = "middle" }, "position"},
	} {
		m := map[string]any{}
		for k, v := range body {
			m[k] = v
		}
		c.change(m)
		e := expectErr(t, s, "PUT", "/api/v1/override-templates/"+made.ID, m, 400, c.want)
		_ = e
	}
	var got templateJSON
	if code := s.DoToken(tok["viewer"], "GET", "/api/v1/override-templates/"+made.ID, nil, &got); code != 200 || got.Level != "warning" || got.Text["en"] != "LANDSLIDE on {road}. Keep away." {
		t.Fatalf("after refused edits: %d %+v", code, got)
	}

	// Another organisation neither sees nor touches them.
	_, other := s.NewOrg("Other province")
	if code := s.DoToken(other, "GET", "/api/v1/override-templates/"+made.ID, nil, nil); code != 404 {
		t.Fatalf("other org reads: %d", code)
	}
	if code := s.DoToken(other, "DELETE", "/api/v1/override-templates/"+made.ID, nil, nil); code != 404 {
		t.Fatalf("other org deletes: %d", code)
	}
	var theirs struct{ Templates []templateJSON }
	s.DoToken(other, "GET", "/api/v1/override-templates", nil, &theirs)
	if len(theirs.Templates) != 3 {
		t.Fatalf("other org has %d templates, want its own 3 seeds", len(theirs.Templates))
	}

	if code := s.DoToken(tok["authority"], "DELETE", "/api/v1/override-templates/"+made.ID, nil, nil); code != 204 {
		t.Fatalf("authority deletes: %d", code)
	}
	if code := s.Do("GET", "/api/v1/override-templates/"+made.ID, nil, nil); code != 404 {
		t.Fatalf("deleted template: %d", code)
	}
	if n := len(auditLog(t, s, "override_template.change")); n != 3 {
		t.Fatalf("audit entries for template changes: %d, want 3", n)
	}
}

func TestCAPSourcesAndMessages(t *testing.T) {
	s := servertest.Start(t, servertest.Options{CAPAllowUnsigned: true})
	tok := roleTokens(t, s, "authority", "editor")
	lat, lon := 10.77, 106.70
	mkDisplay(t, s, "Square", nil, &lat, &lon)
	now := time.Now()
	circle := `<area><areaDesc>Quận 1</areaDesc><circle>10.77,106.70 5</circle></area>`
	if code, a, e := postCAP(t, s, s.Token, ownAlert("flood-1", "warn@example.vn", "Actual", "Alert", "", circle, now), ""); code != 201 || a.Outcome != "triggered" {
		t.Fatalf("accepted alert: %d %+v %+v", code, a, e)
	}
	bad := []byte(`<?xml version="1.0"?><alert xmlns="urn:example:wrong"><identifier>x</identifier></alert>`)
	if code, _, e := postCAP(t, s, s.Token, bad, ""); code != 422 {
		t.Fatalf("wrong namespace: %d %+v", code, e)
	}

	if code := s.DoToken(tok["editor"], "GET", "/api/v1/cap/messages", nil, nil); code != 403 {
		t.Fatalf("editor reads CAP messages: %d", code)
	}
	type msg struct {
		Source    string `json:"source"`
		Accepted  bool   `json:"accepted"`
		Outcome   string `json:"outcome"`
		Code      string `json:"code"`
		Reason    string `json:"reason"`
		Level     string `json:"level"`
		Key       string `json:"key"`
		Signature *struct {
			Verdict string `json:"verdict"`
		} `json:"signature"`
		OverrideIDs []string `json:"override_ids"`
	}
	var msgs struct{ Messages []msg }
	if code := s.DoToken(tok["authority"], "GET", "/api/v1/cap/messages", nil, &msgs); code != 200 || len(msgs.Messages) != 2 {
		t.Fatalf("messages: %d %+v", code, msgs)
	}
	refused, accepted := msgs.Messages[0], msgs.Messages[1] // newest first
	if refused.Accepted || refused.Outcome != "refused" || refused.Code != "namespace" || refused.Reason == "" {
		t.Errorf("refused message: %+v", refused)
	}
	if !accepted.Accepted || accepted.Outcome != "triggered" || accepted.Source != "default" || accepted.Level != "critical" ||
		accepted.Signature == nil || accepted.Signature.Verdict != "unsigned" || len(accepted.OverrideIDs) != 1 || !strings.Contains(accepted.Key, "flood-1") {
		t.Errorf("accepted message: %+v", accepted)
	}

	var srcs struct {
		Sources []struct {
			ID          string `json:"id"`
			Sender      string `json:"sender"`
			Policy      string `json:"policy"`
			LastMessage *msg   `json:"last_message"`
		}
	}
	if code := s.DoToken(tok["authority"], "GET", "/api/v1/cap/sources", nil, &srcs); code != 200 || len(srcs.Sources) != 1 {
		t.Fatalf("sources: %d %+v", code, srcs)
	}
	src := srcs.Sources[0]
	if src.ID != "default" || src.Policy != "allow-unsigned" || src.Sender != "*" || src.LastMessage == nil || src.LastMessage.Outcome != "triggered" {
		t.Errorf("source: %+v", src)
	}

	// Another organisation sees none of these messages.
	_, other := s.NewOrg("Other province")
	var theirs struct{ Messages []msg }
	if code := s.DoToken(other, "GET", "/api/v1/cap/messages", nil, &theirs); code != 200 || len(theirs.Messages) != 0 {
		t.Fatalf("other org messages: %d %+v", code, theirs)
	}
}

type warningJSON struct {
	DisplayID   string    `json:"display_id"`
	Timezone    string    `json:"timezone"`
	Kind        string    `json:"kind"`
	ScheduleIDs []string  `json:"schedule_ids"`
	From        time.Time `json:"from"`
	Message     string    `json:"message"`
	Why         string    `json:"why"`
}

func TestScheduleWarningsOnSave(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	wall := mkDisplay(t, s, "Wall", []string{"gate"}, nil, nil)
	mkDisplay(t, s, "Elsewhere", nil, nil, nil)
	a := playlistOf(t, s, "Morning", itemEntries(textItem(t, s, "chào buổi sáng", 5))...)
	b := playlistOf(t, s, "Campaign", itemEntries(textItem(t, s, "lễ hội", 5))...)

	type saved struct {
		ID       string        `json:"id"`
		Warnings []warningJSON `json:"warnings"`
	}
	var first saved
	if code := s.Do("POST", "/api/v1/schedules", map[string]any{"name": "Morning", "target": map[string]any{"display_ids": []string{wall}},
		"content": map[string]any{"playlist_id": a}, "windows": []map[string]string{{"start": "08:00", "end": "11:00"}}, "priority": 5}, &first); code != 201 {
		t.Fatalf("first schedule: %d", code)
	}
	if first.Warnings == nil || len(first.Warnings) != 0 {
		t.Fatalf("a lone schedule warns: %+v", first.Warnings)
	}

	// Same display (by tag), overlapping window, equal priority: they merge.
	var second saved
	if code := s.Do("POST", "/api/v1/schedules", map[string]any{"name": "Campaign", "target": map[string]any{"tags": []string{"gate"}},
		"content": map[string]any{"playlist_id": b}, "windows": []map[string]string{{"start": "10:00", "end": "12:00"}}, "priority": 5}, &second); code != 201 {
		t.Fatalf("second schedule: %d", code)
	}
	merge := findWarning(second.Warnings, "merge")
	if merge == nil || merge.DisplayID != wall || merge.Timezone != "Asia/Ho_Chi_Minh" || merge.From.Hour() != 10 ||
		!strings.Contains(merge.Why, "priority 5") {
		t.Fatalf("merge warning: %+v", second.Warnings)
	}

	// Raised above the other for its whole time: the first is hidden.
	var raised saved
	if code := s.Do("PUT", "/api/v1/schedules/"+second.ID, map[string]any{"name": "Campaign", "target": map[string]any{"tags": []string{"gate"}},
		"content": map[string]any{"playlist_id": b}, "windows": []map[string]string{{"start": "07:00", "end": "12:00"}}, "priority": 9}, &raised); code != 200 {
		t.Fatalf("raise: %d", code)
	}
	hidden := findWarning(raised.Warnings, "hidden")
	if hidden == nil || hidden.ScheduleIDs[0] != first.ID || !strings.Contains(hidden.Message, second.ID) || !strings.Contains(hidden.Why, second.ID) {
		t.Fatalf("hidden warning: %+v", raised.Warnings)
	}

	// The calendar shows both: the raised one on screen, the other hidden.
	var cal struct {
		Timezone    string `json:"timezone"`
		Occurrences []struct {
			ScheduleID string    `json:"schedule_id"`
			From       time.Time `json:"from"`
			Shown      bool      `json:"shown"`
		}
		Schedules map[string]string
	}
	if code := s.Do("GET", "/api/v1/displays/"+wall+"/calendar", nil, &cal); code != 200 || cal.Timezone != "Asia/Ho_Chi_Minh" {
		t.Fatalf("calendar: %d %+v", code, cal)
	}
	shown := map[string]int{}
	hiddenN := map[string]int{}
	for _, o := range cal.Occurrences {
		if o.Shown {
			shown[o.ScheduleID]++
		} else {
			hiddenN[o.ScheduleID]++
		}
	}
	if shown[second.ID] < 7 || hiddenN[first.ID] < 7 || shown[first.ID] != 0 || cal.Schedules[second.ID] != "Campaign" {
		t.Fatalf("calendar over a week: shown %v hidden %v", shown, hiddenN)
	}
	expectErr(t, s, "GET", "/api/v1/displays/"+wall+"/calendar?from=2026-09-01T00:00:00Z&to=2026-12-01T00:00:00Z", nil, 400, "at most 45 days")

	// A schedule whose dates leave no day in the next month never fires.
	var never saved
	if code := s.Do("POST", "/api/v1/schedules", map[string]any{"name": "Leap day", "target": map[string]any{"display_ids": []string{wall}},
		"content": map[string]any{"playlist_id": a}, "from": "2026-01-01", "recurrence": map[string]any{"freq": "yearly", "by_month": []int{2}, "by_month_day": []int{30}},
		"priority": 1}, &never); code != 201 {
		t.Fatalf("never schedule: %d", code)
	}
	if w := findWarning(never.Warnings, "never"); w == nil || w.ScheduleIDs[0] != never.ID {
		t.Fatalf("never warning: %+v", never.Warnings)
	}
	// It is saved all the same.
	if code := s.Do("GET", "/api/v1/schedules/"+never.ID, nil, nil); code != 200 {
		t.Fatalf("saved schedule: %d", code)
	}
}

func findWarning(ws []warningJSON, kind string) *warningJSON {
	for i := range ws {
		if ws[i].Kind == kind {
			return &ws[i]
		}
	}
	return nil
}

func TestTargetMapAndPreview(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	var cl struct{ ID string }
	if code := s.Do("POST", "/api/v1/clusters", map[string]any{"name": "Border gate"}, &cl); code != 201 {
		t.Fatalf("cluster: %d", code)
	}
	f := func(v float64) *float64 { return &v }
	ids := []string{
		mkDisplay(t, s, "A", []string{"gate"}, f(22.0), f(105.0)),
		mkDisplay(t, s, "B", nil, f(22.0), f(105.2)),
		mkDisplay(t, s, "C", nil, f(22.2), f(105.1)),
		mkDisplay(t, s, "inside", nil, f(22.05), f(105.1)),
		mkDisplay(t, s, "nowhere", []string{"gate"}, nil, nil),
	}
	for _, id := range ids[:4] {
		if code := s.Do("PATCH", "/api/v1/displays/"+id, map[string]any{"cluster_id": cl.ID}, nil); code != 200 {
			t.Fatalf("assign cluster: %d", code)
		}
	}
	var m struct {
		Displays []struct {
			ID     string  `json:"id"`
			Lat    float64 `json:"lat"`
			Online bool    `json:"online"`
		}
		Clusters []struct {
			ID       string       `json:"id"`
			Outline  [][2]float64 `json:"outline"`
			Displays int          `json:"displays"`
			Located  int          `json:"located"`
		}
		Unlocated int
		Bounds    *struct{ South, West, North, East float64 }
	}
	if code := s.Do("GET", "/api/v1/map", nil, &m); code != 200 {
		t.Fatalf("map: %d", code)
	}
	if len(m.Displays) != 4 || m.Unlocated != 1 || len(m.Clusters) != 1 || m.Bounds == nil || m.Bounds.South != 22.0 || m.Bounds.East != 105.2 {
		t.Fatalf("map: %+v", m)
	}
	c := m.Clusters[0]
	// The hull is the triangle A, B, C: the display inside is not a corner.
	if c.Displays != 4 || c.Located != 4 || len(c.Outline) != 3 {
		t.Fatalf("cluster outline: %+v", c)
	}
	for _, p := range c.Outline {
		if p == [2]float64{22.05, 105.1} {
			t.Fatalf("inner point on the hull: %v", c.Outline)
		}
	}

	// The preview counts targets and offline displays without sending.
	tok := roleTokens(t, s, "authority", "editor")
	type preview struct {
		Targeted, Online, Offline int
		DisplayIDs                []string `json:"display_ids"`
		OfflineIDs                []string `json:"offline_ids"`
	}
	var p preview
	req := map[string]any{"level": "critical", "presentation": "fullscreen", "text": map[string]string{"vi": "Lũ", "en": "Flood"},
		"targets": map[string]any{"area": map[string]any{"polygon": [][2]float64{{21.9, 104.9}, {21.9, 105.15}, {22.1, 105.15}, {22.1, 104.9}}}, "tags": []string{"gate"}}}
	if code := s.DoToken(tok["authority"], "POST", "/api/v1/overrides/preview", req, &p); code != 200 {
		t.Fatalf("preview: %d", code)
	}
	if p.Targeted != 3 || p.Offline != 3 || p.Online != 0 || !sameIDs(p.DisplayIDs, []string{ids[0], ids[3], ids[4]}) {
		t.Fatalf("preview: %+v", p)
	}
	if n := countOverrides(t, s); n != 0 {
		t.Fatalf("the preview made %d overrides", n)
	}
	if code := s.DoToken(tok["editor"], "POST", "/api/v1/overrides/preview", req, nil); code != 403 {
		t.Fatalf("editor previews: %d", code)
	}
	expectErr(t, s, "POST", "/api/v1/overrides/preview", map[string]any{"level": "loud", "presentation": "fullscreen", "targets": map[string]any{"all": true}}, 400, "level must be")
	var none preview
	if code := s.Do("POST", "/api/v1/overrides/preview", map[string]any{"level": "info", "presentation": "blank",
		"targets": map[string]any{"area": map[string]any{"circle": map[string]any{"lat": 0, "lon": 0, "radius_km": 1}}}}, &none); code != 200 || none.Targeted != 0 {
		t.Fatalf("preview of an empty area: %d %+v", code, none)
	}
}
