// preview.js: a preview panel for the playlists and layouts pages. It is a
// frame holding the player's own renderer page (/renderer/preview, the
// files a player embeds, served by the server), laid out at the chosen
// display's resolution and scaled down to fit: what it plays is what that
// display would play (its renditions, fit, background and time zone).
import { h, clear } from '../lib/dom.js';
import { t, fmtNumber } from '../lib/i18n.js';
import { getAll, errorText } from '../lib/api.js';

// previewPanel({ playlist } | { layout, zones: {zone: playlist} })
// → { el, reload(), stop(), setContent(spec), setDisplay(id) }.
export async function previewPanel(spec) {
  let content = spec;
  const displays = await getAll('/displays', 'displays', 1000).catch(() => []);
  const select = h('select', { id: 'pv-display', name: 'preview_display' },
    displays.length ? displays.map((d) => h('option', { value: d.id }, `${d.name} (${fmtNumber(d.width)} × ${fmtNumber(d.height)})`))
      : h('option', { value: '' }, t('preview.noDisplays')));
  const stage = h('div', { class: 'preview-stage', id: 'pv-stage' });
  const note = h('p', { class: 'hint', id: 'pv-note' });
  const el = h('section', { class: 'card preview', 'aria-labelledby': 'pv-h' },
    h('h2', { id: 'pv-h' }, t('preview.title')),
    h('div', { class: 'field' }, h('label', { for: 'pv-display' }, t('preview.display')), select),
    stage, note,
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-small', id: 'pv-reload', onclick: () => reload() }, t('preview.restart'))),
    h('p', { class: 'hint' }, t('preview.same')));

  function src(d) {
    const q = new URLSearchParams({ display: d.id });
    if (content.playlist) q.set('playlist', content.playlist);
    if (content.layout) {
      q.set('layout', content.layout);
      for (const [zone, pl] of Object.entries(content.zones || {})) if (pl) q.append('zone', `${zone}:${pl}`);
    }
    return '/renderer/preview?' + q.toString();
  }

  function reload() {
    const d = displays.find((x) => x.id === select.value);
    if (!d) {
      clear(stage, h('p', { class: 'empty' }, t('preview.noDisplays')));
      return;
    }
    const w = d.width || 1920;
    const hh = d.height || 1080;
    const frame = h('iframe', { src: src(d), title: t('preview.frameTitle', { name: d.name }), width: w, height: hh, id: 'pv-frame',
      style: { width: w + 'px', height: hh + 'px' }, tabindex: '-1' });
    clear(stage, frame);
    const fit = () => {
      const avail = stage.clientWidth || 480;
      const scale = Math.min(1, avail / w);
      frame.style.transform = `scale(${scale})`;
      stage.style.height = Math.ceil(hh * scale) + 'px';
    };
    fit();
    requestAnimationFrame(fit);
    note.textContent = t('preview.at', { w: fmtNumber(w), h: fmtNumber(hh), fit: d.fit || 'contain' });
  }
  select.addEventListener('change', reload);
  const onResize = () => { const f = stage.querySelector('iframe'); if (f) reload(); };
  window.addEventListener('resize', onResize);
  try {
    reload();
  } catch (err) {
    stage.append(h('p', { class: 'form-error' }, errorText(err)));
  }
  return {
    el,
    reload,
    stop() { window.removeEventListener('resize', onResize); clear(stage); },
    setContent(next) { content = next; reload(); },
    setDisplay(id) { if (id && displays.some((d) => d.id === id) && select.value !== id) { select.value = id; reload(); } },
  };
}
