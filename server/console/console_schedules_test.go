package console_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"beacon/server/console/consoletest"
	"beacon/server/servertest"
	"beacon/server/store"
)

// consoleDisplay adds a display (as if paired) with a location.
func consoleDisplay(t *testing.T, env *consoletest.Env, name string, tags []string, lat, lon float64) string {
	t.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	d, err := env.Store().CreateDisplay(context.Background(), store.Display{OrgID: env.OrgID, Name: name, PublicKey: pub, Width: 1920, Height: 1080,
		Fit: "contain", Background: "#000000", Tags: tags, Latitude: &lat, Longitude: &lon})
	if err != nil {
		t.Fatal(err)
	}
	return d.ID
}

// textPlaylist makes a playlist of one text item through the API.
func textPlaylist(t *testing.T, env *consoletest.Env, name, text string) string {
	t.Helper()
	var it, pl struct{ ID string }
	if code := env.Do("POST", "/api/v1/items", map[string]any{"kind": "text", "duration_s": 10, "variants": map[string]any{"vi": map[string]string{"text": text}}}, &it); code != 201 {
		t.Fatalf("item: %d", code)
	}
	if code := env.Do("POST", "/api/v1/playlists", map[string]any{"name": name, "items": []map[string]any{{"item_id": it.ID}}}, &pl); code != 201 {
		t.Fatalf("playlist: %d", code)
	}
	return pl.ID
}

