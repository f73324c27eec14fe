// The sign-in page: user name and password give a session cookie.
import { h, field, formData } from '../lib/dom.js';
import { t, load, language, LANGUAGES } from '../lib/i18n.js';
import { post, showError, clearErrors } from '../lib/api.js';

export default {
  title: 'signin.title',
  render(root, params, app) {
    const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, t('signin.submit'));
    const form = h('form', { class: 'card form signin', novalidate: true, 'aria-labelledby': 'page-title' },
      field({ label: t('signin.username'), name: 'username', autocomplete: 'username', required: true }),
      field({ label: t('signin.password'), name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
      h('div', { class: 'actions' }, submit));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      submit.disabled = true;
      try {
        const session = await post('/auth/session', formData(form));
        app.signedIn(session, app.afterSignIn);
      } catch (err) {
        showError(form, err);
      } finally {
        submit.disabled = false;
      }
    });
    const langs = h('p', { class: 'langs' }, LANGUAGES.map((l) => h('button', {
      type: 'button', class: 'btn btn-link', lang: l, 'aria-pressed': String(l === language()),
      onclick: async () => { await load(l); app.navigate('#/signin'); },
    }, t(`shell.lang.${l}`))));
    const notice = app.notice ? h('p', { class: 'notice', role: 'status', id: 'signin-notice' }, t(app.notice)) : null;
    app.notice = '';
    root.append(h('p', { class: 'lead' }, t('signin.lead')), notice, form, langs);
    form.querySelector('input').focus();
  },
};
