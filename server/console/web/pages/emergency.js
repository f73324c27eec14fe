// Emergency (admin and authority): the kill switch first (blank or slate
// for a scope: the page is one click from every page, the switch the
// second), then compose an override from a template or from scratch
// (languages side by side, level, presentation, media, tone, expiry),
// choose targets by cluster, tag, display or an area drawn on the map of
// display locations (GET /map: points and cluster outlines on a plain
// background), preview it with the player's own renderer
// (/renderer/preview, in command mode), confirm with the count of targeted and offline
// screens (POST /overrides/preview), send, watch delivery per display live
// (GET /overrides/{id}/deliveries and the events stream) and cancel. CAP
// sources and their last messages close the page.
import { h, svg, clear, field, id as uid, announce } from '../lib/dom.js';
import { t, fmtDate, fmtNumber, fmtAgo, language } from '../lib/i18n.js';
import { get, post, getAll, errorText, showError, clearErrors } from '../lib/api.js';
import * as events from '../lib/events.js';

const LANGS = ['vi', 'en', 'zh'];
const SIZES = [[1920, 1080], [1080, 1920], [1152, 576], [384, 192]];

function langName(l) { return t('emergency.lang.' + l); }

// fill replaces {name} blanks with values (blanks left empty stay visible).
export function fill(text, values) {
  return String(text || '').replace(/\{([a-z][a-z0-9_]*)\}/g, (all, k) => (values[k] ? values[k] : all));
}

// Map projection: equirectangular over the data's bounds, in a 100-wide box.
function projector(bounds) {
  let { south, west, north, east } = bounds || { south: 8, west: 102, north: 24, east: 110 };
  const padLat = Math.max(0.01, (north - south) * 0.12);
  const padLon = Math.max(0.01, (east - west) * 0.12);
  south -= padLat; north += padLat; west -= padLon; east += padLon;
  const k = Math.cos(((south + north) / 2) * Math.PI / 180);
  const w = (east - west) * k;
  const hgt = north - south;
  const H = Math.max(30, Math.min(100, (100 * hgt) / Math.max(w, 1e-9)));
  return {
    W: 100, H,
    xy: ([lat, lon]) => [((lon - west) * k / w) * 100, ((north - lat) / hgt) * H],
    ll: (x, y) => [north - (y / H) * hgt, west + (x / 100) * w / k],
    kmPerUnit: (w / 100) * 111.32 / Math.max(k, 1e-9) * k,
  };
}

