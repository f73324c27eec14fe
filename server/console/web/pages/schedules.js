// Schedules: a week and month calendar of what is in force on a display
// (from the engine: GET /displays/{id}/calendar, each stretch shown or
// hidden by a higher priority), create and edit by dragging on the week or
// by form, the warnings the server answers on save with the engine's why,
// and "what plays when": GET /displays/{id}/now at any instant. Every time
// is the display's wall clock, labelled with its time zone.
import { h, clear, field, id as uid, announce } from '../lib/dom.js';
import { t, fmtDate, fmtNumber } from '../lib/i18n.js';
import { get, post, put, del, getAll, errorText, showError, clearErrors } from '../lib/api.js';
import { whyText } from '../lib/why.js';

const HOUR_PX = 32; // height of an hour in the week view
const SNAP = 15; // minutes

// ---- display-time helpers: the API writes times in the display's zone
// ("2026-12-01T08:00:00+07:00"), so the wall clock is read from the text.

export function wall(iso) {
  return { date: iso.slice(0, 10), min: Number(iso.slice(11, 13)) * 60 + Number(iso.slice(14, 16)) };
}

export function offsetOf(tz, at = new Date()) {
  try {
    const part = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' }).formatToParts(at)
      .find((p) => p.type === 'timeZoneName');
    const m = part && part.value.match(/GMT([+-]\d{2}):?(\d{2})?/);
    return m ? `${m[1]}:${m[2] || '00'}` : '+00:00';
  } catch {
    return '+00:00';
  }
}

// shortOffset is the zone's offset in few letters ("UTC+7", "UTC+5:30"),
// for the calendar's narrow corner; the full zone is in its title and
// above the calendar.
export function shortOffset(tz, at = new Date()) {
  const [hh, mm] = offsetOf(tz, at).split(':');
  return `UTC${hh[0]}${Number(hh.slice(1))}${mm === '00' ? '' : ':' + mm}`;
}

export function todayIn(tz) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
}

function nowIn(tz) {
  const p = new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date());
  return p;
}

