// Playlists: the list and a new-playlist form; #/playlists/ID edits one:
// entries (media from the library, nested playlists), reorder by drag and
// drop or from the keyboard (Alt+↑/↓ on an entry, or its move buttons),
// durations, validity dates, shuffle and transition, the total length, and
// a preview that plays the saved playlist with the player's own renderer
// at the chosen display's resolution (pages/preview.js).
import { h, clear, field, announce, formData } from '../lib/dom.js';
import { t, fmtNumber } from '../lib/i18n.js';
import { get, post, put, del, getAll, errorText, showError, clearErrors } from '../lib/api.js';
import { previewPanel } from './preview.js';

const DEFAULT_S = 10; // an image's duration when none is set (playlists.DefaultDurationS)

export function fmtDuration(s) {
  s = Math.round(s);
  const h_ = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (n) => String(n).padStart(2, '0');
  return h_ ? `${h_}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}

async function listPage(root, app) {
  const list = h('div', {});
  const form = h('form', { class: 'card form', id: 'pl-new', hidden: !app.canEdit() },
    h('h2', {}, t('playlists.new')),
    field({ label: t('playlists.name'), name: 'name', required: true, maxlength: 200 }),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, t('playlists.create'))));
  form.onsubmit = async (e) => {
    e.preventDefault();
    clearErrors(form);
    try {
      const p = await post('/playlists', { name: form.name.value, items: [] });
      app.navigate('#/playlists/' + encodeURIComponent(p.id));
    } catch (err) {
      showError(form, err);
    }
  };
  root.append(form, h('section', { 'aria-labelledby': 'pl-all' }, h('h2', { id: 'pl-all' }, t('playlists.all')), list));
  const pls = await getAll('/playlists', 'playlists', 1000);
  if (!pls.length) {
    list.append(h('p', { class: 'empty' }, t('playlists.none')));
    return;
  }
  list.append(h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
    h('caption', { class: 'visually-hidden' }, t('playlists.all')),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('playlists.name')), h('th', { scope: 'col', class: 'num' }, t('playlists.entries')),
      h('th', { scope: 'col' }, t('playlists.options')))),
    h('tbody', {}, pls.map((p) => h('tr', { dataset: { id: p.id } },
      h('td', {}, h('a', { href: '#/playlists/' + encodeURIComponent(p.id) }, p.name)),
      h('td', { class: 'num' }, fmtNumber(p.items.length)),
      h('td', {}, [p.shuffle ? t('playlists.shuffled') : '', p.transition.kind === 'fade' ? t('playlists.fades') : ''].filter(Boolean).join(' · ')))))))); 
}

export default {
  title: 'nav.playlists',
  async render(root, params, app) {
    if (!params.id) return listPage(root, app);
    const id = params.id;
    const canEdit = app.canEdit();
    let pl = await get('/playlists/' + encodeURIComponent(id));
    const media = new Map(); // id → media item
    const items = new Map(); // item id → item document
    const others = (await getAll('/playlists', 'playlists', 1000)).filter((p) => p.id !== id);
    const names = new Map(others.map((p) => [p.id, p.name]));
    // entries being edited: { media_id | item_id | playlist_id, duration_s, valid_from, valid_until }
    let entries = [];

    async function loadRefs(list) {
      const need = list.filter((e) => e.media_id && !media.has(e.media_id)).map((e) => e.media_id);
      await Promise.all(need.map(async (mid) => { try { media.set(mid, await get('/media/' + encodeURIComponent(mid))); } catch { /* deleted */ } }));
      const needItems = list.filter((e) => e.item_id && !items.has(e.item_id)).map((e) => e.item_id);
      await Promise.all(needItems.map(async (iid) => {
        try {
          const it = await get('/items/' + encodeURIComponent(iid));
          items.set(iid, it);
          const v = (it.variants || {})[it.default_lang || ''] || Object.values(it.variants || {})[0];
          if (v && v.media_id && !media.has(v.media_id)) media.set(v.media_id, await get('/media/' + encodeURIComponent(v.media_id)));
        } catch { /* deleted */ }
      }));
    }

    function fromPlaylist(p) {
      return p.items.map((e) => {
        const out = { ...e };
        const it = e.item_id && items.get(e.item_id);
        if (it) {
          out.valid_from = it.valid_from || '';
          out.valid_until = it.valid_until || '';
          const v = (it.variants || {})[it.default_lang || ''] || Object.values(it.variants || {})[0];
          if (v && v.media_id) out.wraps = v.media_id; // an item made to give a media file its dates
        }
        return out;
      });
    }
    await loadRefs(pl.items);
    entries = fromPlaylist(pl);

    // ---- the form ----
    const form = h('form', { class: 'form', id: 'pl-form', onsubmit: (e) => { e.preventDefault(); save(); } });
    const nameField = field({ label: t('playlists.name'), name: 'name', value: pl.name, required: true, maxlength: 200 });
    const shuffle = field({ label: t('playlists.shuffle'), name: 'shuffle', type: 'checkbox', value: pl.shuffle, hint: t('playlists.shuffleHint') });
    const transition = field({ label: t('playlists.transition'), name: 'transition', value: pl.transition.kind,
      options: [['cut', t('playlists.cut')], ['fade', t('playlists.fade')]] });
    const fadeMs = field({ label: t('playlists.fadeMs'), name: 'transition_ms', type: 'number', min: 0, max: 10000, step: 50, value: pl.transition.duration_ms || 500 });
    const total = h('p', { id: 'pl-total', 'aria-live': 'polite' });
    const warnings = h('ul', { class: 'plain warnings', id: 'pl-warnings' });
    const ol = h('ol', { class: 'entries', id: 'pl-entries', 'aria-label': t('playlists.entries') });
    const status = h('p', { class: 'visually-hidden', 'aria-live': 'assertive', id: 'pl-live' });

    function entryName(e) {
      if (e.playlist_id) return names.get(e.playlist_id) || e.playlist_id;
      const mid = e.media_id || e.wraps;
      if (mid && media.has(mid)) return media.get(mid).filename;
      const it = e.item_id && items.get(e.item_id);
      return (it && (it.name || it.kind)) || e.item_id || e.media_id;
    }

    function entryMedia(e) { return media.get(e.media_id || e.wraps); }

    function seconds(e) {
      if (e.duration_s > 0) return e.duration_s;
      const m = entryMedia(e);
      if (m && (m.kind === 'video' || m.kind === 'audio')) return m.duration_s || 0;
      return e.playlist_id ? 0 : DEFAULT_S;
    }

    function move(i, to, focus) {
      if (to < 0 || to >= entries.length || to === i) return;
      const [e] = entries.splice(i, 1);
      entries.splice(to, 0, e);
      paint();
      status.textContent = t('playlists.moved', { name: entryName(e), pos: fmtNumber(to + 1), n: fmtNumber(entries.length) });
      if (focus) ol.children[to].querySelector('.handle').focus();
    }

    let dragFrom = -1;
    function entryRow(e, i) {
      const m = entryMedia(e);
      const nm = entryName(e);
      const handle = h('button', { type: 'button', class: 'btn btn-small handle', 'aria-label': t('playlists.handle', { name: nm, pos: fmtNumber(i + 1) }),
        'aria-describedby': 'pl-keys', disabled: !canEdit }, '⠿');
      handle.addEventListener('keydown', (ev) => {
        if (!ev.altKey && !ev.ctrlKey) return;
        if (ev.key === 'ArrowUp') { ev.preventDefault(); move(i, i - 1, true); }
        if (ev.key === 'ArrowDown') { ev.preventDefault(); move(i, i + 1, true); }
      });
      const dur = h('input', { type: 'number', min: 0, max: 86400, step: 1, value: e.duration_s || '', placeholder: String(Math.round(seconds({ ...e, duration_s: 0 })) || ''),
        'aria-label': t('playlists.durationOf', { name: nm }), disabled: !canEdit, class: 'num-input',
        oninput: (ev) => { e.duration_s = Number(ev.target.value) || 0; paintTotal(); } });
      const dateIn = (key, label) => h('input', { type: 'date', value: e[key] || '', 'aria-label': t(label, { name: nm }), disabled: !canEdit || !!e.playlist_id,
        onchange: (ev) => { e[key] = ev.target.value; paintTotal(); } });
      const li = h('li', { class: 'entry', draggable: canEdit ? 'true' : 'false', dataset: { index: String(i), media: e.media_id || e.wraps || '', playlist: e.playlist_id || '' } },
        handle,
        m && (m.thumbnail_url || m.poster_url) ? h('img', { class: 'thumb', src: m.thumbnail_url || m.poster_url, alt: '' }) : h('span', { class: 'thumb thumb-none', 'aria-hidden': 'true' }, e.playlist_id ? '↻' : '?'),
        h('span', { class: 'entry-name' }, nm, ' ', h('span', { class: 'hint' }, e.playlist_id ? t('playlists.nested') : m ? t('library.kind.' + m.kind) : '')),
        h('label', { class: 'entry-field' }, h('span', { class: 'hint' }, t('playlists.seconds')), dur),
        h('span', { class: 'entry-field' }, h('span', { class: 'hint' }, t('playlists.validity')), dateIn('valid_from', 'playlists.validFromOf'), '–', dateIn('valid_until', 'playlists.validUntilOf')),
        h('span', { class: 'entry-tools' },
          h('button', { type: 'button', class: 'btn btn-small', disabled: !canEdit || i === 0, 'aria-label': t('playlists.upOf', { name: nm }), onclick: () => move(i, i - 1, false) }, '↑'),
          h('button', { type: 'button', class: 'btn btn-small', disabled: !canEdit || i === entries.length - 1, 'aria-label': t('playlists.downOf', { name: nm }), onclick: () => move(i, i + 1, false) }, '↓'),
          h('button', { type: 'button', class: 'btn btn-small btn-danger', disabled: !canEdit, 'aria-label': t('playlists.removeOf', { name: nm }),
            onclick: () => { entries.splice(i, 1); paint(); status.textContent = t('playlists.removed', { name: nm }); } }, '✕')));
      li.addEventListener('dragstart', (ev) => { dragFrom = i; ev.dataTransfer.effectAllowed = 'move'; ev.dataTransfer.setData('text/plain', String(i)); li.classList.add('dragging'); });
      li.addEventListener('dragend', () => li.classList.remove('dragging'));
      li.addEventListener('dragover', (ev) => { if (dragFrom >= 0) { ev.preventDefault(); li.classList.add('drop-target'); } });
      li.addEventListener('dragleave', () => li.classList.remove('drop-target'));
      li.addEventListener('drop', (ev) => { ev.preventDefault(); const from = dragFrom; dragFrom = -1; move(from, i, false); });
      return li;
    }

    function paintTotal() {
      const sum = entries.reduce((a, e) => a + seconds(e), 0);
      const nested = entries.some((e) => e.playlist_id);
      total.textContent = t(nested ? 'playlists.totalNested' : 'playlists.total', { d: fmtDuration(sum), n: fmtNumber(entries.length) });
      const warn = [];
      if (!entries.length) warn.push(t('playlists.warnEmpty'));
      const today = new Date().toISOString().slice(0, 10);
      for (const e of entries) {
        const m = entryMedia(e);
        const nm = entryName(e);
        if (m && m.status !== 'ready') warn.push(t('playlists.warnNotReady', { name: nm, status: t('library.status.' + m.status) }));
        if (e.valid_from && e.valid_until && e.valid_from > e.valid_until) warn.push(t('playlists.warnDates', { name: nm }));
        else if (e.valid_until && e.valid_until < today) warn.push(t('playlists.warnExpired', { name: nm }));
        if ((e.media_id || e.wraps) && !m) warn.push(t('playlists.warnMissing', { name: nm }));
      }
      clear(warnings, warn.map((w) => h('li', { class: 'badge badge-warn' }, w)));
    }

    function paint() {
      clear(ol, entries.length ? entries.map(entryRow) : h('li', { class: 'empty' }, t('playlists.noEntries')));
      paintTotal();
    }

    // ---- adding entries ----
    const pickResults = h('ul', { class: 'plain picker', id: 'pl-pick-results', 'aria-live': 'polite' });
    const pickQ = h('input', { type: 'search', id: 'pl-pick-q', name: 'pick_q', maxlength: 200 });
    let pickTimer = null;
    async function pick() {
      const q = new URLSearchParams({ limit: '20', sort: '-created' });
      if (pickQ.value.trim()) q.set('q', pickQ.value.trim());
      const page = await get('/media?' + q.toString());
      clear(pickResults, page.media.length ? page.media.map((m) => {
        media.set(m.id, m);
        return h('li', { class: 'pick' },
          m.thumbnail_url ? h('img', { class: 'thumb', src: m.thumbnail_url, alt: '' }) : h('span', { class: 'thumb thumb-none', 'aria-hidden': 'true' }, '?'),
          h('span', {}, m.filename, ' ', h('span', { class: 'hint' }, t('library.kind.' + m.kind))),
          h('button', { type: 'button', class: 'btn btn-small', dataset: { add: m.id }, 'aria-label': t('playlists.addOf', { name: m.filename }),
            onclick: () => { entries.push({ media_id: m.id, duration_s: 0 }); paint(); status.textContent = t('playlists.added', { name: m.filename }); } }, t('playlists.add')));
      }) : h('li', { class: 'empty' }, t('library.none')));
    }
    pickQ.addEventListener('input', () => { clearTimeout(pickTimer); pickTimer = setTimeout(() => pick().catch(() => {}), 250); });
    const nestSelect = h('select', { id: 'pl-nest', name: 'nest' }, others.length ? others.map((p) => h('option', { value: p.id }, p.name)) : h('option', { value: '' }, t('playlists.noOthers')));
    const adder = h('div', { class: 'card', hidden: !canEdit },
      h('h3', {}, t('playlists.addMedia')),
      h('div', { class: 'field' }, h('label', { for: 'pl-pick-q' }, t('playlists.searchLibrary')), pickQ), pickResults,
      h('h3', {}, t('playlists.addNested')),
      h('div', { class: 'row' }, h('div', { class: 'field' }, h('label', { for: 'pl-nest' }, t('playlists.playlist')), nestSelect),
        h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn', id: 'pl-add-nested', disabled: !others.length,
          onclick: () => { if (!nestSelect.value) return; entries.push({ playlist_id: nestSelect.value }); paint(); } }, t('playlists.addPlaylist')))));

    // ---- save ----
    async function save() {
      clearErrors(form);
      const f = formData(form);
      try {
        const out = [];
        for (const e of entries) {
          if (e.playlist_id) { out.push({ playlist_id: e.playlist_id }); continue; }
          const mid = e.media_id || e.wraps;
          const dated = e.valid_from || e.valid_until;
          if (mid && (dated || e.wraps)) {
            // Validity dates belong to an item: make one for the file (or
            // update the one made before).
            const m = media.get(mid);
            const doc = { kind: m ? m.kind : 'image', name: m ? m.filename : '', variants: { '': { media_id: mid } }, default_lang: '',
              valid_from: e.valid_from || undefined, valid_until: e.valid_until || undefined };
            if (e.item_id) {
              const it = await put('/items/' + encodeURIComponent(e.item_id), doc);
              items.set(it.id, it);
              out.push({ item_id: e.item_id, duration_s: e.duration_s || undefined });
            } else {
              const it = await post('/items', doc);
              items.set(it.id, it);
              e.item_id = it.id;
              e.wraps = mid;
              delete e.media_id;
              out.push({ item_id: it.id, duration_s: e.duration_s || undefined });
            }
            continue;
          }
          if (e.item_id) { out.push({ item_id: e.item_id, duration_s: e.duration_s || undefined }); continue; }
          out.push({ media_id: e.media_id, duration_s: e.duration_s || undefined });
        }
        pl = await put('/playlists/' + encodeURIComponent(id), {
          name: f.name, items: out, shuffle: !!f.shuffle,
          transition: { kind: f.transition, duration_ms: f.transition === 'fade' ? Number(f.transition_ms) || 0 : 0 },
        });
        await loadRefs(pl.items);
        entries = fromPlaylist(pl);
        paint();
        announce(t('playlists.saved', { name: pl.name }), 'ok');
        preview.reload();
      } catch (err) {
        showError(form, err);
      }
    }

    const delBtn = h('button', { type: 'button', class: 'btn btn-danger', id: 'pl-delete', hidden: !canEdit }, t('playlists.delete'));
    delBtn.onclick = async () => {
      if (!confirm(t('playlists.confirmDelete', { name: pl.name }))) return;
      try {
        await del('/playlists/' + encodeURIComponent(id));
        app.navigate('#/playlists');
      } catch (err) {
        showError(form, err);
      }
    };

    form.append(
      h('div', { class: 'row' }, nameField, transition, fadeMs), shuffle,
      h('h2', { id: 'pl-entries-h' }, t('playlists.entries')),
      h('p', { class: 'hint', id: 'pl-keys' }, t('playlists.keys')),
      total, warnings, ol, status,
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'pl-save', hidden: !canEdit }, t('playlists.save')), delBtn));
    const preview = await previewPanel({ playlist: id });
    root.append(h('p', {}, h('a', { href: '#/playlists' }, t('playlists.back'))),
      h('h2', { id: 'pl-name' }, pl.name),
      h('div', { class: 'editor' }, h('div', {}, form, adder), preview.el));
    paint();
    if (canEdit) pick().catch((err) => pickResults.append(h('li', { class: 'form-error' }, errorText(err))));
    return () => { clearTimeout(pickTimer); preview.stop(); };
  },
};
