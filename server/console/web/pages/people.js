// People (admins): the organisation's accounts and API tokens. Add a
// person with a role, reset a password, disable or enable an account;
// create and revoke API tokens. Passwords and tokens the server makes are
// shown once.
import { h, clear, field, formData, announce } from '../lib/dom.js';
import { t, fmtDate, fmtAgo } from '../lib/i18n.js';
import { get, post, del, getAll, showError, clearErrors, errorText } from '../lib/api.js';
import { confirmAction, formDialog, showSecret } from '../lib/dialog.js';

const ROLES = ['admin', 'editor', 'viewer', 'authority'];
const roleOptions = () => ROLES.map((r) => [r, t(`role.${r}`)]);

export default {
  title: 'nav.people',
  roles: ['admin'],
  async render(root, params, app) {
    const usersBox = h('div', {});
    const tokensBox = h('div', {});
    let users = [];

    async function loadUsers() {
      users = await getAll('/users', 'users');
      if (!users.length) {
        clear(usersBox, h('p', { class: 'empty' }, t('people.none')));
        return;
      }
      clear(usersBox, h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'users' },
        h('caption', { class: 'visually-hidden' }, t('people.list')),
        h('thead', {}, h('tr', {}, ['people.username', 'people.role', 'people.state', 'people.created'].map((k) => h('th', { scope: 'col' }, t(k))),
          h('th', { scope: 'col' }, t('common.actions')))),
        h('tbody', {}, users.map(userRow)))));
    }

    function userRow(u) {
      const self = u.id === app.user.id;
      const disabled = !!u.disabled_at;
      return h('tr', { 'data-user': u.username },
        h('td', {}, u.username, self ? h('span', { class: 'badge' }, ' ', t('people.you')) : null),
        h('td', {}, t(`role.${u.role}`)),
        h('td', {}, disabled ? h('span', { class: 'badge badge-warn' }, t('people.disabled')) : h('span', { class: 'badge badge-ok' }, t('people.active'))),
        h('td', {}, h('time', { datetime: u.created_at }, fmtDate(u.created_at))),
        h('td', { class: 'actions' },
          h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'reset', 'aria-label': t('people.resetFor', { name: u.username }), onclick: () => resetPassword(u) }, t('people.reset')),
          self ? null : disabled
            ? h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'enable', 'aria-label': t('people.enableFor', { name: u.username }), onclick: () => setEnabled(u, true) }, t('people.enable'))
            : h('button', { type: 'button', class: 'btn btn-small btn-danger', 'data-action': 'disable', 'aria-label': t('people.disableFor', { name: u.username }), onclick: () => setEnabled(u, false) }, t('people.disable'))));
    }

    async function resetPassword(u) {
      const res = await formDialog({
        title: t('people.resetTitle', { name: u.username }),
        intro: t('people.resetIntro'),
        fields: [field({ label: t('people.newPassword'), name: 'password', type: 'password', autocomplete: 'new-password', hint: t('people.passwordHint') })],
        submitLabel: t('people.reset'),
        submit: (form) => post(`/users/${encodeURIComponent(u.id)}/password`, formData(form)),
      });
      if (!res) return;
      if (res.password) await showSecret({ title: t('people.passwordTitle', { name: u.username }), text: t('people.shownOnce'), secret: res.password });
      else announce(t('people.resetDone', { name: u.username }), 'ok');
      await loadTokens();
    }

    async function setEnabled(u, enable) {
      if (!enable && !(await confirmAction({ title: t('people.disableTitle', { name: u.username }), text: t('people.disableText'), confirm: t('people.disable'), danger: true }))) return;
      try {
        await post(`/users/${encodeURIComponent(u.id)}/${enable ? 'enable' : 'disable'}`);
        announce(t(enable ? 'people.enabled' : 'people.disabledDone', { name: u.username }), 'ok');
      } catch (err) {
        announce(errorText(err), 'error');
      }
      await Promise.all([loadUsers(), loadTokens()]);
    }

    // Add a person.
    const addBtn = h('button', { type: 'submit', class: 'btn btn-primary' }, t('people.add'));
    const addForm = h('form', { class: 'card form', id: 'add-user', novalidate: true, 'aria-labelledby': 'add-user-h' },
      h('h3', { id: 'add-user-h' }, t('people.addTitle')),
      h('div', { class: 'row' },
        field({ label: t('people.username'), name: 'username', required: true, autocomplete: 'off' }),
        field({ label: t('people.role'), name: 'role', options: roleOptions(), value: 'editor' }),
        field({ label: t('people.password'), name: 'password', type: 'password', autocomplete: 'new-password', hint: t('people.passwordHint') })),
      h('div', { class: 'actions' }, addBtn));
    addForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(addForm);
      addBtn.disabled = true;
      try {
        const body = formData(addForm);
        const res = await post('/users', body);
        addForm.reset();
        await loadUsers();
        if (res.password) await showSecret({ title: t('people.passwordTitle', { name: res.user.username }), text: t('people.shownOnce'), secret: res.password });
        else announce(t('people.added', { name: res.user.username }), 'ok');
      } catch (err) {
        showError(addForm, err);
      } finally {
        addBtn.disabled = false;
      }
    });

    // API tokens and sessions.
    async function loadTokens() {
      const { tokens } = await get('/tokens');
      const names = new Map(users.map((u) => [u.id, u.username]));
      if (!tokens.length) {
        clear(tokensBox, h('p', { class: 'empty' }, t('people.noTokens')));
        return;
      }
      clear(tokensBox, h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'tokens' },
        h('caption', { class: 'visually-hidden' }, t('people.tokens')),
        h('thead', {}, h('tr', {}, ['people.tokenName', 'people.kind', 'people.role', 'people.owner', 'people.created', 'people.expires', 'people.lastUsed'].map((k) => h('th', { scope: 'col' }, t(k))),
          h('th', { scope: 'col' }, t('common.actions')))),
        h('tbody', {}, tokens.map((tk) => h('tr', { 'data-token': tk.id },
          h('td', {}, tk.name),
          h('td', {}, t(`people.kind.${tk.kind}`)),
          h('td', {}, t(`role.${tk.role}`)),
          h('td', {}, tk.user_id ? (names.get(tk.user_id) || tk.user_id) : '—'),
          h('td', {}, h('time', { datetime: tk.created_at }, fmtDate(tk.created_at))),
          h('td', {}, tk.expires_at ? h('time', { datetime: tk.expires_at }, fmtDate(tk.expires_at)) : t('people.noExpiry')),
          h('td', {}, tk.last_used_at ? fmtAgo(tk.last_used_at) : t('common.never')),
          h('td', {}, h('button', { type: 'button', class: 'btn btn-small btn-danger', 'data-action': 'revoke', 'aria-label': t('people.revokeFor', { name: tk.name }),
            onclick: () => revoke(tk) }, t('people.revoke')))))))));
    }

    async function revoke(tk) {
      if (!(await confirmAction({ title: t('people.revokeTitle'), text: t('people.revokeText', { name: tk.name }), confirm: t('people.revoke'), danger: true }))) return;
      try {
        await del(`/tokens/${encodeURIComponent(tk.id)}`);
        announce(t('people.revoked', { name: tk.name }), 'ok');
      } catch (err) {
        announce(errorText(err), 'error');
      }
      await loadTokens();
    }

    const tokBtn = h('button', { type: 'submit', class: 'btn btn-primary' }, t('people.newToken'));
    const tokForm = h('form', { class: 'card form', id: 'add-token', novalidate: true, 'aria-labelledby': 'add-token-h' },
      h('h3', { id: 'add-token-h' }, t('people.newTokenTitle')),
      h('div', { class: 'row' },
        field({ label: t('people.tokenName'), name: 'name', required: true }),
        field({ label: t('people.role'), name: 'role', options: roleOptions(), value: 'viewer' }),
        field({ label: t('people.ttl'), name: 'ttl', options: [['', t('people.ttl.none')], ['30d', t('people.ttl.30d')], ['90d', t('people.ttl.90d')], ['365d', t('people.ttl.365d')]], value: '90d' })),
      h('div', { class: 'actions' }, tokBtn));
    tokForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(tokForm);
      tokBtn.disabled = true;
      try {
        const res = await post('/tokens', formData(tokForm));
        tokForm.reset();
        await loadTokens();
        await showSecret({ title: t('people.tokenTitle', { name: res.name }), text: t('people.shownOnce'), secret: res.token });
      } catch (err) {
        showError(tokForm, err);
      } finally {
        tokBtn.disabled = false;
      }
    });

    root.append(
      h('section', { 'aria-labelledby': 'people-h' }, h('h2', { id: 'people-h' }, t('people.list')), usersBox, addForm),
      h('section', { 'aria-labelledby': 'tokens-h' }, h('h2', { id: 'tokens-h' }, t('people.tokens')), h('p', { class: 'hint' }, t('people.tokensHint')), tokensBox, tokForm));
    await loadUsers();
    await loadTokens();
  },
};
