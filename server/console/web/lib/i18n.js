// i18n.js: the console's messages, dates and numbers in the chosen
// language. Catalogues are merged per language by the server at
// /console/i18n/<lang>.json (from web/i18n/<area>.<lang>.json).

export const LANGUAGES = ['vi', 'en'];
const LOCALES = { vi: 'vi-VN', en: 'en-GB' };

let lang = 'vi';
let messages = {};
// Keys asked for that the catalogue lacks: the browser tests read them
// (window.__beaconI18nMisses) after walking every page.
const misses = new Set();
window.__beaconI18nMisses = () => [...misses];

export function language() { return lang; }
export function locale() { return LOCALES[lang]; }

export function preferredLanguage() {
  const saved = localStorage.getItem('beacon.lang');
  return LANGUAGES.includes(saved) ? saved : 'vi';
}

// load fetches a language's catalogue and makes it current.
export async function load(l) {
  if (!LANGUAGES.includes(l)) l = 'vi';
  const res = await fetch(`/console/i18n/${l}.json`, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(`catalogue ${l}: HTTP ${res.status}`);
  messages = await res.json();
  lang = l;
  localStorage.setItem('beacon.lang', l);
  document.documentElement.lang = l;
}

// has reports whether the catalogue has key (no miss is recorded).
export function has(key) { return Object.prototype.hasOwnProperty.call(messages, key); }

// t(key, { n: 3 }) → the message with {n} replaced. A missing key
// is recorded and shown as the key itself, so it cannot go unnoticed.
export function t(key, vars) {
  let m = messages[key];
  if (m === undefined) {
    misses.add(key);
    return key;
  }
  if (vars) m = m.replace(/\{(\w+)\}/g, (all, k) => (k in vars ? String(vars[k]) : all));
  return m;
}

function toDate(d) { return d instanceof Date ? d : new Date(d); }

// fmtDate formats a time in the language's locale; opts.timeZone shows it
// in a display's zone (with the zone's name when opts.zone is true).
export function fmtDate(d, opts = {}) {
  if (d === null || d === undefined || d === '') return t('common.never');
  const { zone, ...rest } = opts;
  const own = Object.keys(rest).some((k) => k !== 'timeZone');
  let o = own ? rest : { dateStyle: 'medium', timeStyle: 'short', ...rest };
  if (zone) {
    // dateStyle/timeStyle cannot carry the zone's name: spell the parts.
    o = own ? { ...rest, timeZoneName: 'short' } : { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short', ...rest };
  }
  return new Intl.DateTimeFormat(locale(), o).format(toDate(d));
}

export function fmtTime(d, opts = {}) {
  return fmtDate(d, { hour: '2-digit', minute: '2-digit', ...opts });
}

export function fmtNumber(n, opts) {
  return new Intl.NumberFormat(locale(), opts).format(n);
}

// fmtBytes: 1536 → "1,5 KB" (vi) / "1.5 KB" (en).
export function fmtBytes(n) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${fmtNumber(n, { maximumFractionDigits: i ? 1 : 0 })} ${units[i]}`;
}

// fmtAgo: "5 phút trước" / "5 minutes ago".
export function fmtAgo(d, now = Date.now()) {
  if (!d) return t('common.never');
  const s = Math.round((toDate(d).getTime() - now) / 1000);
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' });
  const a = Math.abs(s);
  if (a < 60) return rtf.format(s, 'second');
  if (a < 3600) return rtf.format(Math.round(s / 60), 'minute');
  if (a < 86400) return rtf.format(Math.round(s / 3600), 'hour');
  return rtf.format(Math.round(s / 86400), 'day');
}
