// The library: upload (drag and drop or a file picker, several files at
// once, resumable, a progress bar and a cancel button per file), search,
// filter and sort, pages of 100 items (a library of 10,000 stays fast),
// bulk actions on a selection (tag, untag, delete, add to a playlist), and
// each item's processing state live from the jobs and events API.
// #/library/ID is an item's page (pages/library-item.js).
import { h, clear, field, announce } from '../lib/dom.js';
import { t, fmtNumber, fmtDate, fmtBytes } from '../lib/i18n.js';
import { get, post, getAll, errorText, showError, csrfToken } from '../lib/api.js';
import * as events from '../lib/events.js';
import { Upload } from '../lib/tus.js';
import itemPage from './library-item.js';

const PAGE = 100;

export function statusBadge(m) {
  const kind = { ready: 'ok', processing: 'warn', failed: 'danger' }[m.status] || '';
  return h('span', { class: ['badge', kind && `badge-${kind}`], dataset: { status: m.status } }, t('library.status.' + m.status));
}

export function kindText(kind) { return t('library.kind.' + kind); }

// fmtETA says how long a job has left, in minutes and seconds.
export function fmtETA(s) {
  s = Math.max(0, Math.round(s));
  const m = Math.floor(s / 60);
  return m ? t('library.etaMin', { m: fmtNumber(m), s: fmtNumber(s % 60) }) : t('library.etaSec', { s: fmtNumber(s) });
}

