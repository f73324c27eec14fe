package playlists

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SMIL exports the Program's schedule for `days` local days from `from` as
// a W3C SMIL 3.0 document (Language profile):
//
//   - head/layout: a root-layout of the display's size, a region "main"
//     for full-screen content, a region "full" above everything for
//     interrupts that take the whole screen, and a region per zone of each
//     layout ("<layout>.<zone>", made a valid XML name).
//   - body: a <par> holding a <prefetch> per file (Files over the period)
//     and an <excl> with two priority classes: "interrupts" (each slot an
//     element with a wallclock begin and its dur) above "content" (a <par>
//     per content span with wallclock begin/end, holding per zone a
//     <seq repeatCount="indefinite"> of its loop; a loop whose eligible
//     items change within the span gives one seq per stretch, each with
//     its own wallclock begin/end).
//   - media: img, video, audio with src "files/<sha256>", text as a data:
//     URL, web pages as <ref> to their URL, clocks as <ref> to
//     "beacon:clock?format=…"; every element carries its dur.
//
// SMIL pauses the content class while an interrupt plays; Beacon's own
// player keeps the content on its clock instead. The output is
// deterministic.
func SMIL(p *Program, from time.Time, days int) ([]byte, error) { return Compile(p).SMIL(from, days) }

// SMIL exports the compiled Program's schedule (see the function SMIL).
func (c *Compiled) SMIL(from time.Time, days int) ([]byte, error) {
	if days < 1 || days > 366 {
		return nil, fmt.Errorf("smil: days %d out of range 1..366", days)
	}
	p := c.p
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("smil: invalid program: %w", err)
	}
	fromL := from.In(c.zc.loc)
	f, t := toMS(fromL), toMS(fromL.AddDate(0, 0, days))
	if t <= f {
		return nil, errors.New("smil: empty period")
	}

	var b strings.Builder
	w := func(indent int, s string) {
		for i := 0; i < indent; i++ {
			b.WriteString("  ")
		}
		b.WriteString(s)
		b.WriteByte('\n')
	}
	w(0, `<?xml version="1.0" encoding="UTF-8"?>`)
	w(0, `<smil xmlns="http://www.w3.org/ns/SMIL" version="3.0" baseProfile="Language">`)
	w(1, `<head>`)
	w(2, `<meta name="title" content="`+attr("Beacon display "+p.Display.ID)+`"/>`)
	w(2, `<meta name="timezone" content="`+attr(c.zc.loc.String())+`"/>`)
	w(2, `<layout>`)
	W, H := max(p.Display.Width, 0), max(p.Display.Height, 0)
	w(3, fmt.Sprintf(`<root-layout width="%d" height="%d" backgroundColor="#000000"/>`, W, H))
	maxZ := 0
	for _, l := range p.Layouts {
		for _, z := range l.Zones {
			maxZ = max(maxZ, z.Z)
		}
	}
	w(3, fmt.Sprintf(`<region xml:id="main" left="0" top="0" width="%d" height="%d" z-index="0"/>`, W, H))
	w(3, fmt.Sprintf(`<region xml:id="full" left="0" top="0" width="%d" height="%d" z-index="%d"/>`, W, H, maxZ+1))
	layIDs := make([]string, 0, len(c.layouts))
	for id := range c.layouts {
		layIDs = append(layIDs, id)
	}
	sort.Strings(layIDs)
	for _, id := range layIDs {
		for _, z := range c.layouts[id].zones {
			w(3, fmt.Sprintf(`<region xml:id="%s" left="%d" top="%d" width="%d" height="%d" z-index="%d"/>`,
				regionID(id, z.id), z.rect.X, z.rect.Y, z.rect.W, z.rect.H, z.z))
		}
	}
	w(2, `</layout>`)
	w(1, `</head>`)
	w(1, `<body>`)
	w(2, `<par>`)
	for _, h := range Files(p, fromL, c.tm(t)) {
		w(3, `<prefetch src="files/`+attr(h)+`"/>`)
	}
	w(3, `<excl>`)
	wall := func(ms int64) string { return "wallclock(" + c.tm(ms).Format("2006-01-02T15:04:05Z07:00") + ")" }

	var irq, content []string
	c.forPlans(f, t, nil, func(pl *plan) bool {
		for _, s := range pl.slots {
			if s.s < f || s.s >= t {
				continue
			}
			sp := pl.spanAt(s.s)
			region := "full"
			if sp.layout != nil && sp.layout.main >= 0 {
				region = regionFor(sp.layout, MainZone)
			}
			irq = append(irq, mediaElem(&s.ent, region, ` begin="`+wall(s.s)+`"`))
		}
		for k := range pl.spans {
			sp := &pl.spans[k]
			lo, hi := max(sp.s, f), min(sp.e, t)
			if lo >= hi || sp.layout == nil {
				continue
			}
			content = append(content, fmt.Sprintf(`<par begin="%s" end="%s">`, wall(lo), wall(hi)))
			for zi := range sp.zones {
				zp := &sp.zones[zi]
				region := regionFor(sp.layout, zp.zone.id)
				var live []*loopSeg
				for g := range zp.segs {
					sg := &zp.segs[g]
					if len(sg.rot) > 0 && sg.e > lo && sg.s < hi {
						live = append(live, sg)
					}
				}
				for _, sg := range live {
					timing := ""
					if len(live) > 1 || sg.s != sp.s || sg.e != sp.e {
						timing = fmt.Sprintf(` begin="%s" end="%s"`, wall(max(sg.s, lo)), wall(min(sg.e, hi)))
					}
					content = append(content, `  <seq repeatCount="indefinite"`+timing+`>`)
					for _, i := range sg.rot {
						content = append(content, "    "+mediaElem(&zp.seq[i], region, ""))
					}
					content = append(content, `  </seq>`)
				}
			}
			content = append(content, `</par>`)
		}
		return true
	})
	w(4, `<priorityClass xml:id="interrupts" peers="stop" higher="stop" lower="defer">`)
	for _, s := range irq {
		w(5, s)
	}
	w(4, `</priorityClass>`)
	w(4, `<priorityClass xml:id="content" peers="stop" higher="pause" lower="defer">`)
	for _, s := range content {
		w(5, s)
	}
	w(4, `</priorityClass>`)
	w(3, `</excl>`)
	w(2, `</par>`)
	w(1, `</body>`)
	w(0, `</smil>`)
	return []byte(b.String()), nil
}

