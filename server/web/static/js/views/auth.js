// Sign up, the "check your mail" step, and log in.

import {api, login} from '../api.js';
import {announce, h, navigate} from '../dom.js';
import {apiForm, field} from '../form.js';

let pendingEmail = ''; // kept in memory only: an address has no business in the URL

function outbox() {
  const meta = document.querySelector('meta[name="imagepipe:outbox"]');
  return meta ? meta.content : '';
}

// Which field an error code is about, to mark it invalid and put the focus there.
function signupField(code) {
  if (/email/.test(code)) return 'email';
  if (/username/.test(code)) return 'username';
  if (/password/.test(code)) return 'password';
  return null;
}

export function signupView(main) {
  main.append(
    h('h1', {tabindex: -1}, 'Create an account'),
    apiForm({
      label: 'Create an account',
      submit: 'Create account',
      fieldFor: signupField,
      fields: [
        field('email', 'Email', {type: 'email', autocomplete: 'email', required: true}),
        field('username', 'Username', {autocomplete: 'username', required: true, minlength: 3, maxlength: 30,
          autocapitalize: 'none', spellcheck: 'false'}, '3 to 30 letters, digits or underscores.'),
        field('password', 'Password', {type: 'password', autocomplete: 'new-password', required: true, minlength: 10},
          'At least 10 characters.'),
      ],
      onSubmit: async ({email, username, password}) => {
        await api('POST', '/auth/register', {body: {email, username, password}, anonymous: true});
        pendingEmail = email;
        navigate('#/verify');
      },
    }),
    h('p', null, 'Already have an account? ', h('a', {href: '#/login'}, 'Log in')),
  );
}

export function verifyView(main) {
  const email = field('resend-email', 'Email', {type: 'email', autocomplete: 'email', required: true, value: pendingEmail});
  main.append(
    h('h1', {tabindex: -1}, 'Check your mail'),
    h('p', null, pendingEmail
      ? `We sent a link to ${pendingEmail}. Open it to confirm your address, then log in.`
      : 'Open the link we mailed you to confirm your address, then log in.'),
    outboxNote(),
    h('p', null, h('a', {href: '#/login', class: 'button primary'}, 'Log in')),
    h('h2', null, 'No mail?'),
    apiForm({
      label: 'Send the link again',
      submit: 'Send the link again',
      fields: [email],
      onSubmit: async (values) => {
        await api('POST', '/auth/resend-verification', {body: {email: values['resend-email']}, anonymous: true});
        announce('If that address has an unconfirmed account, a new link is on its way.');
        main.querySelector('.sent').hidden = false;
      },
    }),
    h('p', {class: 'sent note', role: 'status', hidden: true},
      'If that address has an unconfirmed account, a new link is on its way.'),
  );
}

export function loginView(main, params, ctx) {
  main.append(
    h('h1', {tabindex: -1}, 'Log in'),
    apiForm({
      label: 'Log in',
      submit: 'Log in',
      fieldFor: (code) => (code === 'invalid_credentials' ? 'password' : null),
      fields: [
        field('login', 'Email or username', {autocomplete: 'username', required: true, autocapitalize: 'none',
          spellcheck: 'false'}),
        field('password', 'Password', {type: 'password', autocomplete: 'current-password', required: true}),
      ],
      onSubmit: async (values) => {
        try {
          await login(values.login, values.password);
        } catch (err) {
          if (err.code === 'email_not_verified' && values.login.includes('@')) pendingEmail = values.login;
          throw err;
        }
        navigate(ctx.next || '#/');
      },
    }),
    h('p', null, 'New here? ', h('a', {href: '#/signup'}, 'Create an account'),
      ' · ', h('a', {href: '#/reset'}, 'Forgot your password?'),
      ' · ', h('a', {href: '#/verify'}, 'Confirmation mail not arrived?')),
  );
}

function outboxNote() {
  const where = outbox();
  return where ? h('p', {class: 'note'}, 'This server keeps mail in files instead of sending it: open the newest ',
    h('code', null, '.eml'), ' file in ', h('code', null, where), ' on the server and follow the link in it.') : null;
}

export function resetView(main) {
  const sent = h('div', {role: 'status', hidden: true},
    h('p', null, 'If that address has an account, a link to choose a new password is on its way.'), outboxNote());
  main.append(
    h('h1', {tabindex: -1}, 'Forgot your password?'),
    h('p', null, 'We mail you a link to choose a new one. Setting it logs you out on every device.'),
    apiForm({
      label: 'Reset your password',
      submit: 'Mail me a link',
      fields: [field('reset-email', 'Email', {type: 'email', autocomplete: 'email', required: true, value: pendingEmail})],
      onSubmit: async (values) => {
        try {
          await api('POST', '/auth/password-reset', {body: {email: values['reset-email']}, anonymous: true});
        } catch (err) {
          if (err.missingFeature) throw new Error('This server cannot reset passwords by mail.');
          throw err;
        }
        sent.hidden = false;
      },
    }),
    sent,
  );
}