export default {
  title: 'nav.library',
  async render(root, params, app) {
    if (params.id) return itemPage.render(root, params, app);
    const canEdit = app.canEdit();
    const state = { q: '', kind: '', status: '', tag: '', sort: '-created', items: [], total: 0, cursor: '', selected: new Set(), jobs: new Map() };
    const rows = new Map(); // media id → <tr>

    // ---- upload ----
    const uploads = h('ul', { class: 'uploads', 'aria-label': t('library.uploads') });
    const picker = h('input', { type: 'file', id: 'lib-files', name: 'files', multiple: true, class: 'visually-hidden',
      accept: 'image/*,video/*,audio/*', onchange: () => { addFiles(picker.files); picker.value = ''; } });
    const drop = h('div', { class: 'dropzone', id: 'dropzone', role: 'group', 'aria-labelledby': 'lib-drop-label' },
      h('p', { id: 'lib-drop-label' }, t('library.dropHere')),
      h('label', { for: 'lib-files', class: 'btn btn-primary' }, t('library.choose')), picker,
      h('p', { class: 'hint' }, t('library.resumableHint')));
    for (const ev of ['dragenter', 'dragover']) {
      drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add('dropzone-over'); });
    }
    drop.addEventListener('dragleave', () => drop.classList.remove('dropzone-over'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('dropzone-over');
      if (e.dataTransfer && e.dataTransfer.files) addFiles(e.dataTransfer.files);
    });

    function addFiles(files) {
      for (const file of files) uploadOne(file);
    }

    function uploadOne(file) {
      const bar = h('progress', { max: 100, value: 0, 'aria-label': t('library.progressOf', { name: file.name }) });
      const status = h('span', { class: 'upload-status', 'aria-live': 'polite' }, t('library.waiting'));
      const cancel = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': t('library.cancelOf', { name: file.name }) }, t('library.cancel'));
      const li = h('li', { class: 'upload', dataset: { name: file.name } }, h('span', { class: 'upload-name' }, file.name), bar, status, cancel);
      uploads.prepend(li);
      const up = new Upload(file, {
        csrf: csrfToken,
        onProgress(sent, total) {
          const pct = total ? Math.floor((sent / total) * 100) : 100;
          bar.value = pct;
          status.textContent = t('library.sent', { pct: fmtNumber(pct), sent: fmtBytes(sent), total: fmtBytes(total) });
        },
        onRetry(err, delay) { status.textContent = t('library.retrying', { s: fmtNumber(Math.round(delay / 1000)) }); li.dataset.state = 'retrying'; },
        onResume(offset, total) {
          li.dataset.resumedFrom = String(offset);
          li.dataset.state = 'uploading';
          if (offset > 0) status.textContent = t('library.resumed', { pct: fmtNumber(Math.floor((offset / total) * 100)) });
        },
      });
      li.dataset.state = 'uploading';
      cancel.onclick = () => { up.cancel(); };
      up.start().then((m) => {
        li.dataset.state = 'done';
        bar.value = 100;
        status.textContent = t('library.uploaded');
        cancel.remove();
        if (m) li.dataset.id = m.id;
        reload();
      }, (err) => {
        cancel.remove();
        if (err.code === 'cancelled') {
          li.dataset.state = 'cancelled';
          status.textContent = t('library.cancelled');
          return;
        }
        li.dataset.state = 'failed';
        status.textContent = errorText(err);
        status.setAttribute('role', 'alert');
      });
    }

    // ---- filters ----
    const tagSelect = h('select', { name: 'tag', id: 'lib-tag' }, h('option', { value: '' }, t('library.anyTag')));
    const search = h('input', { type: 'search', name: 'q', id: 'lib-q', maxlength: 200 });
    const opt = (pairs) => pairs.map(([v, text]) => h('option', { value: v }, text));
    const filters = h('form', { class: 'toolbar', role: 'search', onsubmit: (e) => { e.preventDefault(); reload(); } },
      h('div', { class: 'field' }, h('label', { for: 'lib-q' }, t('library.search')), search),
      h('div', { class: 'field' }, h('label', { for: 'lib-kind' }, t('library.kindLabel')),
        h('select', { name: 'kind', id: 'lib-kind' }, opt([['', t('library.anyKind')], ['image', kindText('image')], ['video', kindText('video')], ['audio', kindText('audio')]]))),
      h('div', { class: 'field' }, h('label', { for: 'lib-status' }, t('library.statusLabel')),
        h('select', { name: 'status', id: 'lib-status' }, opt([['', t('library.anyStatus')], ['ready', t('library.status.ready')], ['processing', t('library.status.processing')], ['failed', t('library.status.failed')]]))),
      h('div', { class: 'field' }, h('label', { for: 'lib-tag' }, t('library.tagLabel')), tagSelect),
      h('div', { class: 'field' }, h('label', { for: 'lib-sort' }, t('library.sortLabel')),
        h('select', { name: 'sort', id: 'lib-sort' }, opt([['-created', t('library.sort.newest')], ['created', t('library.sort.oldest')], ['name', t('library.sort.name')],
          ['-name', t('library.sort.nameDesc')], ['-size', t('library.sort.largest')], ['size', t('library.sort.smallest')]]))));
    let debounce = null;
    filters.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(reload, 250); });
    filters.addEventListener('change', () => { clearTimeout(debounce); reload(); });

    // ---- bulk actions ----
    const selCount = h('span', { id: 'lib-selected', 'aria-live': 'polite' });
    const tagInput = h('input', { type: 'text', name: 'tags', id: 'lib-bulk-tag', maxlength: 64 });
    const playlistSelect = h('select', { name: 'playlist_id', id: 'lib-bulk-playlist' });
    const bulkResult = h('div', { id: 'lib-bulk-result' });
    const bulkBtn = (label, id, fn, cls) => h('button', { type: 'button', class: ['btn', 'btn-small', cls], id, onclick: fn }, label);
    const bulk = h('form', { class: 'toolbar bulk', 'aria-label': t('library.bulk'), hidden: !canEdit, onsubmit: (e) => e.preventDefault() },
      selCount,
      h('div', { class: 'field' }, h('label', { for: 'lib-bulk-tag' }, t('library.tagsToSet')), tagInput),
      bulkBtn(t('library.tag'), 'lib-do-tag', () => runBulk('tag')),
      bulkBtn(t('library.untag'), 'lib-do-untag', () => runBulk('untag')),
      h('div', { class: 'field' }, h('label', { for: 'lib-bulk-playlist' }, t('library.playlist')), playlistSelect),
      bulkBtn(t('library.addToPlaylist'), 'lib-do-add', () => runBulk('add_to_playlist')),
      bulkBtn(t('library.delete'), 'lib-do-delete', () => runBulk('delete'), 'btn-danger'));

    async function runBulk(action) {
      const ids = [...state.selected];
      if (!ids.length) {
        clear(bulkResult, h('p', { class: 'form-error', role: 'alert' }, t('library.selectFirst')));
        return;
      }
      const body = { action, ids };
      if (action === 'tag' || action === 'untag') body.tags = tagInput.value.split(',').map((s) => s.trim()).filter(Boolean);
      if (action === 'add_to_playlist') body.playlist_id = playlistSelect.value;
      if (action === 'delete' && !confirm(t('library.confirmDelete', { n: fmtNumber(ids.length) }))) return;
      clear(bulkResult);
      try {
        const res = await post('/media/bulk', body);
        const failed = res.results.filter((r) => !r.ok);
        announce(t('library.bulkDone', { ok: fmtNumber(res.succeeded), failed: fmtNumber(res.failed) }), failed.length ? 'error' : 'ok');
        if (failed.length) {
          const names = new Map(state.items.map((m) => [m.id, m.filename]));
          clear(bulkResult, h('div', { class: 'form-error', role: 'alert' }, h('ul', { class: 'plain' }, failed.map((r) =>
            h('li', {}, `${names.get(r.id) || r.id}: ${r.error && r.error.message}`)))));
        }
        state.selected.clear();
        await Promise.all([reload(), loadTags()]);
      } catch (err) {
        showError(bulk, err);
      }
    }

    // ---- list ----
    const summary = h('p', { id: 'lib-summary', 'aria-live': 'polite' });
    const selectAll = h('input', { type: 'checkbox', id: 'lib-all', 'aria-label': t('library.selectAll'),
      onchange: () => { for (const m of state.items) (selectAll.checked ? state.selected.add(m.id) : state.selected.delete(m.id)); paintSelection(); } });
    const tbody = h('tbody', {});
    const more = h('button', { type: 'button', class: 'btn', id: 'lib-more', hidden: true, onclick: () => loadPage(false) }, t('library.more'));
    const table = h('div', { class: 'table-wrap' }, h('table', { class: 'table library' },
      h('caption', { class: 'visually-hidden' }, t('nav.library')),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, canEdit ? selectAll : h('span', { class: 'visually-hidden' }, t('library.select'))),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, t('library.preview'))),
        h('th', { scope: 'col' }, t('library.name')), h('th', { scope: 'col' }, t('library.kindLabel')),
        h('th', { scope: 'col' }, t('library.statusLabel')), h('th', { scope: 'col', class: 'num' }, t('library.size')),
        h('th', { scope: 'col' }, t('library.added')), h('th', { scope: 'col' }, t('library.tags')))),
      tbody));

    function paintSelection() {
      selCount.textContent = t('library.selectedN', { n: fmtNumber(state.selected.size) });
      for (const [id, tr] of rows) {
        const box = tr.querySelector('input[type=checkbox]');
        if (box) box.checked = state.selected.has(id);
      }
      selectAll.checked = state.items.length > 0 && state.items.every((m) => state.selected.has(m.id));
    }

    function progressCell(m) {
      const cell = h('td', { class: 'status-cell' }, statusBadge(m));
      const j = state.jobs.get(m.id);
      if (m.status === 'processing' && j && j.status === 'running') {
        const pct = Math.round(j.progress || 0);
        cell.append(' ', h('progress', { max: 100, value: pct, 'aria-label': t('library.processingOf', { name: m.filename }) }),
          h('span', { class: 'hint' }, ' ' + t('library.pct', { pct: fmtNumber(pct) }) + (j.eta_s > 0 ? ' · ' + fmtETA(j.eta_s) : '')));
      } else if (m.status === 'failed' && m.error) {
        cell.append(h('p', { class: 'hint' }, m.error));
      }
      return cell;
    }

    function row(m) {
      const label = t('library.selectOne', { name: m.filename });
      const tr = h('tr', { dataset: { id: m.id, status: m.status } },
        h('td', {}, canEdit ? h('input', { type: 'checkbox', 'aria-label': label, checked: state.selected.has(m.id),
          onchange: (e) => { (e.target.checked ? state.selected.add(m.id) : state.selected.delete(m.id)); paintSelection(); } }) : ''),
        h('td', { class: 'thumb-cell' }, m.thumbnail_url || m.poster_url
          ? h('img', { class: 'thumb', src: m.thumbnail_url || m.poster_url, alt: '', loading: 'lazy', width: 64, height: 36 })
          : h('span', { class: 'thumb thumb-none', 'aria-hidden': 'true' }, kindText(m.kind).slice(0, 1))),
        h('td', {}, h('a', { href: `#/library/${encodeURIComponent(m.id)}` }, m.filename)),
        h('td', {}, kindText(m.kind)),
        progressCell(m),
        h('td', { class: 'num' }, fmtBytes(m.size)),
        h('td', {}, h('time', { datetime: m.created_at }, fmtDate(m.created_at))),
        h('td', {}, (m.tags || []).map((tg) => h('span', { class: 'badge tag' }, tg))));
      rows.set(m.id, tr);
      return tr;
    }

    function query() {
      const q = new URLSearchParams({ limit: String(PAGE), sort: filters.sort.value });
      for (const k of ['q', 'kind', 'status', 'tag']) if (filters[k].value) q.set(k, filters[k].value);
      return q;
    }

    let generation = 0;
    let loading = 0;
    const touched = new Set(); // items an event named while a page was loading
    async function loadPage(first) {
      loading += 1;
      try {
        await loadPageNow(first);
      } finally {
        loading -= 1;
      }
      if (!loading) {
        const ids = [...touched];
        touched.clear();
        ids.forEach(refreshItem);
      }
    }
    async function loadPageNow(first) {
      const gen = first ? ++generation : generation;
      const q = query();
      if (!first && state.cursor) q.set('cursor', state.cursor);
      const page = await get('/media?' + q.toString());
      if (gen !== generation) return; // a newer search replaced this one
      if (first) {
        state.items = [];
        rows.clear();
        tbody.replaceChildren();
      }
      state.items.push(...page.media);
      state.total = page.total;
      state.cursor = page.next_cursor;
      tbody.append(...page.media.map(row));
      more.hidden = !state.cursor;
      summary.textContent = state.total
        ? t('library.showing', { shown: fmtNumber(state.items.length), total: fmtNumber(state.total) })
        : t('library.none');
      paintSelection();
    }
    const reload = () => loadPage(true).catch((err) => { clear(summary, h('span', { class: 'form-error', role: 'alert' }, errorText(err))); });

    async function loadTags() {
      const { tags } = await get('/media/tags');
      const cur = tagSelect.value;
      clear(tagSelect, h('option', { value: '' }, t('library.anyTag')),
        tags.map((x) => h('option', { value: x.tag, selected: x.tag === cur }, `${x.tag} (${fmtNumber(x.count)})`)));
    }

    async function loadPlaylists() {
      if (!canEdit) return;
      const list = await getAll('/playlists', 'playlists', 1000);
      clear(playlistSelect, list.length ? list.map((p) => h('option', { value: p.id }, p.name)) : h('option', { value: '' }, t('library.noPlaylists')));
    }

    // ---- live processing state ----
    let reloadLater = null;
    async function refreshItem(id) {
      if (loading) {
        touched.add(id);
        return;
      }
      const tr = rows.get(id);
      if (!tr) {
        // New to this page (uploaded elsewhere): show it if on the first page.
        if (state.items.length <= PAGE) { clearTimeout(reloadLater); reloadLater = setTimeout(reload, 500); }
        return;
      }
      try {
        const m = await get('/media/' + encodeURIComponent(id));
        const i = state.items.findIndex((x) => x.id === id);
        const old = i >= 0 ? state.items[i] : null;
        const same = (a, b) => a && b && a.status === b.status && a.error === b.error && a.filename === b.filename &&
          (a.tags || []).join('\n') === (b.tags || []).join('\n') && a.thumbnail_url === b.thumbnail_url && a.poster_url === b.poster_url;
        if (i >= 0) state.items[i] = m;
        if (same(old, m) && !state.jobs.has(id)) return; // nothing to show anew (keeps the focus)
        const fresh = row(m);
        if (rows.get(id) === fresh && tr.isConnected) tr.replaceWith(fresh);
      } catch { /* deleted meanwhile */ }
    }
    const offs = [
      events.on('media', (e) => {
        if (e.status === 'deleted') {
          const tr = rows.get(e.id);
          if (tr) tr.remove();
        } else if (e.id) refreshItem(e.id);
        else if (e.ids) e.ids.forEach(refreshItem);
      }),
      events.on('job', (j) => {
        if (!j.media_id) return;
        state.jobs.set(j.media_id, j);
        const m = state.items.find((x) => x.id === j.media_id);
        const tr = rows.get(j.media_id);
        if (m && tr) {
          if (j.status === 'running') tr.querySelector('.status-cell').replaceWith(progressCell(m));
          else refreshItem(m.id);
        }
      }),
    ];

    // Events are the doorbell, the server is the truth: items still
    // processing are looked at again now and then, in case an event was
    // missed (a reconnecting stream, a busy server).
    const poll = setInterval(() => {
      if (loading) return;
      state.items.filter((m) => m.status === 'processing').slice(0, 20).forEach((m) => refreshItem(m.id));
    }, 5000);

    root.append(
      canEdit ? h('section', { 'aria-labelledby': 'lib-up' }, h('h2', { id: 'lib-up' }, t('library.upload')), drop, uploads) : '',
      h('section', { 'aria-labelledby': 'lib-list' }, h('h2', { id: 'lib-list' }, t('library.items')), filters, bulk, bulkResult, summary, table, more));
    await Promise.all([loadPage(true), loadTags(), loadPlaylists()]);
    // Running jobs' progress, for items already processing.
    get('/jobs?limit=100').then((r) => {
      for (const j of (r.jobs || []).reverse()) if (j.status === 'running' || j.status === 'queued') state.jobs.set(j.media_id, j);
    }).catch(() => {});
    return () => { clearTimeout(debounce); clearTimeout(reloadLater); clearInterval(poll); offs.forEach((off) => off()); };
  },
};
