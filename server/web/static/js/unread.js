// The unread-notification count in the navigation: set from every notifications answer, raised by
// live events, announced politely when it grows. The navigation is redrawn on every view; the
// count lives here so each new badge shows it.

import {announce, h, plural} from './dom.js';

let count = 0;
let badgeEl = null;

function paint() {
  if (!badgeEl) return;
  badgeEl.hidden = count === 0;
  badgeEl.firstChild.textContent = String(count);
}

/** A fresh badge for the navigation link. */
export function badge() {
  badgeEl = h('span', {class: 'badge'}, String(count), h('span', {class: 'visually-hidden'}, ' unread'));
  paint();
  return badgeEl;
}

export function setUnread(n) {
  const grew = n > count;
  count = n;
  paint();
  if (grew) announce(`${plural(n, 'unread notification')}.`);
}

export function bumpUnread() { setUnread(count + 1); }
