// shell.js: the frame around every page (skip link, banner, navigation,
// language and theme switches, sign-out) and the hash router.
import { h, clear } from './dom.js';
import { t, load, language, LANGUAGES, preferredLanguage } from './i18n.js';
import { get, del, setCSRF, whenSignedOut, errorText } from './api.js';
import * as events from './events.js';

// Every page of the console, in navigation order. A page whose module is
// not in the router's list yet shows a notice instead. roles: who sees it.
export const NAV = [
  { route: 'home' },
  { route: 'library' },
  { route: 'playlists' },
  { route: 'layouts' },
  { route: 'schedules' },
  { route: 'displays' },
  { route: 'clusters' },
  { route: 'emergency', roles: ['admin', 'authority'] },
  { route: 'people', roles: ['admin'] },
];

const THEMES = ['auto', 'light', 'dark'];

const app = {
  user: null, // { id, username, role, org_id, org_name }
  pages: new Map(),
  current: null, // { route, cleanup }
  // navigate('#/displays/ID') moves to another page.
  navigate(hash) { if (location.hash === hash) route(); else location.hash = hash; },
  // can(role…) reports whether the signed-in user has one of the roles.
  can(...roles) { return !!app.user && roles.includes(app.user.role); },
  // canEdit: editors and admins change content.
  canEdit() { return app.can('admin', 'editor'); },
};

function applyTheme(theme) {
  if (!THEMES.includes(theme)) theme = 'auto';
  document.documentElement.dataset.theme = theme;
  localStorage.setItem('beacon.theme', theme);
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [pathPart, queryPart] = raw.split('?');
  const segments = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
  return { route: segments[0] || 'home', segments: segments.slice(1), query: new URLSearchParams(queryPart || '') };
}

function visible(entry) {
  return !entry.roles || app.can(...entry.roles);
}

function renderFrame() {
  const root = document.getElementById('app');
  root.classList.remove('loading');
  root.removeAttribute('aria-busy');
  const skip = h('a', { class: 'skip', href: '#main', onclick: (e) => { e.preventDefault(); document.getElementById('main').focus(); } }, t('shell.skip'));
  const main = h('main', { id: 'main', tabindex: '-1' });
  if (!app.user) {
    clear(root, skip, h('div', { class: 'signin-frame' }, main));
    return;
  }
  const navList = h('ul', { class: 'nav-list' }, NAV.filter(visible).map((e) =>
    h('li', {}, h('a', { href: `#/${e.route}`, 'data-route': e.route }, t(`nav.${e.route}`)))));
  const nav = h('nav', { id: 'nav', class: 'nav', 'aria-label': t('shell.navigation') }, navList);
  const menu = h('button', { type: 'button', class: 'btn nav-toggle', 'aria-controls': 'nav', 'aria-expanded': 'false',
    onclick: () => {
      const open = root.classList.toggle('nav-open');
      menu.setAttribute('aria-expanded', String(open));
    } }, t('shell.menu'));
  const langSel = h('select', { id: 'lang', class: 'compact', onchange: (e) => switchLanguage(e.target.value) },
    LANGUAGES.map((l) => h('option', { value: l, selected: l === language(), lang: l }, t(`shell.lang.${l}`))));
  const themeSel = h('select', { id: 'theme', class: 'compact', onchange: (e) => applyTheme(e.target.value) },
    THEMES.map((th) => h('option', { value: th, selected: th === document.documentElement.dataset.theme }, t(`shell.theme.${th}`))));
  const header = h('header', { class: 'banner' },
    menu,
    h('a', { class: 'brand', href: '#/home' }, h('img', { src: '/console/icon.svg', alt: '', width: 28, height: 28 }), h('span', {}, 'Beacon')),
    h('span', { class: 'org' }, app.user.org_name || ''),
    h('div', { class: 'tools' },
      h('label', { for: 'lang', class: 'visually-hidden' }, t('shell.language')), langSel,
      h('label', { for: 'theme', class: 'visually-hidden' }, t('shell.theme')), themeSel,
      h('span', { class: 'user', title: t(`role.${app.user.role}`) }, app.user.username),
      h('button', { type: 'button', class: 'btn', id: 'signout', onclick: signOut }, t('shell.signout'))));
  clear(root, skip, header, h('div', { class: 'body' }, nav, main),
    h('footer', { class: 'footer' }, h('p', {}, t('shell.footer'))));
}

