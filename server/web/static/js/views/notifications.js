// Notifications: who followed, liked or commented, and which uploads finished; new ones arrive live.

import {api} from '../api.js';
import {h, notice, timeAgo} from '../dom.js';
import {onLive} from '../live.js';
import {pager} from '../pager.js';
import {setUnread} from '../unread.js';

/** What a notification says, and where it leads. */
export function describe(n) {
  const who = n.actor && n.actor.username ? `@${n.actor.username}` : 'Someone';
  const post = n.post_id ? `#/p/${n.post_id}` : null;
  switch (n.kind) {
    case 'follow': return [`${who} started following you`, n.actor ? `#/u/${encodeURIComponent(n.actor.username)}` : null];
    case 'like': return [`${who} liked your photo`, post];
    case 'comment': return [`${who} commented on your photo`, post];
    case 'post_published': return ['Your photo is published', post];
    case 'post_failed': return ['Your photo could not be processed', post];
    default: return [String(n.kind || 'news').replace(/_/g, ' '), post];
  }
}

function item(n) {
  const [text, href] = describe(n);
  return h('li', {class: n.read ? 'notification' : 'notification unread'},
    href ? h('a', {href}, text) : h('span', null, text),
    n.read ? null : h('span', {class: 'visually-hidden'}, ' (new)'), ' ',
    timeAgo(n.created_at));
}

export function notificationsView(main, params, ctx) {
  let newest = null;
  const list = pager(
    async (cursor) => {
      const page = await api('GET', '/notifications', {query: {limit: 20, cursor}, signal: ctx.signal});
      if (!newest && page.items.length) newest = page.items[0];
      setUnread(page.unread_count || 0);
      return page;
    },
    item,
    {label: 'Notifications', empty: 'Nothing yet. Likes, comments and new followers will show up here.',
      listTag: 'ol', listClass: 'notifications'},
  );
  ctx.onCleanup(list.stop);
  const markRead = h('button', {type: 'button'}, 'Mark all as read');
  markRead.addEventListener('click', async () => {
    if (!newest) return;
    markRead.disabled = true;
    try {
      const answer = await api('POST', '/notifications/read', {body: {up_to: newest.id}});
      for (const li of main.querySelectorAll('.notification.unread')) {
        li.classList.remove('unread');
        li.querySelector('.visually-hidden').remove();
      }
      setUnread(answer.unread_count || 0);
    } catch (err) {
      notice(err.message);
    } finally {
      markRead.disabled = false;
    }
  });
  ctx.onCleanup(onLive((n) => {
    if (!n || !n.kind || !n.id) return;
    newest = n;
    list.prepend(n);
  }));
  main.append(h('h1', {tabindex: -1}, 'Notifications'), h('p', null, markRead), list.element);
}
