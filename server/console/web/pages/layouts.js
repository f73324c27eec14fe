// Layouts: the list and a new-layout form; #/layouts/ID is the zone
// editor: a canvas of the chosen display's aspect ratio where zones are
// dragged and resized (with the pointer, or with the arrow keys on a
// selected zone: arrows move, Shift+arrows resize), snapped to a grid,
// and typed in numerically (percent of the display); each zone plays a
// playlist; the preview plays the saved layout with the player's renderer.
import { h, clear, field, announce } from '../lib/dom.js';
import { t, fmtNumber } from '../lib/i18n.js';
import { get, post, put, del, getAll, showError, clearErrors } from '../lib/api.js';
import { previewPanel } from './preview.js';

const round = (v) => Math.round(v * 100) / 100;
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

async function listPage(root, app) {
  const form = h('form', { class: 'card form', id: 'lay-new', hidden: !app.canEdit() },
    h('h2', {}, t('layouts.new')),
    field({ label: t('layouts.name'), name: 'name', required: true, maxlength: 200 }),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, t('layouts.create'))));
  form.onsubmit = async (e) => {
    e.preventDefault();
    clearErrors(form);
    try {
      const l = await post('/layouts', { name: form.name.value, zones: [{ id: 'main', x: 0, y: 0, w: 100, h: 100, unit: 'percent', z: 0 }] });
      app.navigate('#/layouts/' + encodeURIComponent(l.id));
    } catch (err) {
      showError(form, err);
    }
  };
  const list = h('div', {});
  root.append(form, h('section', { 'aria-labelledby': 'lay-all' }, h('h2', { id: 'lay-all' }, t('layouts.all')), list));
  const layouts = await getAll('/layouts', 'layouts', 1000);
  list.append(layouts.length ? h('ul', { class: 'plain' }, layouts.map((l) => h('li', {},
    h('a', { href: '#/layouts/' + encodeURIComponent(l.id) }, l.name || l.id), ' ',
    h('span', { class: 'hint' }, t('layouts.zonesN', { n: fmtNumber((l.zones || []).length) })))))
    : h('p', { class: 'empty' }, t('layouts.none')));
}

