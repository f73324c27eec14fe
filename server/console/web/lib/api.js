// api.js: the console's only way to the server, through the public
// /api/v1 with the session cookie. Requests that change something carry
// the session's CSRF token; error bodies {"error":{code,message,field}}
// become a thrown ApiError.
import { t, has } from './i18n.js';
import { h } from './dom.js';

let csrf = '';
let onSignedOut = null;

export function setCSRF(token) { csrf = token || ''; }
// csrfToken is the session's CSRF token (for requests api() does not make:
// the resumable uploads' XMLHttpRequests).
export function csrfToken() { return csrf; }
// whenSignedOut(fn): fn runs when the server says the session is over.
export function whenSignedOut(fn) { onSignedOut = fn; }

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || '';
  }
}

// api(method, path, body, opts): path is under /api/v1 ("/displays").
// body: an object (sent as JSON), FormData or Blob. opts.headers adds
// headers; opts.raw returns the Response instead of its JSON.
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json', ...(opts.headers || {}) };
  let payload = body;
  if (body !== undefined && body !== null && !(body instanceof FormData) && !(body instanceof Blob)) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  if (!['GET', 'HEAD'].includes(method)) headers['X-CSRF-Token'] = csrf;
  let res;
  try {
    res = await fetch('/api/v1' + path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store', signal: opts.signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', e.message);
  }
  if (opts.raw && res.ok) return res;
  let data = null;
  if ((res.headers.get('Content-Type') || '').includes('json')) {
    data = await res.json().catch(() => null);
  }
  if (!res.ok) {
    const e = (data && data.error) || {};
    const err = new ApiError(res.status, e.code || `http_${res.status}`, e.message || res.statusText, e.field);
    if (res.status === 401 && path !== '/auth/session' && onSignedOut) onSignedOut(err);
    throw err;
  }
  return data;
}

export const get = (path, opts) => api('GET', path, undefined, opts);
export const post = (path, body, opts) => api('POST', path, body ?? {}, opts);
export const put = (path, body, opts) => api('PUT', path, body, opts);
export const patch = (path, body, opts) => api('PATCH', path, body, opts);
export const del = (path, opts) => api('DELETE', path, undefined, opts);

// getAll follows next_cursor pages of a list endpoint and returns the
// items of `field` (for lists the console shows whole; bounded by max).
export async function getAll(path, field, max = 5000) {
  const out = [];
  let cursor = '';
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await get(path + (cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ''));
    out.push(...(page[field] || []));
    cursor = page.next_cursor || '';
  } while (cursor && out.length < max);
  return out;
}

// errorText is an error in the user's language: the catalogue's message
// for its code and field (errors.<code>.<field>), or for its code
// (errors.<code>), if there is one, else the server's words.
export function errorText(err) {
  if (err instanceof ApiError) {
    const vars = { message: err.message };
    if (err.field && has(`errors.${err.code}.${err.field}`)) return t(`errors.${err.code}.${err.field}`, vars);
    if (has('errors.' + err.code)) return t('errors.' + err.code, vars);
    return t('errors.server', { message: err.message });
  }
  return t('errors.unexpected', { message: String(err && err.message || err) });
}

// clearErrors removes the messages showError put in a form.
export function clearErrors(root) {
  for (const el of root.querySelectorAll('.field-error, .form-error')) el.remove();
  for (const el of root.querySelectorAll('[aria-invalid]')) {
    el.removeAttribute('aria-invalid');
    const ids = (el.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && !x.endsWith('-error'));
    if (ids.length) el.setAttribute('aria-describedby', ids.join(' '));
    else el.removeAttribute('aria-describedby');
  }
}

// showError puts err next to the control its `field` names (by name), or
// at the top of formOrElement, and moves focus there.
export function showError(formOrElement, err) {
  const root = formOrElement;
  clearErrors(root);
  const text = errorText(err);
  const control = err && err.field ? root.querySelector(`[name="${CSS.escape(err.field)}"]`) : null;
  if (control) {
    const eid = (control.id || 'ctl') + '-error';
    // A refusal the catalogue has no words of its own for is said in the
    // reader's language by the control's own label; the server's words
    // follow, marked English, as the detail.
    const label = ((control.labels && control.labels[0]) ? control.labels[0].textContent : control.getAttribute('aria-label') || '').trim();
    const generic = err instanceof ApiError && err.code === 'invalid' && !has(`errors.invalid.${err.field}`) && label;
    const msg = generic
      ? h('p', { class: 'field-error', id: eid }, t('errors.invalidField', { label }), ' ', h('span', { class: 'error-detail', lang: 'en' }, `(${err.message})`))
      : h('p', { class: 'field-error', id: eid }, text);
    control.setAttribute('aria-invalid', 'true');
    control.setAttribute('aria-describedby', [control.getAttribute('aria-describedby'), eid].filter(Boolean).join(' '));
    (control.closest('.field') || control.parentElement).appendChild(msg);
    control.focus();
    return msg;
  }
  const msg = h('p', { class: 'form-error', role: 'alert', tabindex: '-1' }, text);
  root.prepend(msg);
  msg.focus();
  return msg;
}
