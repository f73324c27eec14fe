// Displays: claim a screen by the pairing code it shows; the list with
// online state, what plays, last seen and manifest state, kept up to date
// live by the server's events; one display's settings (#/displays/ID):
// name, cluster, resolution and orientation, fit, location picked on a
// map of the organisation's own displays, tags and languages.
import { h, clear, field, formData, announce } from '../lib/dom.js';
import { t, has, fmtDate, fmtAgo, fmtNumber } from '../lib/i18n.js';
import { get, post, patch, del, getAll, showError, clearErrors, errorText } from '../lib/api.js';
import { confirmAction } from '../lib/dialog.js';
import { createMap, mapLegend } from '../lib/map.js';
import * as events from '../lib/events.js';

const FITS = ['contain', 'cover', 'stretch'];
const SIZES = [[1920, 1080], [3840, 2160], [1280, 720], [1366, 768], [1024, 768], [768, 512], [512, 256]];

function stateBadge(d) {
  if (!d.online) return h('span', { class: 'badge badge-warn', 'data-state': 'offline' }, t('displays.offline'));
  return h('span', { class: 'badge badge-ok', 'data-state': 'online' }, t('displays.online'),
    d.state && has(`displays.state.${d.state}`) ? ` · ${t(`displays.state.${d.state}`)}` : '');
}

function manifestCell(d) {
  if (d.manifest_state === 'error') {
    return h('span', { class: 'badge badge-danger', title: d.manifest_error || '' }, t('displays.manifestError'));
  }
  if (!d.manifest_version) return h('span', { class: 'badge' }, t('displays.manifestNone'));
  if (d.acked_manifest_version >= d.manifest_version) {
    return h('span', { class: 'badge badge-ok' }, t('displays.manifestCurrent', { v: fmtNumber(d.manifest_version) }));
  }
  return h('span', { class: 'badge badge-warn' }, t('displays.manifestPending', { v: fmtNumber(d.manifest_version), acked: fmtNumber(d.acked_manifest_version || 0) }));
}

const mediaNames = new Map(); // media id → name (or a promise of it)
async function mediaName(id) {
  if (!mediaNames.has(id)) {
    mediaNames.set(id, get(`/media/${encodeURIComponent(id)}`).then((m) => m.filename || id).catch(() => id));
  }
  return mediaNames.get(id);
}

function nowPlayingCell(d) {
  const np = d.now_playing;
  if (!d.online || !np || !(np.media_id || np.item_id)) return h('span', { class: 'empty' }, t('displays.nothing'));
  // A media item plays as itself (its id is the item's), or through an item.
  const mid = np.media_id || (String(np.item_id).startsWith('med_') ? np.item_id : '');
  const el = h('span', {}, mid || np.item_id);
  if (mid) mediaName(mid).then((n) => { el.textContent = n; });
  return el;
}

function claimForm(clusters, onClaimed) {
  const btn = h('button', { type: 'submit', class: 'btn btn-primary' }, t('displays.claim'));
  const form = h('form', { class: 'card form', id: 'claim', novalidate: true, 'aria-labelledby': 'claim-h' },
    h('h2', { id: 'claim-h' }, t('displays.claimTitle')),
    h('p', { class: 'hint' }, t('displays.claimHint')),
    h('div', { class: 'row' },
      field({ label: t('displays.code'), name: 'code', required: true, autocomplete: 'off', maxlength: 64, hint: t('displays.codeHint') }),
      field({ label: t('displays.name'), name: 'name', required: true }),
      field({ label: t('displays.resolution'), name: 'size', options: SIZES.map(([w, hh]) => [`${w}x${hh}`, `${w} × ${hh}`]), value: '1920x1080' }),
      field({ label: t('displays.orientation'), name: 'orientation', options: [['landscape', t('displays.landscape')], ['portrait', t('displays.portrait')]], value: 'landscape' }),
      field({ label: t('displays.fit'), name: 'fit', options: FITS.map((f) => [f, t(`displays.fit.${f}`)]), value: 'contain' }),
      field({ label: t('displays.cluster'), name: 'cluster_id', options: [['', t('displays.noCluster')], ...clusters.map((c) => [c.id, c.name])] })),
    h('div', { class: 'actions' }, btn));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const v = formData(form);
    let [w, hh] = v.size.split('x').map(Number);
    if (v.orientation === 'portrait') [w, hh] = [hh, w];
    btn.disabled = true;
    try {
      let d = await post('/displays/claim', { code: v.code, name: v.name, width: w, height: hh, fit: v.fit });
      if (v.cluster_id) d = await patch(`/displays/${encodeURIComponent(d.id)}`, { cluster_id: v.cluster_id });
      form.reset();
      announce(t('displays.claimed', { name: d.name }), 'ok');
      onClaimed(d);
    } catch (err) {
      showError(form, err);
    } finally {
      btn.disabled = false;
    }
  });
  return form;
}