func regionFor(l *cLayout, zone string) string {
	if l.id == "" {
		return "main"
	}
	return regionID(l.id, zone)
}

// regionID makes "<layout>.<zone>" a valid XML name.
func regionID(layout, zone string) string {
	var b strings.Builder
	b.WriteString("r_")
	for _, r := range layout + "." + zone {
		if r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func mediaElem(e *flatEnt, region, extra string) string {
	it := e.item.it
	dur := ` dur="` + strconv.FormatFloat(float64(e.dur)/1000, 'f', -1, 64) + `s"`
	reg := ` region="` + region + `"`
	v := e.item.v
	title := ` title="` + attr(it.ID) + `"`
	switch it.Kind {
	case KindImage:
		return `<img src="files/` + attr(v.SHA256) + `"` + reg + dur + title + extra + `/>`
	case KindVideo:
		return `<video src="files/` + attr(v.SHA256) + `"` + reg + dur + title + extra + `/>`
	case KindAudio:
		return `<audio src="files/` + attr(v.SHA256) + `"` + dur + title + extra + `/>`
	case KindText:
		return `<text src="` + attr("data:text/plain;charset=utf-8,"+url.PathEscape(v.Text)) + `"` + reg + dur + title + extra + `/>`
	case KindWeb:
		return `<ref src="` + attr(v.URL) + `" type="text/html"` + reg + dur + title + extra + `/>`
	default:
		format := "15:04"
		if it.Clock != nil && it.Clock.Format != "" {
			format = it.Clock.Format
		}
		return `<ref src="` + attr("beacon:clock?format="+url.QueryEscape(format)) + `"` + reg + dur + title + extra + `/>`
	}
}

var attrEscaper = strings.NewReplacer(`&`, "&amp;", `<`, "&lt;", `>`, "&gt;", `"`, "&quot;", "\n", "&#xA;", "\r", "&#xD;", "\t", "&#x9;")

func attr(s string) string { return attrEscaper.Replace(s) }
