package console_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"beacon/server/console/consoletest"
	"beacon/server/servertest"
)

type clusterOut struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Timezone string `json:"timezone"`
	Hours    []struct {
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"hours"`
	Holidays []struct {
		Date  string `json:"date"`
		Name  string `json:"name"`
		Hours []struct {
			Start string `json:"start"`
			End   string `json:"end"`
		} `json:"hours"`
	} `json:"holidays"`
}

// setInput sets a control's value as a person would leave it (input and
// change events).
const setInput = `(sel, v) => { const el = typeof sel === 'string' ? document.querySelector(sel) : sel; el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true})); return true; }`

// TestConsoleClusters: an editor creates a cluster with its time zone,
// operating hours and a holiday through the form, then changes its hours
// on the cluster's page; a missing name is refused beside the field. The
// API holds what was entered.
func TestConsoleClusters(t *testing.T) {
	env := consoletest.Start(t, servertest.Options{})
	b := env.Browser(consoletest.Desktop)
	b.SignIn(consoletest.Editor, "vi")
	b.Open("#/clusters")
	b.Axe()

	// No name: the message is beside the name.
	b.Do("create without a name", chromedp.Click(chromedp.CSS(`#new-cluster button[type="submit"]`)))
	b.WaitJS("the name error", `(() => { const i = document.querySelector('#new-cluster input[name="name"]'); return i.getAttribute('aria-invalid') === 'true' && !!i.closest('.field').querySelector('.field-error'); })()`)

	consoletest.Eval[bool](b, `(() => { const set = `+setInput+`;
		set('#new-cluster input[name="name"]', 'Huế');
		set('#new-cluster select[name="timezone"]', 'Asia/Bangkok');
		set('#new-cluster [data-window] input[type="time"]', '06:30');
		return true; })()`)
	b.Do("add a holiday", chromedp.Click(chromedp.CSS(`#new-cluster [data-add="holiday"]`)))
	consoletest.Eval[bool](b, `(() => { const set = `+setInput+`;
		set('#new-cluster [data-holiday] input[type="date"]', '2026-09-02');
		set('#new-cluster [data-holiday] input[name^="hol-name"]', 'Quốc khánh');
		set('#new-cluster [data-holiday] input[name^="hol-start"]', '08:00');
		set('#new-cluster [data-holiday] input[name^="hol-end"]', '12:00');
		return true; })()`)
	b.Axe()
	b.Do("create", chromedp.Click(chromedp.CSS(`#new-cluster button[type="submit"]`)))
	b.WaitJS("the cluster listed", `!!document.querySelector('#clusters tr[data-cluster]')`)
	var list struct{ Clusters []clusterOut }
	env.Do("GET", "/api/v1/clusters", nil, &list)
	if len(list.Clusters) != 1 {
		t.Fatalf("clusters: %+v", list)
	}
	c := list.Clusters[0]
	if c.Name != "Huế" || c.Timezone != "Asia/Bangkok" || len(c.Hours) != 1 || c.Hours[0].Start != "06:30" || c.Hours[0].End != "22:00" ||
		len(c.Holidays) != 1 || c.Holidays[0].Date != "2026-09-02" || c.Holidays[0].Name != "Quốc khánh" || len(c.Holidays[0].Hours) != 1 || c.Holidays[0].Hours[0].End != "12:00" {
		t.Fatalf("created cluster: %+v", c)
	}
	b.Screenshot("clusters", "vi")
	b.CheckCatalogue("clusters (vi)")

	// The cluster's page: add an evening window and save.
	b.Open("#/clusters/" + c.ID)
	if h1 := consoletest.Eval[string](b, `document.querySelector('h1').textContent`); h1 != "Huế" {
		t.Errorf("heading %q", h1)
	}
	b.Do("add a window", chromedp.Click(chromedp.CSS(`#cluster-form [data-add="hours"]`)))
	consoletest.Eval[bool](b, `(() => { const set = `+setInput+`; const w = document.querySelectorAll('#cluster-form [data-window]');
		const [s, e] = w[w.length - 1].querySelectorAll('input');
		set(s, '18:00'); set(e, '23:00');
		set(w[0].querySelectorAll('input')[1], '11:00');
		return true; })()`)
	b.Do("save", chromedp.Click(chromedp.CSS(`#cluster-form button[type="submit"]`)))
	serverWait(t, func() bool {
		env.Do("GET", "/api/v1/clusters/"+c.ID, nil, &c)
		return len(c.Hours) == 2
	})
	if c.Hours[0].Start != "06:30" || c.Hours[0].End != "11:00" || c.Hours[1].Start != "18:00" || c.Hours[1].End != "23:00" || len(c.Holidays) != 1 {
		t.Fatalf("saved cluster: %+v", c)
	}
	b.Axe()
	b.Screenshot("cluster", "vi")
	b.CheckCatalogue("cluster (vi)")

	b.SetLanguage("en")
	b.Open("#/clusters")
	b.CheckCatalogue("clusters (en)")
	b.Axe()
	b.Screenshot("clusters", "en")
	b.Open("#/clusters/" + c.ID)
	b.CheckCatalogue("cluster (en)")
	b.Axe()
	b.Screenshot("cluster", "en")
}

func serverWait(t *testing.T, cond func() bool) {
	t.Helper()
	servertest.Eventually(t, 60e9, "the API to show the change", cond)
}