async function switchLanguage(l) {
  await load(l);
  document.title = 'Beacon';
  renderFrame();
  await route();
  document.getElementById('lang')?.focus();
}

async function signOut() {
  app.afterSignIn = '';
  try { await del('/auth/session'); } catch { /* signed out either way */ }
  signedOut();
}

function signedOut(notice) {
  events.close();
  app.notice = notice || '';
  app.user = null;
  setCSRF('');
  renderFrame();
  if (location.hash === '#/signin') route();
  else location.hash = '#/signin';
}

// signedIn is called by the sign-in page with the session answer.
app.signedIn = (session, next) => {
  app.user = session.user;
  setCSRF(session.csrf_token);
  renderFrame();
  app.navigate(next && next !== '#/signin' ? next : '#/home');
};

async function route() {
  const { route: name, segments, query } = parseHash();
  if (!app.user && name !== 'signin') {
    app.afterSignIn = location.hash;
    location.replace('#/signin');
    return; // hashchange routes again
  }
  if (app.user && name === 'signin') {
    location.replace('#/home');
    return;
  }
  if (app.current && app.current.cleanup) {
    try { app.current.cleanup(); } catch { /* a page's cleanup must not stop the next */ }
  }
  const main = document.getElementById('main');
  const token = {};
  app.current = { route: name, token };
  main.dataset.page = name;
  delete main.dataset.ready;
  main.setAttribute('aria-busy', 'true');
  for (const a of document.querySelectorAll('.nav a')) {
    if (a.dataset.route === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.getElementById('app').classList.remove('nav-open');
  const entry = app.pages.get(name);
  const navEntry = NAV.find((e) => e.route === name);
  const heading = h('h1', { id: 'page-title' });
  const root = h('div', { class: 'page' });
  clear(main, heading, root);
  let title = navEntry ? `nav.${name}` : 'shell.notFound';
  try {
    if (navEntry && !visible(navEntry)) {
      root.append(h('p', { class: 'notice' }, t('shell.forbidden')));
    } else if (!entry) {
      root.append(h('p', { class: 'notice' }, t(navEntry ? 'shell.notYet' : 'shell.notFoundText')));
    } else {
      const mod = await entry.load();
      if (app.current.token !== token) return;
      const page = mod.default || mod;
      title = page.title;
      heading.textContent = t(title);
      const cleanup = await page.render(root, { id: segments[0], segments, query }, app);
      if (app.current.token !== token) {
        if (typeof cleanup === 'function') cleanup();
        return;
      }
      app.current.cleanup = typeof cleanup === 'function' ? cleanup : null;
    }
  } catch (err) {
    if (app.current.token !== token) return;
    heading.textContent = t(title);
    root.append(h('p', { class: 'form-error', role: 'alert' }, errorText(err)));
  }
  // A page may have named its heading itself (a display's name).
  if (!heading.textContent) heading.textContent = t(title);
  document.title = `${heading.textContent} · Beacon`;
  main.removeAttribute('aria-busy');
  main.dataset.ready = name;
}

export async function start(pages) {
  for (const p of pages) app.pages.set(p.route, p);
  applyTheme(localStorage.getItem('beacon.theme') || 'auto');
  await load(preferredLanguage());
  // The server ended the session (expired, signed out elsewhere, password
  // reset): back to the sign-in page, saying why, then back here.
  whenSignedOut(() => {
    if (!app.user) return;
    app.afterSignIn = location.hash;
    signedOut('errors.session_expired');
  });
  try {
    const session = await get('/auth/session');
    app.user = session.user;
    setCSRF(session.csrf_token);
  } catch {
    app.user = null;
  }
  renderFrame();
  window.addEventListener('hashchange', route);
  window.beaconConsole = app; // for the browser tests
  await route();
}
