// A library item's page (#/library/ID): preview, what the probe found,
// the renditions made for each profile, processing jobs, tags, where the
// item is used, and delete when nothing uses it.
import { h, clear, announce } from '../lib/dom.js';
import { t, fmtNumber, fmtDate, fmtBytes } from '../lib/i18n.js';
import { get, post, del, errorText, showError } from '../lib/api.js';
import * as events from '../lib/events.js';
import { statusBadge, kindText, fmtETA } from './library.js';

function dl(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function table(caption, heads, rows) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, heads.map(([text, cls]) => h('th', { scope: 'col', class: cls }, text)))),
    h('tbody', {}, rows)));
}

const USE_LINKS = { playlist: '#/playlists/', schedule: '#/schedules/', item: '#/playlists' };

export default {
  title: 'nav.library',
  async render(root, params, app) {
    const id = params.id;
    const body = h('div', {});
    root.append(h('p', {}, h('a', { href: '#/library' }, t('library.back'))), body);

    async function paint() {
      const [m, usage, jobs] = await Promise.all([
        get('/media/' + encodeURIComponent(id)),
        get('/media/' + encodeURIComponent(id) + '/usage'),
        get('/jobs?media_id=' + encodeURIComponent(id)),
      ]);
      const probe = m.probe || {};
      const streams = probe.streams || [];
      const preview = m.kind === 'image'
        ? h('img', { class: 'item-preview', src: `/api/v1/media/${encodeURIComponent(m.id)}/original`, alt: m.filename })
        : m.kind === 'video'
          ? h('video', { class: 'item-preview', controls: true, preload: 'metadata', poster: m.poster_url || undefined, src: `/api/v1/media/${encodeURIComponent(m.id)}/original`, 'aria-label': m.filename })
          : h('audio', { controls: true, preload: 'metadata', src: `/api/v1/media/${encodeURIComponent(m.id)}/original`, 'aria-label': m.filename });
      const facts = dl([
        [t('library.kindLabel'), kindText(m.kind)],
        [t('library.statusLabel'), statusBadge(m)],
        m.error && [t('library.error'), m.error],
        [t('library.size'), fmtBytes(m.size)],
        m.width && [t('library.dimensions'), `${fmtNumber(m.width)} × ${fmtNumber(m.height)}`],
        m.duration_s && [t('library.duration'), t('library.seconds', { s: fmtNumber(m.duration_s, { maximumFractionDigits: 1 }) })],
        probe.container && [t('library.container'), probe.container],
        [t('library.contentType'), m.content_type],
        [t('library.added'), h('time', { datetime: m.created_at }, fmtDate(m.created_at))],
        [t('library.sha'), h('code', { class: 'mono' }, m.sha256)],
        [t('library.tags'), (m.tags || []).length ? m.tags.map((tg) => h('span', { class: 'badge tag' }, tg)) : t('library.noTags')],
      ]);
      const probeSection = streams.length
        ? table(t('library.probe'), [[t('library.stream')], [t('library.codec')], [t('library.dimensions')], [t('library.details')]],
          streams.map((st, i) => h('tr', {},
            h('td', {}, `${i} · ${st.type || ''}`), h('td', {}, st.codec || ''),
            h('td', {}, st.width ? `${fmtNumber(st.width)} × ${fmtNumber(st.height)}` : ''),
            h('td', {}, [st.avg_frame_rate && t('library.fps', { n: fmtNumber(st.avg_frame_rate, { maximumFractionDigits: 2 }) }), st.pixel_format,
              st.bitrate && t('library.kbps', { n: fmtNumber(Math.round(st.bitrate / 1000)) }),
              st.sample_rate && t('library.hz', { n: fmtNumber(st.sample_rate) }), st.channels && t('library.channels', { n: fmtNumber(st.channels) }),
              st.rotation && t('library.rotation', { n: fmtNumber(st.rotation) })].filter(Boolean).join(' · ')))))
        : h('p', { class: 'empty' }, m.kind === 'image' ? t('library.probeImage') : t('library.noProbe'));
      const rends = m.renditions.length
        ? table(t('library.renditions'), [[t('library.profile')], [t('library.dimensions')], [t('library.size'), 'num'], [t('library.file')]],
          m.renditions.map((r) => h('tr', { dataset: { profile: r.profile } },
            h('td', {}, r.profile), h('td', {}, `${fmtNumber(r.width)} × ${fmtNumber(r.height)}`),
            h('td', { class: 'num' }, fmtBytes(r.size)),
            h('td', {}, h('a', { href: r.url, target: '_blank', rel: 'noopener' }, t('library.open'), h('span', { class: 'visually-hidden' }, ` ${r.profile}`))))))
        : h('p', { class: 'empty' }, t('library.noRenditions'));
      const jobList = (jobs.jobs || []).length
        ? h('ul', { class: 'plain' }, jobs.jobs.map((j) => h('li', { dataset: { job: j.id } },
          `${j.kind} · ${t('library.job.' + j.status)}`,
          j.status === 'running' ? [' ', h('progress', { max: 100, value: Math.round(j.progress), 'aria-label': t('library.processingOf', { name: m.filename }) }),
            ' ', t('library.pct', { pct: fmtNumber(Math.round(j.progress)) }), j.eta_s > 0 ? ' · ' + fmtETA(j.eta_s) : ''] : '',
          j.error ? h('p', { class: 'hint' }, j.error) : '')))
        : h('p', { class: 'empty' }, t('library.noJobs'));
      const used = usage.used_by.length
        ? h('ul', { class: 'plain', id: 'item-usage' }, usage.used_by.map((u) => h('li', {},
          t('library.use.' + u.kind), ' ', h('a', { href: (USE_LINKS[u.kind] || '#/') + (u.kind === 'item' ? '' : encodeURIComponent(u.id)) }, u.name || u.id))))
        : h('p', { class: 'empty', id: 'item-usage' }, t('library.unused'));
      const actions = h('div', { class: 'actions' });
      if (app.canEdit()) {
        const delBtn = h('button', { type: 'button', class: 'btn btn-danger', id: 'item-delete', disabled: !usage.deletable,
          'aria-describedby': usage.deletable ? undefined : 'item-delete-why' }, t('library.deleteItem'));
        delBtn.onclick = async () => {
          if (!confirm(t('library.confirmDeleteOne', { name: m.filename }))) return;
          try {
            await del('/media/' + encodeURIComponent(m.id));
            announce(t('library.deleted', { name: m.filename }), 'ok');
            app.navigate('#/library');
          } catch (err) {
            showError(actions, err);
          }
        };
        actions.append(delBtn, usage.deletable ? '' : h('p', { class: 'hint', id: 'item-delete-why' }, t('library.deleteWhenUnused')));
        if (m.status === 'failed') {
          actions.append(h('button', { type: 'button', class: 'btn', onclick: async () => {
            try { await post('/media/' + encodeURIComponent(m.id) + '/retry'); paint(); } catch (err) { showError(actions, err); }
          } }, t('library.retry')));
        }
      }
      clear(body,
        h('h2', { id: 'item-name' }, m.filename),
        h('div', { class: 'item-top' }, h('div', { class: 'item-media' }, preview), h('div', {}, facts, actions)),
        h('section', { 'aria-labelledby': 'item-probe' }, h('h2', { id: 'item-probe' }, t('library.probe')), probeSection),
        h('section', { 'aria-labelledby': 'item-rends' }, h('h2', { id: 'item-rends' }, t('library.renditions')), rends),
        h('section', { 'aria-labelledby': 'item-jobs' }, h('h2', { id: 'item-jobs' }, t('library.jobs')), jobList),
        h('section', { 'aria-labelledby': 'item-used' }, h('h2', { id: 'item-used' }, t('library.usedBy')), used));
    }

    try {
      await paint();
    } catch (err) {
      body.append(h('p', { class: 'form-error', role: 'alert' }, errorText(err)));
      return undefined;
    }
    let pending = null;
    const later = () => { clearTimeout(pending); pending = setTimeout(() => paint().catch(() => {}), 300); };
    const offs = [
      events.on('media', (e) => { if (e.id === id || (e.ids || []).includes(id)) later(); }),
      events.on('job', (j) => { if (j.media_id === id) later(); }),
    ];
    return () => { clearTimeout(pending); offs.forEach((off) => off()); };
  },
};