async function renderList(root, app) {
  const [displays, clustersRes] = await Promise.all([getAll('/displays', 'displays', 100000), getAll('/clusters', 'clusters')]);
  const clusters = clustersRes;
  const clusterName = new Map(clusters.map((c) => [c.id, c.name]));
  const byId = new Map(displays.map((d) => [d.id, d]));
  const tbody = h('tbody', {});
  const summary = h('p', { class: 'hint', id: 'displays-summary' });
  const search = h('input', { type: 'search', id: 'display-search', name: 'q', autocomplete: 'off' });
  const stateFilter = h('select', { id: 'display-state' },
    [['', t('displays.all')], ['online', t('displays.online')], ['offline', t('displays.offline')]].map(([v, l]) => h('option', { value: v }, l)));

  function row(d) {
    return h('tr', { 'data-display': d.id, 'data-online': String(!!d.online) },
      h('td', {}, h('a', { href: `#/displays/${encodeURIComponent(d.id)}` }, d.name)),
      h('td', {}, stateBadge(d)),
      h('td', {}, nowPlayingCell(d)),
      h('td', {}, d.last_seen_at ? h('time', { datetime: d.last_seen_at, title: fmtDate(d.last_seen_at) }, fmtAgo(d.last_seen_at)) : t('common.never')),
      h('td', {}, manifestCell(d)),
      h('td', {}, clusterName.get(d.cluster_id) || '—'),
      h('td', {}, `${d.width} × ${d.height}`),
      h('td', {}, (d.tags || []).join(', ')));
  }
  function matches(d) {
    const q = search.value.trim().toLowerCase();
    const st = stateFilter.value;
    if (st === 'online' && !d.online) return false;
    if (st === 'offline' && d.online) return false;
    return !q || d.name.toLowerCase().includes(q) || (d.tags || []).some((x) => x.toLowerCase().includes(q)) || (clusterName.get(d.cluster_id) || '').toLowerCase().includes(q);
  }
  function paint() {
    const list = [...byId.values()].sort((a, b) => a.name.localeCompare(b.name));
    const shown = list.filter(matches);
    clear(tbody, shown.map(row));
    const online = list.filter((d) => d.online).length;
    summary.textContent = t('displays.summary', { total: fmtNumber(list.length), online: fmtNumber(online), offline: fmtNumber(list.length - online) });
  }
  search.addEventListener('input', paint);
  stateFilter.addEventListener('change', paint);

  const table = h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'displays' },
    h('caption', { class: 'visually-hidden' }, t('displays.listTitle')),
    h('thead', {}, h('tr', {}, ['displays.name', 'displays.status', 'displays.nowPlaying', 'displays.lastSeen', 'displays.manifest', 'displays.cluster', 'displays.resolution', 'displays.tags']
      .map((k) => h('th', { scope: 'col' }, t(k))))),
    tbody));
  const parts = [];
  if (app.canEdit()) parts.push(claimForm(clusters, (d) => { byId.set(d.id, d); paint(); }));
  parts.push(h('section', { 'aria-labelledby': 'displays-h' },
    h('h2', { id: 'displays-h' }, t('displays.listTitle')),
    h('div', { class: 'toolbar' },
      h('div', { class: 'field' }, h('label', { for: 'display-search' }, t('common.search')), search),
      h('div', { class: 'field' }, h('label', { for: 'display-state' }, t('displays.status')), stateFilter)),
    summary, table));
  root.append(...parts);
  paint();

  // Live: each "display" event carries the display's current view.
  // A known display's row is replaced where it stands (a list of
  // thousands is not redrawn for one heartbeat); others redraw the list.
  return events.on('display', (ev) => {
    if (!ev || !ev.id) return;
    const old = byId.get(ev.id);
    if (ev.deleted) byId.delete(ev.id);
    else byId.set(ev.id, ev);
    const tr = tbody.querySelector(`tr[data-display="${CSS.escape(ev.id)}"]`);
    if (!ev.deleted && old && tr && old.name === ev.name && matches(ev)) {
      tr.replaceWith(row(ev));
      const online = [...byId.values()].filter((d) => d.online).length;
      summary.textContent = t('displays.summary', { total: fmtNumber(byId.size), online: fmtNumber(online), offline: fmtNumber(byId.size - online) });
    } else {
      paint();
    }
  });
}

