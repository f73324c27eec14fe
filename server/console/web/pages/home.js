// The dashboard: displays online and offline, active emergency overrides
// and the latest incidents. It is also the example of a page module:
// export { title, render(root, params, app) }; render builds the page
// into root (with h(), every string through t()) and may return a
// function that runs when the page is left (here: the live updates).
import { h, clear } from '../lib/dom.js';
import { t, has, fmtNumber, fmtDate, fmtAgo } from '../lib/i18n.js';
import { get, getAll, errorText } from '../lib/api.js';
import * as events from '../lib/events.js';

function stat(label, value, kind, href) {
  return h('li', { class: ['stat', kind && `stat-${kind}`] },
    h('a', { href }, h('span', { class: 'stat-value' }, fmtNumber(value)), h('span', { class: 'stat-label' }, label)));
}

export default {
  title: 'nav.home',
  async render(root) {
    const stats = h('ul', { class: 'stats', 'aria-label': t('home.summary') });
    const incidents = h('div', {});
    root.append(
      h('section', { 'aria-labelledby': 'home-summary' }, h('h2', { id: 'home-summary' }, t('home.summary')), stats),
      h('section', { 'aria-labelledby': 'home-incidents' }, h('h2', { id: 'home-incidents' }, t('home.incidents')), incidents));

    async function refresh() {
      const [displays, overrides, inc] = await Promise.all([
        getAll('/displays', 'displays', 100000),
        get('/overrides?active=true'),
        get('/incidents?limit=8'),
      ]);
      const online = displays.filter((d) => d.online).length;
      clear(stats,
        stat(t('home.online'), online, 'ok', '#/displays'),
        stat(t('home.offline'), displays.length - online, displays.length - online ? 'warn' : '', '#/displays'),
        stat(t('home.overrides'), (overrides.overrides || []).length, (overrides.overrides || []).length ? 'alert' : '', '#/emergency'));
      const names = new Map(displays.map((d) => [d.id, d.name]));
      const list = inc.incidents || [];
      if (!list.length) {
        clear(incidents, h('p', { class: 'empty' }, t('home.noIncidents')));
        return;
      }
      clear(incidents, h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
        h('caption', { class: 'visually-hidden' }, t('home.incidents')),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('home.when')), h('th', { scope: 'col' }, t('home.display')),
          h('th', { scope: 'col' }, t('home.kind')), h('th', { scope: 'col' }, t('home.message')))),
        h('tbody', {}, list.map((i) => h('tr', {},
          h('td', {}, h('time', { datetime: i.created_at, title: fmtDate(i.created_at) }, fmtAgo(i.created_at))),
          h('td', {}, names.get(i.display_id) || i.display_id),
          h('td', {}, has(`home.kind.${i.kind}`) ? t(`home.kind.${i.kind}`) : i.kind),
          h('td', {}, i.message)))))));
    }

    try {
      await refresh();
    } catch (err) {
      root.append(h('p', { class: 'form-error', role: 'alert' }, errorText(err)));
    }
    // Live: displays coming and going change the counts (at most one
    // refresh a second, however many events arrive).
    let pending = null;
    const later = () => { if (!pending) pending = setTimeout(() => { pending = null; refresh().catch(() => {}); }, 1000); };
    const offs = [events.on('display', later), events.on('override_delivery', later)];
    return () => { clearTimeout(pending); offs.forEach((off) => off()); };
  },
};
