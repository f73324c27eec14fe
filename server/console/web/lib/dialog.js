// dialog.js: modal dialogs on the native <dialog> element (focus is
// trapped and restored by the browser; Escape cancels).
import { h } from './dom.js';
import { t } from './i18n.js';
import { showError, clearErrors } from './api.js';

// openDialog shows a modal with a heading and content; it resolves with
// the value close(value) was called with (undefined when cancelled).
export function openDialog({ title, content, actions }) {
  return new Promise((resolve) => {
    const hid = `dlg-${Math.random().toString(36).slice(2)}`;
    const dlg = h('dialog', { 'aria-labelledby': hid });
    let result;
    const close = (value) => { result = value; dlg.close(); };
    dlg.addEventListener('close', () => { dlg.remove(); resolve(result); });
    dlg.append(h('h2', { id: hid }, title), ...[].concat(content(close) || []),
      actions ? h('div', { class: 'actions' }, actions(close)) : null);
    document.body.appendChild(dlg);
    dlg.showModal();
  });
}

// confirmAction asks a yes/no question; resolves true when confirmed.
export async function confirmAction({ title, text, confirm, danger = false }) {
  const v = await openDialog({
    title,
    content: () => h('p', {}, text),
    actions: (close) => [
      h('button', { type: 'button', class: ['btn', danger ? 'btn-danger' : 'btn-primary'], 'data-confirm': '', onclick: () => close(true) }, confirm),
      h('button', { type: 'button', class: 'btn', onclick: () => close(false) }, t('common.cancel')),
    ],
  });
  return v === true;
}

// formDialog shows a form in a modal. submit(form) runs on submit; its
// result closes the dialog (an ApiError is shown beside its field and the
// dialog stays open).
export function formDialog({ title, fields, submitLabel, submit, intro }) {
  return openDialog({
    title,
    content: (close) => {
      const btn = h('button', { type: 'submit', class: 'btn btn-primary' }, submitLabel);
      const form = h('form', { class: 'form', novalidate: true },
        intro ? h('p', {}, intro) : null, fields,
        h('div', { class: 'actions' }, btn, h('button', { type: 'button', class: 'btn', onclick: () => close(undefined) }, t('common.cancel'))));
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        clearErrors(form);
        btn.disabled = true;
        try {
          close(await submit(form));
        } catch (err) {
          showError(form, err);
        } finally {
          btn.disabled = false;
        }
      });
      return form;
    },
  });
}

// showSecret shows a value that is displayed only once (a password, a
// token) with a copy button.
export function showSecret({ title, text, secret }) {
  return openDialog({
    title,
    content: () => [h('p', {}, text), h('p', { class: 'secret', 'data-secret': '' }, secret)],
    actions: (close) => [
      h('button', { type: 'button', class: 'btn', onclick: () => navigator.clipboard && navigator.clipboard.writeText(secret).catch(() => {}) }, t('common.copy')),
      h('button', { type: 'button', class: 'btn btn-primary', onclick: () => close(true) }, t('common.done')),
    ],
  });
}
