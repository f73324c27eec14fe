// Clusters: groups of displays that share a time zone, operating hours
// and public holidays. The list, a new cluster, and one cluster's
// settings (#/clusters/ID).
import { h, clear, field, formData, announce } from '../lib/dom.js';
import { t, fmtNumber, fmtDate } from '../lib/i18n.js';
import { post, put, del, get, getAll, showError, clearErrors } from '../lib/api.js';
import { confirmAction } from '../lib/dialog.js';

const DEFAULT_TZ = 'Asia/Ho_Chi_Minh';

function zones() {
  try {
    const z = Intl.supportedValuesOf('timeZone');
    return z.includes(DEFAULT_TZ) ? z : [DEFAULT_TZ, ...z];
  } catch {
    return [DEFAULT_TZ, 'Asia/Bangkok', 'UTC'];
  }
}

function hoursText(hours) {
  return (hours || []).map((w) => (w.start === '00:00' && w.end === '00:00' ? t('clusters.allDay') : `${w.start}–${w.end}`)).join(', ');
}

// windowsEditor edits a list of [start, end) windows; read() returns them.
function windowsEditor(prefix, windows, legend) {
  const list = h('ul', { class: 'windows' });
  let n = 0;
  function add(w = { start: '07:00', end: '22:00' }) {
    n += 1;
    const i = n;
    const li = h('li', { 'data-window': '' },
      field({ label: t('clusters.from'), name: `${prefix}-start-${i}`, type: 'time', value: w.start }),
      field({ label: t('clusters.to'), name: `${prefix}-end-${i}`, type: 'time', value: w.end }),
      h('button', { type: 'button', class: 'btn btn-small', 'aria-label': t('clusters.removeWindowN', { n: i }), onclick: () => li.remove() }, t('clusters.remove')));
    list.append(li);
  }
  (windows || []).forEach((w) => add(w));
  const el = h('fieldset', { class: 'fieldset' }, h('legend', {}, legend), list,
    h('button', { type: 'button', class: 'btn btn-small', 'data-add': prefix, onclick: () => add() }, t('clusters.addWindow')));
  return {
    el,
    read: () => [...list.querySelectorAll('li')].map((li) => {
      const [s, e] = li.querySelectorAll('input');
      return { start: s.value, end: e.value };
    }).filter((w) => w.start && w.end),
  };
}

function holidaysEditor(holidays) {
  const list = h('ul', { class: 'windows' });
  let n = 0;
  function add(hd = { date: '', name: '', hours: [] }) {
    n += 1;
    const i = n;
    const w = (hd.hours || [])[0] || { start: '', end: '' };
    const li = h('li', { 'data-holiday': '' },
      field({ label: t('clusters.date'), name: `hol-date-${i}`, type: 'date', value: hd.date }),
      field({ label: t('clusters.holidayName'), name: `hol-name-${i}`, value: hd.name || '' }),
      field({ label: t('clusters.from'), name: `hol-start-${i}`, type: 'time', value: w.start }),
      field({ label: t('clusters.to'), name: `hol-end-${i}`, type: 'time', value: w.end }),
      h('button', { type: 'button', class: 'btn btn-small', 'aria-label': t('clusters.removeHolidayN', { n: i }), onclick: () => li.remove() }, t('clusters.remove')));
    list.append(li);
  }
  (holidays || []).forEach((hd) => add(hd));
  const el = h('fieldset', { class: 'fieldset' }, h('legend', {}, t('clusters.holidays')),
    h('p', { class: 'hint' }, t('clusters.holidaysHint')), list,
    h('button', { type: 'button', class: 'btn btn-small', 'data-add': 'holiday', onclick: () => add() }, t('clusters.addHoliday')));
  return {
    el,
    read: () => [...list.querySelectorAll('li')].map((li) => {
      const [date, name, s, e] = li.querySelectorAll('input');
      const out = { date: date.value, name: name.value.trim() };
      if (s.value && e.value) out.hours = [{ start: s.value, end: e.value }];
      return out;
    }).filter((x) => x.date),
  };
}