export function addDays(date, n) {
  const d = new Date(date + 'T00:00:00Z');
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

function weekday(date) { return new Date(date + 'T00:00:00Z').getUTCDay(); }

function isoAt(date, hhmm, tz) {
  return `${date}T${hhmm}:00${offsetOf(tz, new Date(date + 'T12:00:00Z'))}`;
}

function hhmm(min) {
  const m = Math.max(0, Math.min(1440, Math.round(min)));
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

function dayLabel(date, opts) {
  return fmtDate(new Date(date + 'T12:00:00Z'), { timeZone: 'UTC', ...opts });
}

function tzLabel(tz) {
  return t('schedules.tz', { tz, offset: offsetOf(tz) });
}

// Occurrences cut at midnight: [{date, from, to (minutes), occ}].
function byDay(occurrences) {
  const out = [];
  for (const o of occurrences) {
    const a = wall(o.from);
    const b = wall(o.to);
    for (let d = a.date; d <= b.date; d = addDays(d, 1)) {
      const from = d === a.date ? a.min : 0;
      const to = d === b.date ? b.min : 1440;
      if (to > from) out.push({ date: d, from, to, occ: o });
    }
  }
  return out;
}

const DAYS = [1, 2, 3, 4, 5, 6, 0]; // Monday first

export default {
  title: 'nav.schedules',
  async render(root, params, app) {
    const canEdit = app.canEdit();
    const [displays, playlists, layouts, clusters] = await Promise.all([
      getAll('/displays', 'displays'), getAll('/playlists', 'playlists'), getAll('/layouts', 'layouts'), getAll('/clusters', 'clusters'),
    ]);
    let schedules = await getAll('/schedules', 'schedules');
    const names = {
      display: new Map(displays.map((d) => [d.id, d.name || d.id])),
      playlist: new Map(playlists.map((p) => [p.id, p.name || p.id])),
    };
    const state = {
      display: params.query.get('display') || (displays[0] && displays[0].id) || '',
      view: params.query.get('view') === 'month' ? 'month' : 'week',
      anchor: '',
      tz: 'Asia/Ho_Chi_Minh',
      cal: null,
    };

    const status = h('p', { class: 'hint', 'aria-live': 'polite', id: 'sched-status' });
    const warningsBox = h('section', { class: 'sched-warnings', id: 'sched-warnings', tabindex: '-1', hidden: true });
    const calBox = h('div', { class: 'calendar', id: 'calendar' });
    const periodLabel = h('h2', { id: 'sched-period', class: 'sched-period' });
    const tzNote = h('p', { class: 'hint', id: 'sched-tz' });
    const whenBox = h('section', { class: 'card', id: 'sched-when' });

    if (!displays.length) {
      root.append(h('p', { class: 'empty' }, t('schedules.noDisplays')));
    }

    const displaySel = h('select', { id: 'sched-display', onchange: (e) => { state.display = e.target.value; state.anchor = ''; refresh(); } },
      displays.map((d) => h('option', { value: d.id, selected: d.id === state.display }, d.name || d.id)));
    const viewSel = h('select', { id: 'sched-view', onchange: (e) => { state.view = e.target.value; refresh(); } },
      h('option', { value: 'week', selected: state.view === 'week' }, t('schedules.week')),
      h('option', { value: 'month', selected: state.view === 'month' }, t('schedules.month')));
    const step = (n) => {
      state.anchor = state.view === 'week' ? addDays(state.anchor, 7 * n) : shiftMonth(state.anchor, n);
      refresh();
    };
    const toolbar = h('div', { class: 'toolbar sched-toolbar' },
      h('div', { class: 'field' }, h('label', { for: 'sched-display' }, t('schedules.display')), displaySel),
      h('div', { class: 'field' }, h('label', { for: 'sched-view' }, t('schedules.view')), viewSel),
      h('div', { class: 'btn-group', role: 'group', 'aria-label': t('schedules.navigate') },
        h('button', { type: 'button', class: 'btn', id: 'sched-prev', onclick: () => step(-1) }, t('schedules.prev')),
        h('button', { type: 'button', class: 'btn', id: 'sched-today', onclick: () => { state.anchor = todayIn(state.tz); refresh(); } }, t('schedules.today')),
        h('button', { type: 'button', class: 'btn', id: 'sched-next', onclick: () => step(1) }, t('schedules.next'))),
      canEdit && h('button', { type: 'button', class: 'btn btn-primary', id: 'sched-new', onclick: () => openForm(null, {}) }, t('schedules.new')));

    root.append(toolbar, periodLabel, tzNote, status, warningsBox, calBox, whenBox,
      h('section', { 'aria-labelledby': 'sched-list-h' }, h('h2', { id: 'sched-list-h' }, t('schedules.all')),
        h('p', { class: 'hint' }, t('schedules.listTz')), h('div', { id: 'sched-list' })));

    function shiftMonth(date, n) {
      const d = new Date(date.slice(0, 7) + '-01T00:00:00Z');
      d.setUTCMonth(d.getUTCMonth() + n);
      return d.toISOString().slice(0, 10);
    }

    function period() {
      if (state.view === 'week') {
        const wd = (weekday(state.anchor) + 6) % 7; // days since Monday
        const start = addDays(state.anchor, -wd);
        return { start, days: 7 };
      }
      const first = state.anchor.slice(0, 7) + '-01';
      const start = addDays(first, -((weekday(first) + 6) % 7));
      return { start, days: 42, month: state.anchor.slice(0, 7) };
    }

    async function refresh() {
      renderList();
      if (!state.display) return;
      try {
        if (!state.anchor) {
          // The display's zone comes with its calendar: ask once for today.
          const probe = await get(`/displays/${encodeURIComponent(state.display)}/calendar?from=${encodeURIComponent(new Date().toISOString())}&to=${encodeURIComponent(new Date(Date.now() + 3600e3).toISOString())}`);
          state.tz = probe.timezone;
          state.anchor = todayIn(state.tz);
        }
        const p = period();
        const from = isoAt(p.start, '00:00', state.tz);
        const to = isoAt(addDays(p.start, p.days), '00:00', state.tz);
        state.cal = await get(`/displays/${encodeURIComponent(state.display)}/calendar?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
        state.tz = state.cal.timezone;
        tzNote.textContent = tzLabel(state.tz);
        periodLabel.textContent = state.view === 'week'
          ? t('schedules.weekOf', { from: dayLabel(p.start, { dateStyle: 'medium' }), to: dayLabel(addDays(p.start, 6), { dateStyle: 'medium' }) })
          : dayLabel(p.month + '-15', { month: 'long', year: 'numeric' });
        if (state.view === 'week') drawWeek(p); else drawMonth(p);
        renderWhen();
      } catch (err) {
        clear(calBox, h('p', { class: 'form-error', role: 'alert' }, errorText(err)));
      }
    }

    function schedName(sid) {
      return (state.cal && state.cal.schedules[sid]) || (schedules.find((s) => s.id === sid) || {}).name || sid;
    }

    function occLabel(o, from, to) {
      const key = o.interrupt ? 'schedules.occInterrupt' : (o.shown ? 'schedules.occShown' : 'schedules.occHidden');
      return t(key, { name: schedName(o.schedule_id), from: hhmm(from), to: hhmm(to), priority: fmtNumber(o.priority), tz: state.tz });
    }

    // ---- week view ------------------------------------------------------
    function drawWeek(p) {
      const pieces = byDay(state.cal.occurrences);
      const hours = h('div', { class: 'cal-hours', 'aria-hidden': 'true' },
        Array.from({ length: 24 }, (_, i) => h('div', { class: 'cal-hour', style: { height: HOUR_PX + 'px' } }, hhmm(i * 60))));
      const cols = [];
      for (let i = 0; i < 7; i++) {
        const date = addDays(p.start, i);
        const dayPieces = pieces.filter((x) => x.date === date);
        // Side by side: a lane per schedule of the day.
        const lanes = [...new Set(dayPieces.map((x) => x.occ.schedule_id))];
        const col = h('div', { class: 'cal-day', dataset: { date }, style: { height: 24 * HOUR_PX + 'px' },
          role: 'group', 'aria-label': dayLabel(date, { weekday: 'long', day: 'numeric', month: 'long' }) },
        dayPieces.map((x) => {
          const lane = lanes.indexOf(x.occ.schedule_id);
          const label = occLabel(x.occ, x.from, x.to);
          const block = h('button', {
            type: 'button',
            class: ['cal-block', x.occ.shown ? 'shown' : 'hidden-by', x.occ.interrupt && 'interrupt'],
            dataset: { schedule: x.occ.schedule_id, date, from: hhmm(x.from), to: hhmm(x.to) },
            title: label, 'aria-label': label,
            style: { top: (x.from / 60) * HOUR_PX + 'px', height: Math.max(14, ((x.to - x.from) / 60) * HOUR_PX) + 'px',
              left: `calc(${(lane / lanes.length) * 100}% + 2px)`, width: `calc(${100 / lanes.length}% - 4px)` },
          }, h('span', { class: 'cal-block-name' }, schedName(x.occ.schedule_id)), h('span', { class: 'cal-block-time' }, `${hhmm(x.from)}–${hhmm(x.to)}`));
          if (canEdit) enableMove(block, x);
          else block.addEventListener('click', () => openForm(x.occ.schedule_id));
          return block;
        }));
        if (canEdit) enableCreate(col, date);
        cols.push(h('div', { class: 'cal-col' },
          h('div', { class: ['cal-day-head', date === todayIn(state.tz) && 'today'] }, dayLabel(date, { weekday: 'short', day: 'numeric', month: 'numeric' })),
          col));
      }
      clear(calBox, h('p', { class: 'hint' }, canEdit ? t('schedules.dragHint') : t('schedules.readOnly')),
        h('div', { class: 'cal-week', tabindex: '0', role: 'region', 'aria-label': t('schedules.weekRegion', { tz: state.tz }) }, h('div', { class: 'cal-col cal-gutter' }, h('div', { class: 'cal-day-head', title: state.tz }, shortOffset(state.tz)), hours), cols));
      const scroller = calBox.querySelector('.cal-week');
      scroller.scrollTop = 7 * HOUR_PX;
    }

    function minutesAt(col, clientY) {
      const r = col.getBoundingClientRect();
      const m = ((clientY - r.top) / HOUR_PX) * 60;
      return Math.max(0, Math.min(1440, Math.round(m / SNAP) * SNAP));
    }

    // Drag on an empty part of a day: a new schedule for that date and window.
    function enableCreate(col, date) {
      col.addEventListener('pointerdown', (e) => {
        if (e.button !== 0 || e.target !== col) return;
        e.preventDefault();
        const start = minutesAt(col, e.clientY);
        const ghost = h('div', { class: 'cal-ghost', style: { top: (start / 60) * HOUR_PX + 'px', height: '4px' } });
        col.append(ghost);
        col.setPointerCapture(e.pointerId);
        let end = start + 60;
        const move = (ev) => {
          end = Math.max(start + SNAP, minutesAt(col, ev.clientY));
          ghost.style.height = ((end - start) / 60) * HOUR_PX + 'px';
          ghost.textContent = `${hhmm(start)}–${hhmm(end)}`;
        };
        const up = () => {
          col.removeEventListener('pointermove', move);
          col.removeEventListener('pointerup', up);
          ghost.remove();
          openForm(null, { from: date, until: date, windows: [{ start: hhmm(start), end: hhmm(Math.min(end, 1440)) }], target: { display_ids: [state.display] } });
        };
        col.addEventListener('pointermove', move);
        col.addEventListener('pointerup', up);
      });
    }

    // Drag a block: move its window (and its date, for a one-day schedule).
    function enableMove(block, piece) {
      block.addEventListener('pointerdown', (e) => {
        if (e.button !== 0) return;
        const y0 = e.clientY;
        const x0 = e.clientX;
        let moved = false;
        block.setPointerCapture(e.pointerId);
        const move = (ev) => {
          const dy = ev.clientY - y0;
          if (!moved && Math.abs(dy) < 6 && Math.abs(ev.clientX - x0) < 6) return;
          moved = true;
          block.classList.add('dragging');
          block.style.transform = `translate(${ev.clientX - x0}px, ${dy}px)`;
        };
        const up = async (ev) => {
          block.removeEventListener('pointermove', move);
          block.removeEventListener('pointerup', up);
          if (!moved) { openForm(piece.occ.schedule_id); return; }
          const deltaMin = Math.round((((ev.clientY - y0) / HOUR_PX) * 60) / SNAP) * SNAP;
          const target = document.elementsFromPoint(ev.clientX, ev.clientY).find((el) => el.classList && el.classList.contains('cal-day'));
          const newDate = target ? target.dataset.date : piece.date;
          await moveSchedule(piece, deltaMin, newDate);
        };
        block.addEventListener('pointermove', move);
        block.addEventListener('pointerup', up);
      });
    }

    async function moveSchedule(piece, deltaMin, newDate) {
      const sc = schedules.find((s) => s.id === piece.occ.schedule_id);
      if (!sc) return refresh();
      const body = bodyOf(sc);
      const dayShift = Math.round((Date.parse(newDate) - Date.parse(piece.date)) / 864e5);
      if ((body.windows || []).length === 1 && deltaMin) {
        const w = body.windows[0];
        const toMin = (s) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));
        const s0 = toMin(w.start) + deltaMin;
        const e0 = toMin(w.end) + deltaMin;
        if (s0 < 0 || e0 > 1440) { announce(t('schedules.moveOutside'), 'error'); return refresh(); }
        body.windows = [{ start: hhmm(s0), end: hhmm(e0) }];
      } else if (deltaMin) {
        announce(t('schedules.moveNeedsOneWindow'), 'error');
        return refresh();
      }
      if (dayShift) {
        if (body.from && body.from === body.until) {
          body.from = addDays(body.from, dayShift);
          body.until = body.from;
        } else {
          announce(t('schedules.moveNeedsOneDay'), 'error');
          return refresh();
        }
      }
      try {
        const saved = await put(`/schedules/${encodeURIComponent(sc.id)}`, body);
        afterSave(saved);
      } catch (err) {
        announce(errorText(err), 'error');
        refresh();
      }
    }

    // ---- month view -----------------------------------------------------
    function drawMonth(p) {
      const pieces = byDay(state.cal.occurrences);
      const head = h('tr', {}, DAYS.map((d) => h('th', { scope: 'col' }, dayLabel(addDays('2026-11-30', (d + 6) % 7), { weekday: 'short' }))));
      const rows = [];
      for (let w = 0; w < 6; w++) {
        const cells = [];
        for (let i = 0; i < 7; i++) {
          const date = addDays(p.start, w * 7 + i);
          const items = pieces.filter((x) => x.date === date);
          const inMonth = date.slice(0, 7) === p.month;
          cells.push(h('td', { class: ['cal-cell', !inMonth && 'other-month', date === todayIn(state.tz) && 'today'], dataset: { date } },
            h('div', { class: 'cal-cell-head' },
              h('span', { class: 'cal-date' }, dayLabel(date, { day: 'numeric' })),
              canEdit && h('button', { type: 'button', class: 'btn btn-small btn-link', 'aria-label': t('schedules.newOn', { date: dayLabel(date, { dateStyle: 'long' }) }),
                onclick: () => openForm(null, { from: date, until: date, target: { display_ids: [state.display] } }) }, '+')),
            h('ul', { class: 'cal-cell-list' }, items.map((x) => h('li', {},
              h('button', { type: 'button', class: ['cal-chip', x.occ.shown ? 'shown' : 'hidden-by'], dataset: { schedule: x.occ.schedule_id },
                'aria-label': occLabel(x.occ, x.from, x.to), onclick: () => openForm(x.occ.schedule_id) },
              `${hhmm(x.from)} ${schedName(x.occ.schedule_id)}`))))));
        }
        rows.push(h('tr', {}, cells));
      }
      clear(calBox, h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': periodLabel.textContent }, h('table', { class: 'cal-month' },
        h('caption', { class: 'visually-hidden' }, periodLabel.textContent), h('thead', {}, head), h('tbody', {}, rows))));
    }

    // ---- the list of schedules -------------------------------------------
    function renderList() {
      const box = root.querySelector('#sched-list');
      if (!schedules.length) { clear(box, h('p', { class: 'empty' }, t('schedules.none'))); return; }
      clear(box, h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': t('schedules.all') }, h('table', { class: 'table' },
        h('caption', { class: 'visually-hidden' }, t('schedules.all')),
        h('thead', {}, h('tr', {}, ['name', 'targets', 'content', 'when', 'priority'].map((k) => h('th', { scope: 'col' }, t('schedules.col.' + k))))),
        h('tbody', {}, schedules.map((s) => h('tr', {},
          h('td', {}, h('button', { type: 'button', class: 'btn-link', dataset: { schedule: s.id }, onclick: () => openForm(s.id) }, s.name || s.id)),
          h('td', {}, targetText(s.target || {})),
          h('td', {}, contentText(s.content || {})),
          h('td', {}, whenText(s)),
          h('td', {}, s.interrupt ? t('schedules.interruptShort', { n: fmtNumber(s.interrupt.seconds_per_hour) }) : fmtNumber(s.priority || 0))))))));
    }

    function targetText(tg) {
      const parts = [];
      for (const d of tg.display_ids || []) parts.push(names.display.get(d) || d);
      for (const c of tg.cluster_ids || []) parts.push(t('schedules.clusterNamed', { name: (clusters.find((x) => x.id === c) || {}).name || c }));
      for (const g of tg.tags || []) parts.push('#' + g);
      return parts.join(', ');
    }
    function contentText(c) {
      if (c.layout_id) return t('schedules.layoutNamed', { name: (layouts.find((l) => l.id === c.layout_id) || {}).name || c.layout_id });
      return names.playlist.get(c.playlist_id) || c.playlist_id || '';
    }
    function whenText(s) {
      const parts = [];
      if (s.from || s.until) parts.push(`${s.from || '…'} → ${s.until || '…'}`);
      if ((s.days || []).length) parts.push(s.days.map((d) => dayLabel(addDays('2026-11-29', d), { weekday: 'short' })).join(' '));
      if ((s.windows || []).length) parts.push(s.windows.map((w) => `${w.start}–${w.end}`).join(', '));
      if (s.recurrence) parts.push(t('schedules.freq.' + s.recurrence.freq));
      return parts.join(' · ') || t('schedules.always');
    }

    // ---- the form --------------------------------------------------------
    function bodyOf(s) {
      const b = {};
      for (const k of ['name', 'target', 'content', 'from', 'until', 'days', 'windows', 'recurrence', 'except', 'holidays', 'priority', 'interrupt']) {
        if (s[k] !== undefined && s[k] !== null && s[k] !== '') b[k] = JSON.parse(JSON.stringify(s[k]));
      }
      return b;
    }

    function openForm(scheduleID, preset = {}) {
      const sc = scheduleID ? schedules.find((s) => s.id === scheduleID) : null;
      const v = sc ? bodyOf(sc) : { priority: 0, target: {}, content: {}, ...preset };
      const dlg = h('dialog', { class: 'sched-dialog', 'aria-labelledby': 'sched-form-h' });
      const form = h('form', { class: 'form', novalidate: true });
      const readOnly = !canEdit;
      const windowsBox = h('div', { class: 'sched-windows', id: 'sched-windows' });
      const addWindow = (w = { start: '08:00', end: '17:00' }) => {
        const row = h('div', { class: 'row sched-window' },
          field({ label: t('schedules.f.start'), name: 'w_start', type: 'time', value: w.start }),
          field({ label: t('schedules.f.end'), name: 'w_end', type: 'time', value: w.end === '24:00' ? '23:59' : w.end }),
          h('button', { type: 'button', class: 'btn btn-small', onclick: () => row.remove() }, t('schedules.f.removeWindow')));
        windowsBox.append(row);
      };
      (v.windows || []).forEach(addWindow);
      const dayBoxes = h('fieldset', { class: 'sched-days' }, h('legend', {}, t('schedules.f.days')),
        DAYS.map((d) => {
          const fid = uid('day');
          return h('span', { class: 'field-check' }, h('input', { type: 'checkbox', id: fid, name: 'day', value: String(d), checked: (v.days || []).includes(d) }),
            h('label', { for: fid }, dayLabel(addDays('2026-11-29', d), { weekday: 'long' })));
        }));
      const zonesBox = h('div', { id: 'sched-zones' });
      const plOptions = [['', t('schedules.f.choose')], ...playlists.map((p) => [p.id, p.name || p.id])];
      const drawZones = (layoutID) => {
        const lay = layouts.find((l) => l.id === layoutID);
        // A zone's playlist: the schedule's, else the layout's own choice.
        clear(zonesBox, ...(lay ? lay.zones.map((z) => field({ label: t('schedules.f.zone', { zone: z.id }), name: 'zone:' + z.id, options: plOptions,
          value: (v.content.zones || {})[z.id] || (lay.playlists || {})[z.id] || '' })) : []));
      };
      const layoutSel = field({ label: t('schedules.f.layout'), name: 'layout_id', options: [['', t('schedules.f.fullScreen')], ...layouts.map((l) => [l.id, l.name || l.id])], value: v.content.layout_id || '' });
      layoutSel.querySelector('select').addEventListener('change', (e) => {
        drawZones(e.target.value);
        form.querySelector('[name="playlist_id"]').closest('.field').hidden = !!e.target.value;
      });
      const plField = field({ label: t('schedules.f.playlist'), name: 'playlist_id', options: plOptions, value: v.content.playlist_id || '' });
      plField.hidden = !!v.content.layout_id;
      drawZones(v.content.layout_id);
      const irq = !!v.interrupt;
      const irqField = field({ label: t('schedules.f.share'), name: 'seconds_per_hour', type: 'number', min: 1, max: 3600, value: irq ? v.interrupt.seconds_per_hour : 60, hint: t('schedules.f.shareHint') });
      irqField.hidden = !irq;
      const irqCheck = field({ label: t('schedules.f.interrupt'), name: 'is_interrupt', type: 'checkbox', value: irq });
      irqCheck.querySelector('input').addEventListener('change', (e) => { irqField.hidden = !e.target.checked; });
      const freq = v.recurrence ? v.recurrence.freq : '';
      const warnOut = h('div', { class: 'sched-form-warnings', 'aria-live': 'polite' });

      form.append(
        h('h2', { id: 'sched-form-h' }, sc ? t('schedules.edit', { name: sc.name || sc.id }) : t('schedules.new')),
        h('p', { class: 'hint' }, tzLabel(state.tz)),
        field({ label: t('schedules.f.name'), name: 'name', value: v.name || '', required: true }),
        h('fieldset', {}, h('legend', {}, t('schedules.f.targets')),
          field({ label: t('schedules.f.displays'), name: 'display_ids', multiple: true, options: displays.map((d) => [d.id, d.name || d.id]), value: (v.target || {}).display_ids || [] }),
          field({ label: t('schedules.f.clusters'), name: 'cluster_ids', multiple: true, options: clusters.map((c) => [c.id, c.name || c.id]), value: (v.target || {}).cluster_ids || [] }),
          field({ label: t('schedules.f.tags'), name: 'tags', value: ((v.target || {}).tags || []).join(', '), hint: t('schedules.f.tagsHint') })),
        h('fieldset', {}, h('legend', {}, t('schedules.f.content')), layoutSel, plField, zonesBox),
        h('fieldset', {}, h('legend', {}, t('schedules.f.when')),
          h('div', { class: 'row' },
            field({ label: t('schedules.f.from'), name: 'from', type: 'date', value: v.from || '' }),
            field({ label: t('schedules.f.until'), name: 'until', type: 'date', value: v.until || '' })),
          dayBoxes,
          h('div', { class: 'field' }, h('span', { class: 'label', id: 'sched-win-l' }, t('schedules.f.windows', { tz: state.tz }))),
          windowsBox,
          h('button', { type: 'button', class: 'btn btn-small', id: 'sched-add-window', onclick: () => addWindow() }, t('schedules.f.addWindow')),
          h('div', { class: 'row' },
            field({ label: t('schedules.f.recurrence'), name: 'freq', options: [['', t('schedules.freq.none')], ...['daily', 'weekly', 'monthly', 'yearly'].map((f) => [f, t('schedules.freq.' + f)])], value: freq }),
            field({ label: t('schedules.f.interval'), name: 'interval', type: 'number', min: 1, max: 1000, value: (v.recurrence && v.recurrence.interval) || 1 })),
          field({ label: t('schedules.f.except'), name: 'except', value: (v.except || []).join(', '), hint: t('schedules.f.exceptHint') })),
        h('fieldset', {}, h('legend', {}, t('schedules.f.priorityLegend')),
          field({ label: t('schedules.f.priority'), name: 'priority', type: 'number', value: v.priority || 0, hint: t('schedules.f.priorityHint') }),
          irqCheck, irqField),
        warnOut,
        h('div', { class: 'toolbar' },
          !readOnly && h('button', { type: 'submit', class: 'btn btn-primary', id: 'sched-save' }, t('common.save')),
          !readOnly && sc && h('button', { type: 'button', class: 'btn btn-danger', id: 'sched-delete', onclick: remove }, t('common.delete')),
          h('button', { type: 'button', class: 'btn', id: 'sched-close', onclick: () => dlg.close() }, t('common.close'))));
      if (readOnly) for (const el of form.elements) if (el.id !== 'sched-close') el.disabled = true;

      async function remove() {
        if (!window.confirm(t('schedules.confirmDelete', { name: sc.name || sc.id }))) return;
        try {
          await del(`/schedules/${encodeURIComponent(sc.id)}`);
          schedules = schedules.filter((s) => s.id !== sc.id);
          dlg.close();
          announce(t('schedules.deleted'), 'ok');
          refresh();
        } catch (err) {
          showError(form, err);
        }
      }

      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        clearErrors(form);
        const body = readForm(form, v);
        try {
          const saved = sc ? await put(`/schedules/${encodeURIComponent(sc.id)}`, body) : await post('/schedules', body);
          dlg.close();
          afterSave(saved);
        } catch (err) {
          showError(form, err);
        }
      });
      dlg.addEventListener('close', () => dlg.remove());
      document.body.append(dlg);
      dlg.append(form);
      dlg.showModal();
      form.querySelector('[name="name"]').focus();
    }

    // readForm reads the form into a schedule body; what the form does not
    // show (a recurrence's months, days of the month or weekdays, holiday
    // handling) is kept from the schedule as it was.
    function readForm(form, was = {}) {
      const val = (n) => (form.querySelector(`[name="${n}"]`) || {}).value || '';
      const multi = (n) => [...form.querySelector(`[name="${n}"]`).selectedOptions].map((o) => o.value);
      const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
      const body = { name: val('name').trim(), target: {}, content: {}, priority: Number(val('priority')) || 0 };
      const ds = multi('display_ids');
      const cs = multi('cluster_ids');
      const tags = list(val('tags'));
      if (ds.length) body.target.display_ids = ds;
      if (cs.length) body.target.cluster_ids = cs;
      if (tags.length) body.target.tags = tags;
      const lay = val('layout_id');
      if (lay) {
        body.content.layout_id = lay;
        body.content.zones = {};
        for (const sel of form.querySelectorAll('[name^="zone:"]')) if (sel.value) body.content.zones[sel.name.slice(5)] = sel.value;
      } else if (val('playlist_id')) {
        body.content.playlist_id = val('playlist_id');
      }
      if (val('from')) body.from = val('from');
      if (val('until')) body.until = val('until');
      const days = [...form.querySelectorAll('[name="day"]:checked')].map((c) => Number(c.value));
      if (days.length && days.length < 7) body.days = days.sort();
      const windows = [...form.querySelectorAll('.sched-window')].map((r) => {
        const end = r.querySelector('[name="w_end"]').value;
        return { start: r.querySelector('[name="w_start"]').value, end: end === '23:59' ? '24:00' : end };
      }).filter((w) => w.start && w.end);
      if (windows.length) body.windows = windows;
      if (val('freq')) {
        const keep = was.recurrence && was.recurrence.freq === val('freq') ? was.recurrence : {};
        body.recurrence = { ...keep, freq: val('freq'), interval: Number(val('interval')) || 1 };
      }
      if (was.holidays) body.holidays = was.holidays;
      const except = list(val('except'));
      if (except.length) body.except = except;
      if (form.querySelector('[name="is_interrupt"]').checked) body.interrupt = { seconds_per_hour: Number(val('seconds_per_hour')) || 0 };
      return body;
    }

    function afterSave(saved) {
      const i = schedules.findIndex((s) => s.id === saved.id);
      const copy = { ...saved };
      delete copy.warnings;
      if (i >= 0) schedules[i] = copy; else schedules.push(copy);
      showWarnings(saved);
      announce(t('common.saved'), 'ok');
      refresh();
    }

    function showWarnings(saved) {
      const ws = saved.warnings || [];
      warningsBox.hidden = false;
      warningsBox.setAttribute('aria-labelledby', 'sched-warn-h');
      warningsBox.dataset.count = String(ws.length);
      if (!ws.length) {
        clear(warningsBox, h('h2', { id: 'sched-warn-h' }, t('schedules.warnTitle', { name: saved.name || saved.id })),
          h('p', { class: 'notice ok' }, t('schedules.noWarnings')));
        return;
      }
      clear(warningsBox, h('h2', { id: 'sched-warn-h' }, t('schedules.warnTitle', { name: saved.name || saved.id })),
        h('p', { class: 'hint' }, t('schedules.warnIntro', { n: fmtNumber(ws.length) })),
        h('ul', { class: 'warn-list' }, ws.map((w) => h('li', { class: 'warn-item', dataset: { kind: w.kind } },
          h('strong', {}, t('schedules.warn.' + w.kind, {
            display: w.display_name || w.display_id,
            others: w.schedule_ids.filter((x) => x !== saved.id).map(schedName).join(', '),
          })),
          h('p', {}, t('schedules.warnWhen', { from: fmtLocal(w.from, w.timezone), to: fmtLocal(w.to, w.timezone), tz: w.timezone })),
          h('p', { class: 'engine why' }, h('span', { class: 'label' }, t('schedules.whyAt', { at: fmtLocal(w.why_at, w.timezone), tz: w.timezone })), ' ', why(w.why)),
          h('details', { class: 'engine' }, h('summary', {}, t('why.engineDetail')),
            h('p', { lang: 'en' }, h('span', { class: 'label' }, t('schedules.engineSays')), ' ', w.message),
            h('p', { lang: 'en' }, w.why))))));
      warningsBox.focus();
    }

    // why says the engine's reason in the reader's language (a span
    // marked English when the engine's form is not one lib/why.js knows).
    function why(text) {
      const w = whyText(text, schedName);
      return w.lang ? h('span', { lang: w.lang }, w.text) : w.text;
    }

    // fmtLocal writes an instant on the display's wall clock.
    function fmtLocal(iso, tz = state.tz) {
      if (!iso) return '';
      return fmtDate(iso, { timeZone: tz, dateStyle: 'medium', timeStyle: 'short' });
    }
    function fmtClock(iso, tz = state.tz) {
      return fmtDate(iso, { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    }

    // ---- what plays when --------------------------------------------------
    function renderWhen() {
      if (whenBox.dataset.built === state.display) return;
      whenBox.dataset.built = state.display;
      whenBox.setAttribute('aria-labelledby', 'sched-when-h');
      const out = h('div', { id: 'sched-when-out', 'aria-live': 'polite' });
      const form = h('form', { class: 'row', id: 'sched-when-form' },
        field({ label: t('schedules.whenDate'), name: 'when_date', type: 'date', value: todayIn(state.tz), id: 'sched-when-date' }),
        field({ label: t('schedules.whenTime', { tz: state.tz }), name: 'when_time', type: 'time', value: nowIn(state.tz), id: 'sched-when-time' }),
        h('button', { type: 'submit', class: 'btn', id: 'sched-when-go' }, t('schedules.whenAsk')));
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const at = isoAt(form.when_date.value, form.when_time.value, state.tz);
        try {
          const ans = await get(`/displays/${encodeURIComponent(state.display)}/now?at=${encodeURIComponent(at)}`);
          drawNow(out, ans, at);
        } catch (err) {
          showError(form, err);
        }
      });
      clear(whenBox, h('h2', { id: 'sched-when-h' }, t('schedules.whenTitle', { display: names.display.get(state.display) || state.display })),
        h('p', { class: 'hint' }, t('schedules.whenHint')), form, out);
    }

    function drawNow(out, ans, at) {
      const n = ans.now;
      const head = h('p', { class: 'when-summary', dataset: { off: String(!!n.off) } },
        n.off ? t('schedules.nowOff', { at: fmtLocal(at, ans.timezone), tz: ans.timezone }) : t('schedules.nowOn', { at: fmtLocal(at, ans.timezone), tz: ans.timezone }));
      const whyP = h('p', { class: 'engine why' }, h('span', { class: 'label' }, t('schedules.why')), ' ', why(n.why));
      const zones = (n.zones || []).map((z) => h('tr', { dataset: { zone: z.zone } },
        h('th', { scope: 'row' }, z.zone),
        h('td', {}, z.item ? (z.item.name || `${z.item.kind} ${z.item.id}`) : t('schedules.zoneEmpty')),
        h('td', {}, z.schedule_id ? schedName(z.schedule_id) : '—'),
        h('td', {}, z.playlist_id ? (names.playlist.get(z.playlist_id) || z.playlist_id) : '—'),
        h('td', {}, z.start && z.end ? `${fmtLocal(z.start, ans.timezone)} – ${fmtClock(z.end, ans.timezone)} (${ans.timezone})` : ''),
        h('td', { class: 'engine' }, why(z.why))));
      clear(out, head, whyP, zones.length ? h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': t('schedules.whenCaption') }, h('table', { class: 'table' },
        h('caption', { class: 'visually-hidden' }, t('schedules.whenCaption')),
        h('thead', {}, h('tr', {}, ['zone', 'item', 'schedule', 'playlist', 'time', 'why'].map((k) => h('th', { scope: 'col' }, t('schedules.now.' + k))))),
        h('tbody', {}, zones))) : null,
      n.next ? h('p', { class: 'hint' }, t('schedules.nowNext', { at: fmtLocal(n.next, ans.timezone), tz: ans.timezone })) : null);
    }

    await refresh();
  },
};