// drag presses the mouse at (x, y0), moves to (x1, y1) in steps and releases.
func drag(b *consoletest.Browser, what string, x0, y0, x1, y1 float64) {
	held := func(p *input.DispatchMouseEventParams) { p.Buttons = 1 }
	steps := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(chromedp.MousePressed, x0, y0, chromedp.ButtonLeft, chromedp.ClickCount(1), held)}
	for i := 1; i <= 5; i++ {
		f := float64(i) / 5
		steps = append(steps, chromedp.MouseEvent(chromedp.MouseMoved, x0+(x1-x0)*f, y0+(y1-y0)*f, chromedp.ButtonLeft, held))
	}
	steps = append(steps, chromedp.MouseEvent(chromedp.MouseReleased, x1, y1, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	b.Do(what, steps...)
}

type point struct{ X, Y float64 }

// TestConsoleSchedules: an editor creates a schedule by dragging on the
// week, another by the form (and sees the conflict with the engine's why),
// moves a block by dragging, asks what plays at 10:30 and why, and reads
// the month; the API holds what the page did. Axe in vi and en.
func TestConsoleSchedules(t *testing.T) {
	env := consoletest.Start(t, servertest.Options{})
	wall := consoleDisplay(t, env, "Cổng biên giới", []string{"gate"}, 22.0, 105.0)
	morning := textPlaylist(t, env, "Buổi sáng", "Chào buổi sáng")
	festival := textPlaylist(t, env, "Lễ hội", "Lễ hội mùa thu")
	b := env.Browser(consoletest.Desktop)
	b.SignIn(consoletest.Editor, "vi")
	b.Open("#/schedules") // the first display is chosen
	b.WaitJS("the week", `!!document.querySelector('.cal-week .cal-day')`)
	if tz := consoletest.Eval[string](b, `document.querySelector('#sched-tz').textContent`); tz == "" || !strings.Contains(tz, "Asia/Ho_Chi_Minh") {
		t.Fatalf("time zone note: %q", tz)
	}
	b.CheckCatalogue("schedules (vi)")
	b.Axe()

	// Next week: every day of it is in the future.
	thisMonday := consoletest.Eval[string](b, `document.querySelectorAll('.cal-day')[0].dataset.date`)
	b.Do("next week", chromedp.Click(chromedp.CSS(`#sched-next`)))
	b.WaitJS("next week drawn", fmt.Sprintf(`document.querySelectorAll('.cal-day').length === 7 && document.querySelectorAll('.cal-day')[0].dataset.date !== %q`, thisMonday))
	monday := consoletest.Eval[string](b, `document.querySelectorAll('.cal-day')[0].dataset.date`)
	at := func(day int, minutes int) point {
		return consoletest.Eval[point](b, fmt.Sprintf(`(() => { const c = document.querySelectorAll('.cal-day')[%d]; c.scrollIntoView({block: 'nearest'});
			const w = document.querySelector('.cal-week'); w.scrollTop = 7 * 32; const r = c.getBoundingClientRect();
			return { X: r.left + r.width / 2, Y: r.top + %d / 60 * 32 }; })()`, day, minutes))
	}

	// 1. Drag on Monday from 09:00 to 11:00: the form opens with the date and window.
	p0, p1 := at(0, 9*60+5), at(0, 11*60)
	drag(b, "drag on Monday", p0.X, p0.Y, p1.X, p1.Y)
	b.WaitJS("the form", `!!document.querySelector('dialog[open] form')`)
	got := consoletest.Eval[[]string](b, `['from', 'until'].map(n => document.querySelector('dialog [name="'+n+'"]').value).concat(
		[...document.querySelectorAll('dialog .sched-window input')].map(i => i.value))`)
	if fmt.Sprint(got) != fmt.Sprint([]string{monday, monday, "09:00", "11:00"}) {
		t.Fatalf("form after the drag: %v (Monday %s)", got, monday)
	}
	b.Do("name and playlist",
		chromedp.SendKeys(chromedp.CSS(`dialog [name="name"]`), "Sáng thứ Hai"),
		chromedp.SetValue(chromedp.CSS(`dialog [name="playlist_id"]`), morning))
	b.Axe() // the dialog
	b.Do("save", chromedp.Click(chromedp.CSS(`#sched-save`)))
	b.WaitJS("saved without warnings", `document.querySelector('#sched-warnings') && document.querySelector('#sched-warnings').dataset.count === '0' && !document.querySelector('dialog[open]')`)
	b.WaitJS("the block", `!!document.querySelector('.cal-block.shown')`)

	var list struct {
		Schedules []struct {
			ID      string
			Name    string
			From    string
			Until   string
			Windows []struct{ Start, End string }
			Target  struct {
				DisplayIDs []string `json:"display_ids"`
			}
			Content struct {
				PlaylistID string `json:"playlist_id"`
			}
		}
	}
	env.Do("GET", "/api/v1/schedules", nil, &list)
	if len(list.Schedules) != 1 {
		t.Fatalf("schedules: %+v", list)
	}
	first := list.Schedules[0]
	if first.Name != "Sáng thứ Hai" || first.From != monday || first.Until != monday || len(first.Windows) != 1 || first.Windows[0].Start != "09:00" ||
		first.Windows[0].End != "11:00" || first.Content.PlaylistID != morning || len(first.Target.DisplayIDs) != 1 || first.Target.DisplayIDs[0] != wall {
		t.Fatalf("saved schedule: %+v", first)
	}

	// 2. By the form: every day 10:00–12:00 at the same priority: the
	// answer warns that they merge, with the engine's why.
	b.Do("new", chromedp.Click(chromedp.CSS(`#sched-new`)))
	b.WaitJS("the form", `!!document.querySelector('dialog[open] form')`)
	consoletest.Eval[bool](b, fmt.Sprintf(`(() => { const s = document.querySelector('dialog [name="display_ids"]'); [...s.options].forEach(o => o.selected = o.value === %q);
		document.querySelector('dialog [name="playlist_id"]').value = %q; return true; })()`, wall, festival))
	b.Do("fill the form",
		chromedp.SendKeys(chromedp.CSS(`dialog [name="name"]`), "Lễ hội"),
		chromedp.Click(chromedp.CSS(`#sched-add-window`)))
	consoletest.Eval[bool](b, `(() => { const i = document.querySelectorAll('dialog .sched-window input'); i[0].value = '10:00'; i[1].value = '12:00'; return true; })()`)
	b.Do("save", chromedp.Click(chromedp.CSS(`#sched-save`)))
	b.WaitJS("the merge warning", `!!document.querySelector('#sched-warnings .warn-item[data-kind="merge"]')`)
	warn := consoletest.Eval[string](b, `document.querySelector('#sched-warnings .warn-item[data-kind="merge"]').innerText`)
	// The engine's why in Vietnamese, with schedules by name; its own
	// English words only behind "details".
	for _, want := range []string{"Cổng biên giới", "Sáng thứ Hai", "Asia/Ho_Chi_Minh", "cùng ưu tiên 0"} {
		if !strings.Contains(warn, want) {
			t.Errorf("warning %q does not say %q", warn, want)
		}
	}
	if strings.Contains(warn, "merged (equal priority") {
		t.Errorf("warning shows the engine's English why: %q", warn)
	}
	b.Axe()
	b.Screenshot("schedules-calendar", "vi")

	// 3. Drag the Monday block one hour later: its window moves.
	b.WaitJS("the Monday block", fmt.Sprintf(`!!document.querySelector('.cal-block[data-schedule=%q]')`, first.ID))
	bp := consoletest.Eval[point](b, fmt.Sprintf(`(() => { const r = document.querySelector('.cal-block[data-schedule=%q]').getBoundingClientRect(); return { X: r.left + r.width / 2, Y: r.top + 6 }; })()`, first.ID))
	drag(b, "move the block", bp.X, bp.Y, bp.X, bp.Y+32)
	b.WaitJS("moved", fmt.Sprintf(`!!document.querySelector('.cal-block[data-schedule=%q][data-from="10:00"]')`, first.ID))
	var moved struct{ Windows []struct{ Start, End string } }
	env.Do("GET", "/api/v1/schedules/"+first.ID, nil, &moved)
	if len(moved.Windows) != 1 || moved.Windows[0].Start != "10:00" || moved.Windows[0].End != "12:00" {
		t.Fatalf("after the move: %+v", moved)
	}

	// 4. What plays on Monday at 10:30, and why.
	consoletest.Eval[bool](b, fmt.Sprintf(`(document.querySelector('#sched-when-date').value = %q, document.querySelector('#sched-when-time').value = '10:30', true)`, monday))
	b.Do("ask", chromedp.Click(chromedp.CSS(`#sched-when-go`)))
	b.WaitJS("the answer", `!!document.querySelector('#sched-when-out tr[data-zone]')`)
	answer := consoletest.Eval[string](b, `document.querySelector('#sched-when-out').innerText`)
	for _, want := range []string{"Asia/Ho_Chi_Minh", "ưu tiên 0"} {
		if !strings.Contains(answer, want) {
			t.Errorf("what plays at 10:30: %q lacks %q", answer, want)
		}
	}
	if strings.Contains(answer, "(priority 0") || strings.Contains(answer, "merged (equal") {
		t.Errorf("what plays at 10:30 shows the engine's English why: %q", answer)
	}
	if !strings.Contains(answer, "Sáng thứ Hai") && !strings.Contains(answer, "Lễ hội") {
		t.Errorf("what plays at 10:30 names neither schedule: %q", answer)
	}

	// 5. The month: chips for both schedules.
	b.Do("month", chromedp.SetValue(chromedp.CSS(`#sched-view`), "month"))
	consoletest.Eval[bool](b, `(document.querySelector('#sched-view').dispatchEvent(new Event('change')), true)`)
	b.WaitJS("the month", `document.querySelectorAll('.cal-month td').length === 42 && !!document.querySelector('.cal-chip')`)

	// Editing by the form keeps what the form does not show: the
	// recurrence's days of the month and the holiday rule.
	var monthly struct {
		ID    string
		Error struct{ Message string }
	}
	if code := env.Do("POST", "/api/v1/schedules", map[string]any{"name": "Ngày rằm", "target": map[string]any{"display_ids": []string{wall}},
		"content": map[string]any{"playlist_id": morning}, "from": "2026-01-01", "recurrence": map[string]any{"freq": "monthly", "by_month_day": []int{15}}, "holidays": "skip", "priority": 2}, &monthly); code != 201 {
		t.Fatalf("monthly schedule: %d %s", code, monthly.Error.Message)
	}
	b.Open("#/home")
	b.Open("#/schedules")
	b.WaitJS("the list", fmt.Sprintf(`!!document.querySelector('#sched-list button[data-schedule=%q]')`, monthly.ID))
	b.Do("open it", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#sched-list button[data-schedule=%q]`, monthly.ID))))
	b.WaitJS("the form", `!!document.querySelector('dialog[open] form') && document.querySelector('dialog [name="freq"]').value === 'monthly'`)
	b.Do("rename", chromedp.SendKeys(chromedp.CSS(`dialog [name="name"]`), " (sửa)"), chromedp.Click(chromedp.CSS(`#sched-save`)))
	b.WaitJS("saved", `!document.querySelector('dialog[open]')`)
	var kept struct {
		Name       string
		Holidays   string
		Recurrence struct {
			Freq       string
			ByMonthDay []int `json:"by_month_day"`
		}
	}
	env.Do("GET", "/api/v1/schedules/"+monthly.ID, nil, &kept)
	if kept.Name != "Ngày rằm (sửa)" || kept.Holidays != "skip" || kept.Recurrence.Freq != "monthly" || fmt.Sprint(kept.Recurrence.ByMonthDay) != "[15]" {
		t.Fatalf("after editing by the form: %+v", kept)
	}

	// English: the same page, translated, accessible.
	b.SetLanguage("en")
	b.Open("#/schedules") // the first display is chosen
	b.WaitJS("the week", `!!document.querySelector('.cal-week .cal-day')`)
	b.CheckCatalogue("schedules (en)")
	b.Axe()
	b.Screenshot("schedules-calendar", "en")

	// On a phone: the same page, reachable and accessible.
	ph := env.Browser(consoletest.Phone)
	ph.SignIn(consoletest.Editor, "vi")
	ph.Open("#/schedules")
	ph.Axe()
	ph.Screenshot("schedules-phone", "vi")
}