// clusterForm edits a cluster (c null: a new one); save(body) stores it.
function clusterForm(c, save, extra) {
  const hours = windowsEditor('hours', c ? c.hours : [{ start: '07:00', end: '22:00' }], t('clusters.hours'));
  const hol = holidaysEditor(c ? c.holidays : []);
  const btn = h('button', { type: 'submit', class: 'btn btn-primary' }, c ? t('common.save') : t('clusters.create'));
  const form = h('form', { class: 'card form', id: c ? 'cluster-form' : 'new-cluster', novalidate: true, 'aria-labelledby': c ? 'cluster-form-h' : 'new-cluster-h' },
    h('h2', { id: c ? 'cluster-form-h' : 'new-cluster-h' }, c ? t('clusters.settings') : t('clusters.newTitle')),
    h('div', { class: 'row' },
      field({ label: t('clusters.name'), name: 'name', required: true, value: c ? c.name : '' }),
      field({ label: t('clusters.location'), name: 'location', value: c ? c.location : '' }),
      field({ label: t('clusters.timezone'), name: 'timezone', options: zones().map((z) => [z, z]), value: c ? c.timezone : DEFAULT_TZ, hint: t('clusters.timezoneHint') })),
    h('div', { class: 'row' },
      field({ label: t('clusters.latitude'), name: 'latitude', type: 'number', step: 'any', min: -90, max: 90, value: c && c.latitude != null ? c.latitude : '' }),
      field({ label: t('clusters.longitude'), name: 'longitude', type: 'number', step: 'any', min: -180, max: 180, value: c && c.longitude != null ? c.longitude : '' })),
    hours.el, hol.el,
    h('div', { class: 'actions' }, btn, extra));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const v = formData(form);
    const body = { name: v.name, location: v.location, timezone: v.timezone, hours: hours.read(), holidays: hol.read() };
    if (v.latitude !== '' && v.longitude !== '') { body.latitude = Number(v.latitude); body.longitude = Number(v.longitude); }
    btn.disabled = true;
    try {
      await save(body, form);
    } catch (err) {
      showError(form, err);
    } finally {
      btn.disabled = false;
    }
  });
  return form;
}

async function renderList(root, app) {
  const clusters = await getAll('/clusters', 'clusters');
  const box = h('div', {});
  function paint() {
    if (!clusters.length) {
      clear(box, h('p', { class: 'empty' }, t('clusters.none')));
      return;
    }
    clear(box, h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'clusters' },
      h('caption', { class: 'visually-hidden' }, t('clusters.listTitle')),
      h('thead', {}, h('tr', {}, ['clusters.name', 'clusters.timezone', 'clusters.hours', 'clusters.holidays', 'clusters.displays'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, clusters.sort((a, b) => a.name.localeCompare(b.name)).map((c) => h('tr', { 'data-cluster': c.id },
        h('td', {}, h('a', { href: `#/clusters/${encodeURIComponent(c.id)}` }, c.name)),
        h('td', {}, c.timezone),
        h('td', {}, hoursText(c.hours)),
        h('td', {}, fmtNumber((c.holidays || []).length)),
        h('td', {}, fmtNumber((c.display_ids || []).length))))))));
  }
  paint();
  root.append(h('section', { 'aria-labelledby': 'clusters-h' }, h('h2', { id: 'clusters-h' }, t('clusters.listTitle')), box));
  if (app.canEdit()) {
    root.append(clusterForm(null, async (body, form) => {
      const c = await post('/clusters', body);
      clusters.push(c);
      paint();
      form.reset();
      announce(t('clusters.created', { name: c.name }), 'ok');
    }));
  }
}

async function renderOne(root, id, app) {
  const [c, displays] = await Promise.all([get(`/clusters/${encodeURIComponent(id)}`), getAll('/displays', 'displays')]);
  document.getElementById('page-title').textContent = c.name;
  const members = displays.filter((d) => d.cluster_id === c.id);
  const remove = h('button', { type: 'button', class: 'btn btn-danger', id: 'delete-cluster' }, t('clusters.delete'));
  const form = clusterForm(c, async (body) => {
    const nc = await put(`/clusters/${encodeURIComponent(c.id)}`, body);
    document.getElementById('page-title').textContent = nc.name;
    announce(t('common.saved'), 'ok');
  }, app.canEdit() ? remove : null);
  remove.addEventListener('click', async () => {
    if (!(await confirmAction({ title: t('clusters.deleteTitle', { name: c.name }), text: t('clusters.deleteText'), confirm: t('clusters.delete'), danger: true }))) return;
    try {
      await del(`/clusters/${encodeURIComponent(c.id)}`);
      app.navigate('#/clusters');
    } catch (err) {
      showError(form, err);
    }
  });
  if (!app.canEdit()) for (const el of form.elements) el.disabled = true;
  // "Now" in the cluster's own zone, so nobody has to convert.
  const now = h('p', { class: 'hint', id: 'cluster-now' }, t('clusters.localNow', { time: fmtDate(new Date(), { timeZone: c.timezone, zone: true }) }));
  root.append(h('p', {}, h('a', { href: '#/clusters' }, t('clusters.back'))), now, form,
    h('section', { 'aria-labelledby': 'members-h' }, h('h2', { id: 'members-h' }, t('clusters.displays')),
      members.length ? h('ul', {}, members.map((d) => h('li', {}, h('a', { href: `#/displays/${encodeURIComponent(d.id)}` }, d.name))))
        : h('p', { class: 'empty' }, t('clusters.noDisplays'))));
}

export default {
  title: 'nav.clusters',
  render(root, params, app) {
    return params.id ? renderOne(root, params.id, app) : renderList(root, app);
  },
};
