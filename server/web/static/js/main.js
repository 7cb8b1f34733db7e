// The app's frame: the navigation, the views behind hash routes (#/p/ID, #/u/NAME, ...), and the
// session's start and end. Each view renders into <main>; leaving it cancels what it started.

import {api, loggedIn, logout, onSessionChange, resume, session} from './api.js';
import {append, clear, clearNotice, h, navigate, notice} from './dom.js';
import {features, probe} from './features.js';
import {connect, onLive, onReconnect} from './live.js';
import {badge, bumpUnread, setUnread} from './unread.js';
import {loginView, resetView, signupView, verifyView} from './views/auth.js';
import {composeView} from './views/compose.js';
import {homeView} from './views/home.js';
import {notificationsView} from './views/notifications.js';
import {postView} from './views/post.js';
import {profileView} from './views/profile.js';

const ROUTES = [
  [/^\/$/, homeView, 'Home'],
  [/^\/login$/, loginView, 'Log in', {guest: true}],
  [/^\/signup$/, signupView, 'Create an account', {guest: true}],
  [/^\/verify$/, verifyView, 'Check your mail'],
  [/^\/reset$/, resetView, 'Forgot your password?', {guest: true}],
  [/^\/upload$/, composeView, 'Upload a photo', {auth: true}],
  [/^\/p\/(?<id>[^/]+)$/, postView, 'Photo'],
  [/^\/u\/(?<user>[^/]+)$/, profileView, 'Profile'],
  [/^\/notifications$/, notificationsView, 'Notifications', {auth: true}],
];

const main = document.getElementById('main');
let current = null; // {controller, cleanups}
let firstView = true;

function isHere(href) {
  return location.hash === href || (href === '#/' && !location.hash.startsWith('#/'));
}

function navLink(href, text, extra = null) {
  return h('li', null, h('a', {href, 'aria-current': isHere(href) ? 'page' : null}, text, extra));
}

let navFor = null; // who and what the navigation was drawn for

/** Draws the navigation anew only when its links change: a redraw would take the keyboard focus
 * away from a link; otherwise only the current page's mark moves. */
function renderNav() {
  const nav = document.getElementById('nav');
  const drawnFor = session.user ? `${session.user.id} ${features.notifications !== false}` : 'guest';
  if (drawnFor === navFor) {
    for (const a of nav.querySelectorAll('a')) {
      if (isHere(a.getAttribute('href'))) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    return;
  }
  navFor = drawnFor;
  if (!session.user) {
    nav.replaceChildren(navLink('#/login', 'Log in'), navLink('#/signup', 'Sign up'));
    return;
  }
  const out = h('button', {type: 'button', class: 'link-button'}, 'Log out');
  out.addEventListener('click', async () => {
    try { await logout(); } catch (err) { notice(err.message); }
    navigate('#/');
  });
  append(clear(nav), [
    navLink('#/', 'Home'),
    navLink('#/upload', 'Upload'),
    features.notifications === false ? null : navLink('#/notifications', 'Notifications', badge()),
    navLink(`#/u/${encodeURIComponent(session.user.username)}`, 'Profile'),
    h('li', null, out),
  ]);
}

function routePath(hash) {
  if (!hash.startsWith('#/')) return '/';
  try {
    return decodeURIComponent(hash.slice(1));
  } catch {
    return hash.slice(1); // a malformed escape: matched as typed, so it finds no view
  }
}

async function show() {
  const hash = location.hash;
  // An in-page anchor (the skip link) is not a route: the view stays, except on the first load.
  if (hash && !hash.startsWith('#/') && !firstView) return;
  const first = firstView;
  firstView = false;
  const path = routePath(hash);
  if (current) {
    current.controller.abort();
    for (const fn of current.cleanups) fn();
  }
  const controller = new AbortController();
  const cleanups = [];
  current = {controller, cleanups};
  // A view that registers a cleanup after it was left (it awaited something) runs it at once.
  const ctx = {signal: controller.signal, onCleanup: (fn) => (controller.signal.aborted ? fn() : cleanups.push(fn))};
  clearNotice();
  renderNav();
  main.replaceChildren();
  const match = ROUTES.map(([re, view, title, opts]) => [re.exec(path), view, title, opts || {}]).find(([m]) => m);
  if (!match) {
    main.append(h('h1', {tabindex: -1}, 'Not found'), h('p', null, 'There is no such page. ', h('a', {href: '#/'}, 'Go home')));
  } else {
    const [m, view, title, opts] = match;
    document.title = `${title} · imagepipe`;
    if (opts.auth && !loggedIn()) {
      loginView(main, {}, {...ctx, next: hash});
    } else if (opts.guest && loggedIn()) {
      main.append(h('h1', {tabindex: -1}, title),
        h('p', null, `You are logged in${session.user ? ` as @${session.user.username}` : ''}. `,
          h('a', {href: '#/'}, 'Go to your feed')));
    } else {
      try {
        main.setAttribute('aria-busy', 'true');
        await view(main, m.groups || {}, ctx);
      } catch (err) {
        if (err.name !== 'AbortError') {
          main.replaceChildren(h('h1', {tabindex: -1}, title),
            h('p', {class: 'form-error', role: 'alert'}, err.message),
            h('p', null, h('a', {href: '#/'}, 'Go home')));
        }
      } finally {
        main.removeAttribute('aria-busy');
      }
    }
  }
  if (controller.signal.aborted) return;
  const heading = main.querySelector('h1');
  if (heading && heading.textContent) document.title = `${heading.textContent} · imagepipe`;
  // After a navigation the focus moves to the new view's heading, as a page load would.
  if (!first && heading) heading.focus();
}

onSessionChange(async (reason) => {
  renderNav();
  if (reason) { // the login ended by itself (revoked, expired): to the login page, saying why
    navigate('#/login');
    setTimeout(() => notice(reason)); // after the navigation, which clears messages
  }
  if (!session.user) return;
  const {unreadCount} = await probe();
  renderNav();
  setUnread(unreadCount);
  connect();
});

onLive((n) => { if (n && n.kind && n.read === false) bumpUnread(); });
onReconnect(async () => {
  try {
    setUnread((await api('GET', '/notifications', {query: {limit: 1}})).unread_count || 0);
  } catch { /* the next view shows it */ }
});

window.addEventListener('hashchange', show);

(async () => {
  try {
    await resume();
  } catch (err) {
    notice(err.message);
  }
  await show();
})();