async function renderOne(root, id, app) {
  const [d, clustersRes, all] = await Promise.all([get(`/displays/${encodeURIComponent(id)}`), getAll('/clusters', 'clusters'), getAll('/displays', 'displays')]);
  const clusters = clustersRes;
  const heading = document.getElementById('page-title');
  const live = h('dl', { class: 'facts', id: 'display-live' });
  function paintLive(v) {
    clear(live,
      h('dt', {}, t('displays.status')), h('dd', {}, stateBadge(v)),
      h('dt', {}, t('displays.nowPlaying')), h('dd', {}, nowPlayingCell(v)),
      h('dt', {}, t('displays.lastSeen')), h('dd', {}, v.last_seen_at ? fmtDate(v.last_seen_at, { zone: true }) : t('common.never')),
      h('dt', {}, t('displays.manifest')), h('dd', {}, manifestCell(v), v.manifest_error ? h('span', { class: 'hint' }, ' ', v.manifest_error) : null));
  }
  paintLive(d);
  const portrait = d.height > d.width;
  const long = Math.max(d.width, d.height), short = Math.min(d.width, d.height);
  const sizes = SIZES.some(([w, hh]) => w === long && hh === short) ? SIZES : [[long, short], ...SIZES];
  const editable = app.canEdit();
  const lat = field({ label: t('displays.latitude'), name: 'latitude', type: 'number', step: 'any', min: -90, max: 90, value: d.latitude ?? '' });
  const lon = field({ label: t('displays.longitude'), name: 'longitude', type: 'number', step: 'any', min: -180, max: 180, value: d.longitude ?? '' });
  const members = (c) => all.filter((x) => x.cluster_id === c.id && x.latitude != null).map((x) => ({ lat: x.latitude, lon: x.longitude }));
  const map = createMap({
    label: t('displays.mapLabel'),
    points: all.filter((x) => x.id !== d.id && x.latitude != null).map((x) => ({ id: x.id, lat: x.latitude, lon: x.longitude, label: x.name })),
    outlines: clusters.map((c) => ({ id: c.id, label: c.name, points: [...members(c), ...(c.latitude != null ? [{ lat: c.latitude, lon: c.longitude }] : [])] })),
    pick: d.latitude != null ? { lat: d.latitude, lon: d.longitude } : null,
    onPick: editable ? (la, lo) => { lat.querySelector('input').value = la; lon.querySelector('input').value = lo; } : null,
  });
  for (const input of [lat, lon].map((f) => f.querySelector('input'))) {
    input.addEventListener('change', () => map.setPick(parseFloat(lat.querySelector('input').value), parseFloat(lon.querySelector('input').value)));
  }
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, t('common.save'));
  const form = h('form', { class: 'card form', id: 'display-form', novalidate: true, 'aria-labelledby': 'display-settings-h' },
    h('h2', { id: 'display-settings-h' }, t('displays.settings')),
    h('div', { class: 'row' },
      field({ label: t('displays.name'), name: 'name', required: true, value: d.name }),
      field({ label: t('displays.cluster'), name: 'cluster_id', options: [['', t('displays.noCluster')], ...clusters.map((c) => [c.id, c.name])], value: d.cluster_id })),
    h('div', { class: 'row' },
      field({ label: t('displays.resolution'), name: 'size', options: sizes.map(([w, hh]) => [`${w}x${hh}`, `${w} × ${hh}`]), value: `${long}x${short}` }),
      field({ label: t('displays.orientation'), name: 'orientation', options: [['landscape', t('displays.landscape')], ['portrait', t('displays.portrait')]], value: portrait ? 'portrait' : 'landscape' }),
      field({ label: t('displays.fit'), name: 'fit', options: FITS.map((f) => [f, t(`displays.fit.${f}`)]), value: d.fit })),
    h('div', { class: 'row' },
      field({ label: t('displays.tags'), name: 'tags', value: (d.tags || []).join(', '), hint: t('displays.tagsHint') }),
      field({ label: t('displays.languages'), name: 'languages', value: (d.languages || []).join(', '), hint: t('displays.languagesHint') })),
    h('fieldset', { class: 'fieldset' }, h('legend', {}, t('displays.location')),
      h('p', { class: 'hint', id: 'map-hint' }, t(editable ? 'displays.mapHint' : 'displays.mapHintRead')),
      map.el, mapLegend(),
      h('div', { class: 'row' }, lat, lon)),
    editable ? h('div', { class: 'actions' }, save,
      h('button', { type: 'button', class: 'btn btn-danger', id: 'delete-display', onclick: remove }, t('displays.delete'))) : null);
  map.el.setAttribute('aria-describedby', 'map-hint');
  if (!editable) for (const el of form.elements) el.disabled = true;
  const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const v = formData(form);
    let [w, hh] = v.size.split('x').map(Number);
    if (v.orientation === 'portrait') [w, hh] = [hh, w];
    const body = { name: v.name, cluster_id: v.cluster_id, width: w, height: hh, fit: v.fit, tags: list(v.tags), languages: list(v.languages) };
    if (v.latitude !== '' && v.longitude !== '') {
      body.latitude = Number(v.latitude);
      body.longitude = Number(v.longitude);
    }
    save.disabled = true;
    try {
      const nd = await patch(`/displays/${encodeURIComponent(d.id)}`, body);
      heading.textContent = nd.name;
      announce(t('common.saved'), 'ok');
    } catch (err) {
      showError(form, err);
    } finally {
      save.disabled = false;
    }
  });
  async function remove() {
    if (!(await confirmAction({ title: t('displays.deleteTitle', { name: d.name }), text: t('displays.deleteText'), confirm: t('displays.delete'), danger: true }))) return;
    try {
      await del(`/displays/${encodeURIComponent(d.id)}`);
      announce(t('displays.deleted', { name: d.name }), 'ok');
      app.navigate('#/displays');
    } catch (err) {
      showError(form, err);
    }
  }
  root.append(h('p', {}, h('a', { href: '#/displays' }, t('displays.back'))),
    h('section', { 'aria-labelledby': 'display-live-h', class: 'card' }, h('h2', { id: 'display-live-h' }, t('displays.now')), live),
    form);
  heading.textContent = d.name;
  return events.on('display', (ev) => { if (ev && ev.id === d.id && !ev.deleted) paintLive(ev); });
}

export default {
  title: 'nav.displays',
  render(root, params, app) {
    return params.id ? renderOne(root, params.id, app) : renderList(root, app);
  },
};