export default {
  title: 'nav.layouts',
  async render(root, params, app) {
    if (!params.id) return listPage(root, app);
    const id = params.id;
    const canEdit = app.canEdit();
    const layout = await get('/layouts/' + encodeURIComponent(id));
    const [displays, pls] = await Promise.all([getAll('/displays', 'displays', 1000).catch(() => []), getAll('/playlists', 'playlists', 1000)]);
    // Zones in percent of the display (pixel zones are converted).
    let aspect = { w: 1920, h: 1080 };
    let zones = (layout.zones || []).map((z) => ({ ...z }));
    const playlistOf = { ...(layout.playlists || {}) };
    let selected = zones.length ? zones[0].id : '';
    let snap = 5;

    function toPercent() {
      for (const z of zones) {
        if (z.unit === 'px') {
          z.x = round((z.x / aspect.w) * 100); z.w = round((z.w / aspect.w) * 100);
          z.y = round((z.y / aspect.h) * 100); z.h = round((z.h / aspect.h) * 100);
          z.unit = 'percent';
        }
      }
    }

    const canvas = h('div', { class: 'zone-canvas', id: 'lay-canvas', role: 'application', 'aria-label': t('layouts.canvas'), 'aria-describedby': 'lay-keys' });
    const displaySelect = h('select', { id: 'lay-display', name: 'display' },
      displays.length ? displays.map((d) => h('option', { value: d.id }, `${d.name} (${fmtNumber(d.width)} × ${fmtNumber(d.height)})`))
        : h('option', { value: '' }, t('layouts.fullHD')));
    const snapSelect = h('select', { id: 'lay-snap', name: 'snap' }, [['0', t('layouts.snapOff')], ['1', '1 %'], ['5', '5 %'], ['10', '10 %']].map(([v, text]) =>
      h('option', { value: v, selected: v === '5' }, text)));
    const numbers = h('fieldset', { class: 'zone-numbers', id: 'lay-numbers' });
    const zoneList = h('ul', { class: 'plain zone-list', id: 'lay-zones' });
    const live = h('p', { class: 'visually-hidden', 'aria-live': 'polite' });
    const form = h('form', { class: 'form', id: 'lay-form', onsubmit: (e) => { e.preventDefault(); save(); } });

    function snapV(v) { return snap ? Math.round(v / snap) * snap : round(v); }

    function setAspect() {
      const d = displays.find((x) => x.id === displaySelect.value);
      aspect = d && d.width && d.height ? { w: d.width, h: d.height } : { w: 1920, h: 1080 };
      canvas.style.aspectRatio = `${aspect.w} / ${aspect.h}`;
    }

    function zoneEl(z) {
      const nm = z.id;
      const pl = pls.find((p) => p.id === playlistOf[z.id]);
      const el = h('div', { class: ['zone-box', z.id === selected && 'zone-selected'], tabindex: '0', role: 'button', dataset: { zone: z.id },
        'aria-label': t('layouts.zoneLabel', { id: nm, x: fmtNumber(z.x), y: fmtNumber(z.y), w: fmtNumber(z.w), h: fmtNumber(z.h) }),
        'aria-pressed': z.id === selected ? 'true' : 'false',
        style: { left: z.x + '%', top: z.y + '%', width: z.w + '%', height: z.h + '%', 'z-index': String(10 + (z.z || 0)) } },
      h('span', { class: 'zone-title' }, nm), h('span', { class: 'zone-pl' }, pl ? pl.name : t('layouts.noPlaylist')),
      canEdit ? h('span', { class: 'zone-resize', 'aria-hidden': 'true', dataset: { resize: '1' } }) : '');
      el.addEventListener('focus', () => { if (selected !== z.id) { selected = z.id; paint(z.id); } });
      el.addEventListener('keydown', (e) => {
        if (!canEdit || !e.key.startsWith('Arrow')) return;
        e.preventDefault();
        const step = snap || 1;
        const dx = e.key === 'ArrowLeft' ? -step : e.key === 'ArrowRight' ? step : 0;
        const dy = e.key === 'ArrowUp' ? -step : e.key === 'ArrowDown' ? step : 0;
        if (e.shiftKey) { z.w = clamp(round(z.w + dx), 1, 100 - z.x); z.h = clamp(round(z.h + dy), 1, 100 - z.y); } else { z.x = clamp(round(z.x + dx), 0, 100 - z.w); z.y = clamp(round(z.y + dy), 0, 100 - z.h); }
        paint(z.id);
        live.textContent = t('layouts.zoneLabel', { id: z.id, x: fmtNumber(z.x), y: fmtNumber(z.y), w: fmtNumber(z.w), h: fmtNumber(z.h) });
      });
      el.addEventListener('pointerdown', (e) => {
        if (!canEdit || e.button !== 0) return;
        e.preventDefault();
        selected = z.id;
        const rect = canvas.getBoundingClientRect();
        const start = { px: e.clientX, py: e.clientY, x: z.x, y: z.y, w: z.w, h: z.h };
        const resize = !!e.target.dataset.resize;
        el.setPointerCapture(e.pointerId);
        el.classList.add('zone-selected');
        const onMove = (ev) => {
          const dx = ((ev.clientX - start.px) / rect.width) * 100;
          const dy = ((ev.clientY - start.py) / rect.height) * 100;
          if (resize) {
            z.w = clamp(snapV(start.w + dx), 1, 100 - z.x);
            z.h = clamp(snapV(start.h + dy), 1, 100 - z.y);
          } else {
            z.x = clamp(snapV(start.x + dx), 0, 100 - z.w);
            z.y = clamp(snapV(start.y + dy), 0, 100 - z.h);
          }
          Object.assign(el.style, { left: z.x + '%', top: z.y + '%', width: z.w + '%', height: z.h + '%' });
        };
        const onUp = () => { el.removeEventListener('pointermove', onMove); el.removeEventListener('pointerup', onUp); paint(z.id); };
        el.addEventListener('pointermove', onMove);
        el.addEventListener('pointerup', onUp);
      });
      return el;
    }

    function numberFields() {
      const z = zones.find((x) => x.id === selected);
      if (!z) return [h('legend', {}, t('layouts.selectZone'))];
      const num = (key, label, max) => field({ label, name: 'zone_' + key, type: 'number', min: 0, max, step: 0.01, value: z[key] });
      const f = [
        h('legend', {}, t('layouts.zoneN', { id: z.id })),
        field({ label: t('layouts.zoneId'), name: 'zone_id', value: z.id, maxlength: 64 }),
        h('div', { class: 'row' }, num('x', t('layouts.x'), 100), num('y', t('layouts.y'), 100), num('w', t('layouts.w'), 100), num('h', t('layouts.h'), 100)),
        h('div', { class: 'row' }, field({ label: t('layouts.z'), name: 'zone_z', type: 'number', min: -100, max: 100, step: 1, value: z.z || 0 }),
          field({ label: t('layouts.playlist'), name: 'zone_playlist', value: playlistOf[z.id] || '',
            options: [['', t('layouts.noPlaylist')], ...pls.map((p) => [p.id, p.name])] })),
        h('p', { class: 'hint' }, t('layouts.px', { x: fmtNumber(Math.round((z.x / 100) * aspect.w)), y: fmtNumber(Math.round((z.y / 100) * aspect.h)),
          w: fmtNumber(Math.round((z.w / 100) * aspect.w)), h: fmtNumber(Math.round((z.h / 100) * aspect.h)) })),
        h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-small btn-danger', id: 'lay-remove', disabled: zones.length < 2 || !canEdit,
          onclick: () => { zones = zones.filter((x) => x !== z); delete playlistOf[z.id]; selected = zones[0] ? zones[0].id : ''; paint(); } }, t('layouts.removeZone'))),
      ];
      return f;
    }

    numbers.addEventListener('change', (e) => {
      const z = zones.find((x) => x.id === selected);
      if (!z) return;
      const name = e.target.name;
      if (name === 'zone_id') {
        const v = e.target.value.trim();
        if (v && !zones.some((x) => x !== z && x.id === v)) {
          if (playlistOf[z.id]) { playlistOf[v] = playlistOf[z.id]; delete playlistOf[z.id]; }
          z.id = v;
          selected = v;
        }
      } else if (name === 'zone_playlist') {
        if (e.target.value) playlistOf[z.id] = e.target.value; else delete playlistOf[z.id];
      } else if (name === 'zone_z') {
        z.z = Math.round(Number(e.target.value) || 0);
      } else {
        const key = name.slice(5);
        const v = Number(e.target.value);
        if (Number.isFinite(v)) {
          if (key === 'x') z.x = clamp(round(v), 0, 100 - z.w);
          if (key === 'y') z.y = clamp(round(v), 0, 100 - z.h);
          if (key === 'w') z.w = clamp(round(v), 1, 100 - z.x);
          if (key === 'h') z.h = clamp(round(v), 1, 100 - z.y);
        }
      }
      paint(name);
    });

    function paint(focusName) {
      clear(canvas, zones.map(zoneEl));
      clear(numbers, numberFields());
      clear(zoneList, zones.map((z) => h('li', {}, h('button', { type: 'button', class: ['btn', 'btn-small', z.id === selected && 'btn-primary'], 'aria-pressed': z.id === selected ? 'true' : 'false',
        onclick: () => { selected = z.id; paint(); } }, z.id))));
      if (typeof focusName === 'string') {
        const el = numbers.querySelector(`[name="${CSS.escape(focusName)}"]`) || canvas.querySelector(`[data-zone="${CSS.escape(focusName)}"]`);
        if (el && document.activeElement !== el) el.focus();
      }
    }

    function addZone() {
      let n = zones.length + 1;
      while (zones.some((z) => z.id === 'zone' + n)) n += 1;
      const z = { id: 'zone' + n, x: 70, y: 70, w: 30, h: 30, unit: 'percent', z: zones.length };
      zones.push(z);
      selected = z.id;
      paint(z.id);
    }

    const preview = await previewPanel({ layout: id });
    async function save() {
      clearErrors(form);
      try {
        const body = { name: form.querySelector('[name="name"]').value, zones: zones.map((z) => ({ id: z.id, x: z.x, y: z.y, w: z.w, h: z.h, unit: 'percent', z: z.z || 0 })), playlists: playlistOf };
        const saved = await put('/layouts/' + encodeURIComponent(id), body);
        Object.assign(playlistOf, saved.playlists || {});
        announce(t('layouts.saved', { name: saved.name || id }), 'ok');
        preview.setContent({ layout: id });
      } catch (err) {
        showError(form, err);
      }
    }

    displaySelect.addEventListener('change', () => { setAspect(); paint(); preview.setDisplay(displaySelect.value); });
    snapSelect.addEventListener('change', () => { snap = Number(snapSelect.value); });
    form.append(
      field({ label: t('layouts.name'), name: 'name', value: layout.name || '', maxlength: 200 }),
      h('div', { class: 'row' }, h('div', { class: 'field' }, h('label', { for: 'lay-display' }, t('layouts.aspectOf')), displaySelect),
        h('div', { class: 'field' }, h('label', { for: 'lay-snap' }, t('layouts.snap')), snapSelect)),
      h('p', { class: 'hint', id: 'lay-keys' }, t('layouts.keys')),
      canvas, live,
      h('div', { class: 'actions' }, h('span', {}, t('layouts.zones')), zoneList,
        h('button', { type: 'button', class: 'btn btn-small', id: 'lay-add', hidden: !canEdit, onclick: addZone }, t('layouts.addZone'))),
      numbers,
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'lay-save', hidden: !canEdit }, t('layouts.save')),
        h('button', { type: 'button', class: 'btn btn-danger', hidden: !canEdit, onclick: async () => {
          if (!confirm(t('layouts.confirmDelete', { name: layout.name || id }))) return;
          try { await del('/layouts/' + encodeURIComponent(id)); app.navigate('#/layouts'); } catch (err) { showError(form, err); }
        } }, t('layouts.delete'))));
    setAspect();
    toPercent();
    preview.setDisplay(displaySelect.value);
    root.append(h('p', {}, h('a', { href: '#/layouts' }, t('layouts.back'))), h('h2', { id: 'lay-name' }, layout.name || id),
      h('div', { class: 'editor' }, form, preview.el));
    paint();
    return () => preview.stop();
  },
};