export default {
  title: 'nav.emergency',
  async render(root, params, app) {
    const [displays, clusters, templates, mapData, media] = await Promise.all([
      getAll('/displays', 'displays'), getAll('/clusters', 'clusters'), getAll('/override-templates', 'templates'),
      get('/map'), getAll('/media', 'media').catch(() => []),
    ]);
    const displayName = new Map(displays.map((d) => [d.id, d.name || d.id]));
    const tags = [...new Set(displays.flatMap((d) => d.tags || []))].sort();
    const cleanups = [];

    // ---- kill switch ------------------------------------------------------
    const kill = h('section', { class: 'card kill', id: 'kill', 'aria-labelledby': 'kill-h', tabindex: '-1' });
    const killScope = field({ label: t('emergency.kill.scope'), name: 'kill_scope', id: 'kill-scope', options: [
      ['all', t('emergency.kill.all')],
      ...clusters.map((c) => ['cluster:' + c.id, t('emergency.kill.cluster', { name: c.name || c.id })]),
      ...tags.map((g) => ['tag:' + g, t('emergency.kill.tag', { tag: g })]),
      ...displays.map((d) => ['display:' + d.id, t('emergency.kill.display', { name: d.name || d.id })]),
    ], value: 'all' });
    const killOut = h('div', { 'aria-live': 'assertive', id: 'kill-out' });
    const killWith = (presentation) => async () => {
      clearErrors(kill);
      const scope = kill.querySelector('[name="kill_scope"]').value;
      const [kind, val] = scope.split(/:(.*)/s);
      const targets = kind === 'all' ? { all: true } : kind === 'cluster' ? { clusters: [val] } : kind === 'tag' ? { tags: [val] } : { displays: [val] };
      try {
        const o = await post('/overrides', { level: 'critical', presentation, targets, expires_in_s: 3600 }, { headers: { 'Idempotency-Key': 'kill-' + Date.now() + '-' + Math.random().toString(36).slice(2) } });
        announce(t('emergency.kill.done', { n: fmtNumber(o.display_ids.length) }), 'ok');
        await loadActive();
        watch(o.id);
      } catch (err) {
        showError(kill, err);
      }
    };
    kill.append(h('h2', { id: 'kill-h' }, t('emergency.kill.title')), h('p', { class: 'hint' }, t('emergency.kill.hint')),
      h('div', { class: 'row' }, killScope,
        h('button', { type: 'button', class: 'btn btn-danger', id: 'kill-blank', onclick: killWith('blank') }, t('emergency.kill.blank')),
        h('button', { type: 'button', class: 'btn btn-danger', id: 'kill-slate', onclick: killWith('slate') }, t('emergency.kill.slate'))),
      killOut);

    // ---- active overrides and delivery ------------------------------------
    const active = h('section', { 'aria-labelledby': 'active-h', id: 'active' });
    const delivery = h('section', { 'aria-labelledby': 'delivery-h', id: 'delivery', class: 'card', hidden: true });
    let watching = '';
    let deliveryRows = new Map();

    async function loadActive() {
      try {
        const list = (await get('/overrides?active=true')).overrides || [];
        clear(active, h('h2', { id: 'active-h' }, t('emergency.active')),
          list.length ? h('ul', { class: 'ovr-list' }, list.map((o) => h('li', { class: ['ovr-item', 'level-' + o.level], dataset: { override: o.id } },
            h('span', { class: 'badge badge-' + (o.level === 'info' ? 'ok' : o.level === 'warning' ? 'warn' : 'danger') }, t('emergency.level.' + o.level)),
            ' ', h('strong', {}, t('emergency.pres.' + o.presentation)), ' ',
            h('span', { lang: (o.text || {})[language()] ? language() : undefined }, (o.text || {})[language()] || Object.values(o.text || {})[0] || ''), ' ',
            h('span', { class: 'hint' }, t('emergency.until', { at: fmtDate(o.expires_at) })), ' ',
            h('button', { type: 'button', class: 'btn btn-small', onclick: () => watch(o.id) }, t('emergency.watch')), ' ',
            h('button', { type: 'button', class: 'btn btn-small btn-danger', dataset: { cancel: o.id }, onclick: () => cancelOverride(o.id) }, t('emergency.cancel'))))) :
            h('p', { class: 'empty' }, t('emergency.noneActive')));
      } catch (err) {
        clear(active, h('p', { class: 'form-error', role: 'alert' }, errorText(err)));
      }
    }

    async function cancelOverride(id) {
      try {
        await post(`/overrides/${encodeURIComponent(id)}/cancel`);
        announce(t('emergency.cancelled'), 'ok');
      } catch (err) {
        announce(errorText(err), 'error');
      }
      await loadActive();
      if (watching === id) watch(id);
    }

    // Progress events that arrive while the deliveries are being fetched
    // (a screen paints in tens of milliseconds, before the list returns)
    // are kept and applied to the fetched rows when they are newer.
    // Kept per override (the send's answer can come after its first
    // progress events), for the last few overrides only.
    const heardBy = new Map();
    const heardFor = (id) => {
      if (!heardBy.has(id)) {
        heardBy.set(id, new Map());
        if (heardBy.size > 20) heardBy.delete(heardBy.keys().next().value);
      }
      return heardBy.get(id);
    };
    const stateRank = { pending: 0, offline: 1, not_due: 1, sent: 2, received: 3, painted: 4, refused: 5, unsupported: 5, ended: 6 };
    const newer = (a, b) => (stateRank[a] ?? 0) > (stateRank[b] ?? 0);

    async function watch(id) {
      watching = id;
      const heard = heardFor(id);
      delivery.hidden = false;
      try {
        const [o, ds] = await Promise.all([get(`/overrides/${encodeURIComponent(id)}`), getAll(`/overrides/${encodeURIComponent(id)}/deliveries`, 'deliveries')]);
        deliveryRows = new Map();
        const counts = h('p', { id: 'delivery-counts', 'aria-live': 'polite' });
        const rows = ds.map((d) => {
          const state = h('td', { class: 'dl-state' });
          const painted = h('td', {});
          const tr = h('tr', { dataset: { display: d.display_id } }, h('th', { scope: 'row' }, displayName.get(d.display_id) || d.display_id), state, painted);
          deliveryRows.set(d.display_id, { tr, state, painted, d });
          const ev = heard.get(d.display_id);
          setRow(d.display_id, ev && newer(ev.state, d.state) ? { ...d, ...ev } : d);
          return tr;
        });
        clear(delivery, h('h2', { id: 'delivery-h', tabindex: '-1' }, t('emergency.delivery', { id })),
          h('p', {}, t('emergency.deliveryStatus', { status: t('emergency.status.' + o.status), at: fmtDate(o.expires_at) })),
          counts,
          h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': t('emergency.deliveryCaption') }, h('table', { class: 'table', id: 'delivery-table' },
            h('caption', { class: 'visually-hidden' }, t('emergency.deliveryCaption')),
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('emergency.dl.display')), h('th', { scope: 'col' }, t('emergency.dl.state')), h('th', { scope: 'col' }, t('emergency.dl.painted')))),
            h('tbody', {}, rows))),
          o.status === 'active' || o.status === 'scheduled'
            ? h('button', { type: 'button', class: 'btn btn-danger', id: 'delivery-cancel', onclick: () => cancelOverride(id) }, t('emergency.cancel'))
            : null);
        updateCounts();
      } catch (err) {
        clear(delivery, h('p', { class: 'form-error', role: 'alert' }, errorText(err)));
      }
    }

    function setRow(displayID, d) {
      const r = deliveryRows.get(displayID);
      if (!r) return;
      Object.assign(r.d, d);
      const st = r.d.state;
      r.tr.dataset.state = st;
      clear(r.state, h('span', { class: 'badge badge-' + ({ painted: 'ok', offline: 'danger', refused: 'danger', failed: 'danger' }[st] || 'warn') }, t('emergency.state.' + st)));
      clear(r.painted, r.d.painted_at ? `${fmtDate(r.d.painted_at, { timeStyle: 'medium' })}${r.d.latency_ms != null ? ` (${fmtNumber(r.d.latency_ms)} ms)` : ''}` : '—');
    }

    function updateCounts() {
      const c = {};
      for (const r of deliveryRows.values()) c[r.d.state] = (c[r.d.state] || 0) + 1;
      const el = delivery.querySelector('#delivery-counts');
      if (el) {
        el.textContent = t('emergency.counts', { painted: fmtNumber(c.painted || 0), pending: fmtNumber((c.pending || 0) + (c.sent || 0) + (c.received || 0)), offline: fmtNumber(c.offline || 0), total: fmtNumber(deliveryRows.size) });
        delivery.dataset.painted = String(c.painted || 0);
      }
    }

    cleanups.push(events.on('override_delivery', (p) => {
      if (!p || !p.override_id) return;
      if (p.display_id) {
        const heard = heardFor(p.override_id);
        const ev = { state: p.state };
        if (p.painted_at) ev.painted_at = p.painted_at;
        if (p.latency_ms != null) ev.latency_ms = p.latency_ms;
        const prev = heard.get(p.display_id);
        if (!prev || !newer(prev.state, ev.state)) heard.set(p.display_id, { ...prev, ...ev });
      }
      if (p.override_id !== watching) return;
      if (p.display_id) {
        setRow(p.display_id, { state: p.state, painted_at: p.painted_at || deliveryRows.get(p.display_id)?.d.painted_at, latency_ms: p.latency_ms ?? deliveryRows.get(p.display_id)?.d.latency_ms });
        updateCounts();
      } else {
        watch(watching);
      }
    }));

    // ---- compose ----------------------------------------------------------
    const compose = h('form', { class: 'form card', id: 'compose', novalidate: true, 'aria-labelledby': 'compose-h' });
    let tpl = null;
    const tplBox = h('div', { class: 'tpl-list', role: 'group', 'aria-label': t('emergency.templates') },
      templates.map((tp) => h('button', { type: 'button', class: 'btn', dataset: { template: tp.id, topic: tp.topic || '' }, onclick: () => useTemplate(tp) },
        (tp.name || {})[language()] || (tp.name || {}).vi || Object.values(tp.name || {})[0] || tp.id)));
    const blanks = h('div', { class: 'tpl-fields', id: 'tpl-fields' });
    const texts = h('div', { class: 'lang-cols' }, LANGS.map((l) => field({ label: langName(l), name: 'text.' + l, type: 'textarea', rows: 4, id: 'text-' + l })));
    for (const l of LANGS) texts.querySelector(`#text-${l}`).lang = l;

    const opts = (prefix, list) => list.map((x) => [x, t(`emergency.${prefix}.${x}`)]);
    const levelF = field({ label: t('emergency.f.level'), name: 'level', options: opts('level', ['critical', 'warning', 'info']), value: 'critical' });
    const presF = field({ label: t('emergency.f.presentation'), name: 'presentation', options: opts('pres', ['fullscreen', 'banner', 'blank', 'slate']), value: 'fullscreen' });
    const posF = field({ label: t('emergency.f.position'), name: 'position', options: opts('pos', ['bottom', 'top']), value: 'bottom' });
    const modeF = field({ label: t('emergency.f.langMode'), name: 'lang_mode', options: opts('mode', ['together', 'rotate']), value: 'together' });
    const toneF = field({ label: t('emergency.f.tone'), name: 'tone', options: opts('tone', ['auto', 'alert', 'none']), value: 'auto' });
    const repeatF = field({ label: t('emergency.f.repeat'), name: 'tone_repeat', type: 'number', min: 1, max: 20, value: 3 });
    const expiryF = field({ label: t('emergency.f.expiry'), name: 'expires_in_s', type: 'number', min: 1, max: 1440, value: 60, hint: t('emergency.f.expiryHint') });
    const wakeF = field({ label: t('emergency.f.wake'), name: 'wake', type: 'checkbox', value: true });
    const visual = media.filter((m) => m.status === 'ready' && ['image', 'video', 'audio'].includes(m.kind));
    const mediaF = field({ label: t('emergency.f.media'), name: 'media', multiple: true, options: visual.map((m) => [m.id, `${m.filename} (${t('emergency.kind.' + m.kind)})`]), value: [] });

    // targets
    const targetKind = h('fieldset', { class: 'target-kinds' }, h('legend', {}, t('emergency.f.targets')),
      ['all', 'clusters', 'tags', 'displays', 'area'].map((k) => {
        const fid = uid('tk');
        return h('span', { class: 'field-check' }, h('input', { type: 'radio', name: 'target_kind', id: fid, value: k, checked: k === 'all' }), h('label', { for: fid }, t('emergency.tk.' + k)));
      }));
    const clusterF = field({ label: t('emergency.tk.clusters'), name: 'clusters', multiple: true, options: clusters.map((c) => [c.id, c.name || c.id]), value: [] });
    const tagF = field({ label: t('emergency.tk.tags'), name: 'tags', multiple: true, options: tags.map((g) => [g, g]), value: [] });
    const dispF = field({ label: t('emergency.tk.displays'), name: 'displays', multiple: true, options: displays.map((d) => [d.id, d.name || d.id]), value: [] });
    const area = { shape: 'polygon', points: [], circle: null };
    const mapBox = h('div', { class: 'map-box' });
    const targetDetail = h('div', { class: 'target-detail' }, clusterF, tagF, dispF, mapBox);

    const previewSize = field({ label: t('emergency.f.previewSize'), name: 'preview_size', id: 'preview-size',
      options: [...new Set([...displays.map((d) => `${d.width}x${d.height}`), ...SIZES.map(([w, hh]) => `${w}x${hh}`)])].filter((s) => !s.startsWith('0x')).map((s) => [s, s.replace('x', ' × ')]), value: '1920x1080' });
    const frame = h('iframe', { src: '/renderer/preview', title: t('emergency.previewFrame'), id: 'preview-frame', class: 'preview-frame', tabindex: '-1' });
    const frameBox = h('div', { class: 'preview-box' }, frame);
    let frameReady = false;

    compose.append(
      h('h2', { id: 'compose-h' }, t('emergency.compose')),
      h('h3', {}, t('emergency.templates')), tplBox, blanks,
      h('fieldset', {}, h('legend', {}, t('emergency.f.texts')), texts),
      h('div', { class: 'row' }, levelF, presF, posF, modeF),
      h('div', { class: 'row' }, mediaF, toneF, repeatF),
      h('div', { class: 'row' }, expiryF, wakeF),
      targetKind, targetDetail,
      h('h3', {}, t('emergency.preview')), h('p', { class: 'hint' }, t('emergency.previewHint')), previewSize, frameBox,
      h('div', { class: 'toolbar' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'compose-review' }, t('emergency.review'))));

    function useTemplate(tp) {
      tpl = tp;
      for (const b of tplBox.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.template === tp.id));
      compose.level.value = tp.level;
      compose.presentation.value = tp.presentation;
      if (tp.position) compose.position.value = tp.position;
      if (tp.expires_in_s) compose.elements.expires_in_s.value = Math.round(tp.expires_in_s / 60);
      if (tp.tone) { compose.tone.value = tp.tone.kind; compose.tone_repeat.value = tp.tone.repeat || 1; }
      clear(blanks, ...(tp.fields || []).map((f) => field({ label: f.label[language()] || f.label.vi || Object.values(f.label)[0], name: 'blank_' + f.name, id: 'blank-' + f.name })));
      for (const inp of blanks.querySelectorAll('input')) inp.addEventListener('input', refill);
      refill();
      const first = blanks.querySelector('input');
      if (first) first.focus();
    }

    function refill() {
      if (!tpl) return;
      const values = {};
      for (const f of tpl.fields || []) values[f.name] = compose['blank_' + f.name].value.trim();
      for (const l of LANGS) compose.elements['text.' + l].value = tpl.text && tpl.text[l] ? fill(tpl.text[l], values) : '';
      sync();
    }

    function targetsNow() {
      const kind = compose.querySelector('[name="target_kind"]:checked').value;
      const sel = (n) => [...compose[n].selectedOptions].map((o) => o.value);
      switch (kind) {
        case 'clusters': return { clusters: sel('clusters') };
        case 'tags': return { tags: sel('tags') };
        case 'displays': return { displays: sel('displays') };
        case 'area':
          if (area.shape === 'circle' && area.circle) return { area: { circle: area.circle } };
          return { area: { polygon: area.points } };
        default: return { all: true };
      }
    }

    function request() {
      const body = { level: compose.level.value, presentation: compose.presentation.value, targets: targetsNow() };
      const text = {};
      const languages = [];
      for (const l of LANGS) {
        const v = compose.elements['text.' + l].value.trim();
        if (v) { text[l] = v; languages.push(l); }
      }
      if (body.presentation === 'fullscreen' || body.presentation === 'banner') {
        body.text = text;
        body.languages = languages;
        body.lang_mode = compose.lang_mode.value;
        const m = [...compose.media.selectedOptions].map((o) => o.value);
        if (m.length) body.media = m;
        if (compose.tone.value !== 'auto') body.tone = { kind: compose.tone.value, repeat: Number(compose.tone_repeat.value) || 1 };
      }
      if (body.presentation === 'banner') body.position = compose.position.value;
      body.expires_in_s = Math.round(Number(compose.elements.expires_in_s.value) * 60);
      body.wake = compose.wake.checked;
      return body;
    }

    // ---- preview with the player's renderer --------------------------------
    const mediaURLs = new Map(); // media id → {kind, url}
    async function mediaFor(ids) {
      const out = [];
      for (const id of ids) {
        if (!mediaURLs.has(id)) {
          try {
            const m = await get(`/media/${encodeURIComponent(id)}`);
            const rs = (m.renditions || []).filter((r) => !/thumb|poster/.test(r.profile));
            rs.sort((a, b) => b.width * b.height - a.width * a.height || b.size - a.size);
            mediaURLs.set(id, { kind: m.kind, url: rs.length ? `/api/v1/files/${rs[0].sha256}` : `/api/v1/media/${id}/original` });
          } catch { continue; }
        }
        out.push(mediaURLs.get(id));
      }
      return out;
    }

    let seq = 0;
    async function sync() {
      const [w, hh] = compose.preview_size.value.split('x').map(Number);
      const box = frameBox.clientWidth || 640;
      const scale = Math.min(1, box / w);
      frame.style.width = w + 'px';
      frame.style.height = hh + 'px';
      frame.style.transform = `scale(${scale})`;
      frameBox.style.height = Math.ceil(hh * scale) + 'px';
      frameBox.dataset.size = `${w}x${hh}`;
      if (!frameReady) return;
      const r = request();
      const texts = (r.languages || []).map((l) => ({ lang: l, text: r.text[l] }));
      const pres = r.presentation;
      const cmd = { type: 'override', seq: ++seq, id: 'preview', revision: seq, level: r.level, presentation: pres,
        covering: pres !== 'banner', lang_mode: r.lang_mode || 'together', rotate_s: 8 };
      if (pres === 'banner') cmd.position = r.position || 'bottom';
      if (pres === 'fullscreen' || pres === 'banner') {
        cmd.texts = texts.length ? texts : [{ lang: language(), text: t('emergency.previewEmpty') }];
        cmd.media = await mediaFor(r.media || []);
      }
      // The preview is silent: the tone plays on screens only.
      frame.contentWindow.postMessage({ type: 'beacon-preview-command', cmd: { type: 'waiting' } }, location.origin);
      frame.contentWindow.postMessage({ type: 'beacon-preview-command', cmd }, location.origin);
    }
    const onMessage = (ev) => {
      if (ev.origin !== location.origin || ev.source !== frame.contentWindow || !ev.data || ev.data.type !== 'beacon-preview') return;
      if (ev.data.ready) { frameReady = true; sync(); }
      const m = ev.data.report;
      if (m && m.type === 'override_shown') frameBox.dataset.shown = String(m.seq);
    };
    window.addEventListener('message', onMessage);
    cleanups.push(() => window.removeEventListener('message', onMessage));
    let syncTimer = null;
    const later = () => { clearTimeout(syncTimer); syncTimer = setTimeout(sync, 150); };
    compose.addEventListener('input', later);
    compose.addEventListener('change', (e) => {
      if (e.target.name === 'target_kind') showTargetDetail();
      later();
    });
    window.addEventListener('resize', later);
    cleanups.push(() => { window.removeEventListener('resize', later); clearTimeout(syncTimer); });

    function showTargetDetail() {
      const kind = compose.querySelector('[name="target_kind"]:checked').value;
      clusterF.hidden = kind !== 'clusters';
      tagF.hidden = kind !== 'tags';
      dispF.hidden = kind !== 'displays';
      mapBox.hidden = kind !== 'area';
    }

    // ---- the map ------------------------------------------------------------
    const P = projector(mapData.bounds);
    function drawMap() {
      const s = svg('svg', { class: 'map', id: 'target-map', viewBox: `0 0 ${P.W} ${P.H.toFixed(2)}`, role: 'img', 'aria-labelledby': 'map-title map-desc' });
      s.append(svg('title', { id: 'map-title' }, t('emergency.map.title')),
        svg('desc', { id: 'map-desc' }, t('emergency.map.desc', { n: fmtNumber(mapData.displays.length), unlocated: fmtNumber(mapData.unlocated) })));
      for (let i = 1; i < 10; i++) {
        s.append(svg('line', { class: 'grid', x1: i * 10, y1: 0, x2: i * 10, y2: P.H }), svg('line', { class: 'grid', x1: 0, y1: (i * P.H) / 10, x2: P.W, y2: (i * P.H) / 10 }));
      }
      for (const c of mapData.clusters) {
        if (c.outline.length >= 3) s.append(svg('polygon', { class: 'cluster', points: c.outline.map((p) => P.xy(p).map((v) => v.toFixed(2)).join(',')).join(' ') }, svg('title', {}, c.name)));
        else if (c.outline.length) {
          const [x, y] = P.xy(c.outline[0]);
          s.append(svg('circle', { class: 'cluster', cx: x, cy: y, r: 3 }, svg('title', {}, c.name)));
        }
      }
      const chosen = new Set(lastPreview ? lastPreview.display_ids : []);
      for (const d of mapData.displays) {
        const [x, y] = P.xy([d.lat, d.lon]);
        s.append(svg('circle', { class: ['pt', d.online ? 'online' : 'offline', chosen.has(d.id) && 'chosen'].filter(Boolean).join(' '), cx: x.toFixed(2), cy: y.toFixed(2), r: 1.4, dataset: { display: d.id } },
          svg('title', {}, `${d.name} (${d.online ? t('emergency.online') : t('emergency.offline')})`)));
      }
      if (area.shape === 'polygon' && area.points.length) {
        const pts = area.points.map((p) => P.xy(p).map((v) => v.toFixed(2)).join(',')).join(' ');
        s.append(svg(area.points.length >= 3 ? 'polygon' : 'polyline', { class: 'drawn', points: pts }));
        for (const p of area.points) {
          const [x, y] = P.xy(p);
          s.append(svg('circle', { class: 'vertex', cx: x, cy: y, r: 0.8 }));
        }
      }
      if (area.shape === 'circle' && area.circle) {
        const [x, y] = P.xy([area.circle.lat, area.circle.lon]);
        const [x2] = P.xy([area.circle.lat, area.circle.lon + area.circle.radius_km / (111.32 * Math.cos(area.circle.lat * Math.PI / 180))]);
        s.append(svg('circle', { class: 'drawn', cx: x, cy: y, r: Math.abs(x2 - x) }));
      }
      // Screen to map coordinates through the SVG's own transform (the
      // drawing keeps its aspect ratio inside the element).
      const toLL = (ev) => {
        const pt = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(s.getScreenCTM().inverse());
        return P.ll(pt.x, pt.y);
      };
      if (area.shape === 'polygon') {
        s.addEventListener('click', (ev) => {
          const [lat, lon] = toLL(ev);
          area.points.push([Number(lat.toFixed(5)), Number(lon.toFixed(5))]);
          redrawMap();
        });
      } else {
        s.addEventListener('pointerdown', (ev) => {
          const [lat, lon] = toLL(ev);
          area.circle = { lat: Number(lat.toFixed(5)), lon: Number(lon.toFixed(5)), radius_km: 0.5 };
          s.setPointerCapture(ev.pointerId);
          const move = (e2) => {
            const [la2, lo2] = toLL(e2);
            const dy = (la2 - lat) * 111.32;
            const dx = (lo2 - lon) * 111.32 * Math.cos(lat * Math.PI / 180);
            area.circle.radius_km = Number(Math.max(0.1, Math.hypot(dx, dy)).toFixed(2));
            redrawMap();
          };
          const up = () => { s.removeEventListener('pointermove', move); s.removeEventListener('pointerup', up); redrawMap(); later(); };
          s.addEventListener('pointermove', move);
          s.addEventListener('pointerup', up);
        });
      }
      return s;
    }
    let lastPreview = null;
    const areaNote = h('p', { class: 'hint', id: 'area-note', 'aria-live': 'polite' });
    function redrawMap() {
      const old = mapBox.querySelector('svg');
      const s = drawMap();
      if (old) old.replaceWith(s); else mapBox.prepend(s);
      areaNote.textContent = area.shape === 'circle'
        ? (area.circle ? t('emergency.map.circle', { lat: area.circle.lat, lon: area.circle.lon, r: fmtNumber(area.circle.radius_km) }) : t('emergency.map.circleHint'))
        : t('emergency.map.polygon', { n: fmtNumber(area.points.length) });
    }
    const shapeSel = field({ label: t('emergency.map.shape'), name: 'area_shape', options: [['polygon', t('emergency.map.shapePolygon')], ['circle', t('emergency.map.shapeCircle')]], value: 'polygon' });
    shapeSel.querySelector('select').addEventListener('change', (e) => { area.shape = e.target.value; area.points = []; area.circle = null; redrawMap(); });
    mapBox.append(h('p', { class: 'hint' }, t('emergency.map.hint')), shapeSel, areaNote,
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'btn btn-small', id: 'area-undo', onclick: () => { area.points.pop(); redrawMap(); } }, t('emergency.map.undo')),
        h('button', { type: 'button', class: 'btn btn-small', id: 'area-clear', onclick: () => { area.points = []; area.circle = null; redrawMap(); } }, t('emergency.map.clear'))));
    redrawMap();
    showTargetDetail();

    // ---- review, confirm, send ---------------------------------------------
    compose.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(compose);
      const body = request();
      let pv;
      try {
        pv = await post('/overrides/preview', body);
      } catch (err) {
        showError(compose, err);
        return;
      }
      lastPreview = pv;
      redrawMap();
      if (!pv.targeted) {
        compose.prepend(h('p', { class: 'form-error', role: 'alert', tabindex: '-1', id: 'no-targets' }, t('emergency.noTargets')));
        compose.querySelector('#no-targets').focus();
        return;
      }
      confirmSend(body, pv);
    });

    function confirmSend(body, pv) {
      const dlg = h('dialog', { class: 'confirm-dialog', id: 'confirm', 'aria-labelledby': 'confirm-h', 'aria-describedby': 'confirm-count' });
      const offline = (pv.offline_ids || []).map((i) => displayName.get(i) || i);
      const sendBtn = h('button', { type: 'button', class: 'btn btn-danger', id: 'confirm-send' }, t('emergency.send', { n: fmtNumber(pv.targeted) }));
      const box = h('div', {});
      dlg.append(h('h2', { id: 'confirm-h' }, t('emergency.confirmTitle')),
        h('p', { id: 'confirm-count', class: 'confirm-count', dataset: { targeted: pv.targeted, offline: pv.offline } },
          t('emergency.confirmCount', { n: fmtNumber(pv.targeted), offline: fmtNumber(pv.offline) })),
        offline.length ? h('details', {}, h('summary', {}, t('emergency.offlineList')), h('ul', {}, offline.map((n) => h('li', {}, n)))) : null,
        h('p', {}, t('emergency.confirmWhat', { level: t('emergency.level.' + body.level), pres: t('emergency.pres.' + body.presentation), until: fmtDate(pv.expires_at) })),
        box,
        h('div', { class: 'toolbar' }, sendBtn, h('button', { type: 'button', class: 'btn', id: 'confirm-back', onclick: () => dlg.close() }, t('emergency.back'))));
      const key = 'ovr-' + Date.now() + '-' + Math.random().toString(36).slice(2);
      sendBtn.addEventListener('click', async () => {
        sendBtn.disabled = true;
        try {
          const o = await post('/overrides', body, { headers: { 'Idempotency-Key': key } });
          dlg.close();
          announce(t('emergency.sent', { n: fmtNumber(o.display_ids.length) }), 'ok');
          await loadActive();
          await watch(o.id);
          delivery.querySelector('#delivery-h')?.focus();
        } catch (err) {
          sendBtn.disabled = false;
          showError(box, err);
        }
      });
      dlg.addEventListener('close', () => dlg.remove());
      document.body.append(dlg);
      dlg.showModal();
      sendBtn.focus();
    }

    // ---- CAP --------------------------------------------------------------
    const capBox = h('section', { 'aria-labelledby': 'cap-h', id: 'cap' });
    async function loadCAP() {
      try {
        const [src, msgs] = await Promise.all([get('/cap/sources'), get('/cap/messages?limit=20')]);
        const verdict = (m) => (m.signature ? t('emergency.cap.sig.' + m.signature.verdict) : '—');
        clear(capBox, h('h2', { id: 'cap-h' }, t('emergency.cap.title')),
          h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': t('emergency.cap.sources') }, h('table', { class: 'table', id: 'cap-sources' },
            h('caption', {}, t('emergency.cap.sources')),
            h('thead', {}, h('tr', {}, ['id', 'sender', 'policy', 'feed', 'last'].map((k) => h('th', { scope: 'col' }, t('emergency.cap.col.' + k))))),
            h('tbody', {}, (src.sources || []).map((s) => h('tr', {},
              h('th', { scope: 'row' }, s.id), h('td', {}, s.sender), h('td', {}, t('emergency.cap.policy.' + s.policy)),
              h('td', {}, s.feed_url ? `${s.feed_url} (${s.last_poll_at ? fmtAgo(s.last_poll_at) : t('common.never')}${s.last_poll_error ? ': ' + s.last_poll_error : ''})` : t('emergency.cap.push')),
              h('td', {}, s.last_message ? `${fmtDate(s.last_message.received_at)}: ${t('emergency.cap.outcome.' + s.last_message.outcome)}` : t('common.never'))))))),
          h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': t('emergency.cap.messages') }, h('table', { class: 'table', id: 'cap-messages' },
            h('caption', {}, t('emergency.cap.messages')),
            h('thead', {}, h('tr', {}, ['at', 'source', 'key', 'outcome', 'signature', 'reason'].map((k) => h('th', { scope: 'col' }, t('emergency.cap.col.' + k))))),
            h('tbody', {}, (msgs.messages || []).map((m) => h('tr', { dataset: { outcome: m.outcome } },
              h('td', {}, fmtDate(m.received_at)), h('td', {}, m.source || '—'), h('td', {}, m.key || '—'),
              h('td', {}, t('emergency.cap.outcome.' + m.outcome)), h('td', {}, verdict(m)), h('td', {}, m.reason || '')))))),
          (msgs.messages || []).length ? null : h('p', { class: 'empty' }, t('emergency.cap.none')));
      } catch (err) {
        clear(capBox, h('h2', { id: 'cap-h' }, t('emergency.cap.title')), h('p', { class: 'form-error', role: 'alert' }, errorText(err)));
      }
    }

    root.append(kill, active, delivery, compose, capBox);
    await Promise.all([loadActive(), loadCAP()]);
    sync();
    if (params.id === 'kill') kill.focus();
    else if (params.id) watch(params.id);
    return () => cleanups.forEach((f) => f());
  },
};
