// One post: the photo, its likes and comments; while it is processing, it is watched until done.

import {api, loggedIn, session} from '../api.js';
import {commentsSection} from '../comments.js';
import {h, navigate, notice} from '../dom.js';
import {features} from '../features.js';
import {watchPost} from '../live.js';
import {postCard} from '../postcard.js';

function render(main, post) {
  const mine = session.user && session.user.id === post.user_id;
  const remove = mine ? h('button', {type: 'button', class: 'danger'}, 'Delete this photo') : null;
  if (remove) {
    remove.addEventListener('click', async () => {
      if (!window.confirm('Delete this photo for good?')) return;
      remove.disabled = true;
      try {
        await api('DELETE', `/posts/${post.id}`);
        navigate('#/');
      } catch (err) {
        remove.disabled = false;
        notice(err.message);
      }
    });
  }
  main.replaceChildren(
    h('h1', {tabindex: -1, class: 'visually-hidden'}, post.caption ? `Photo: ${post.caption}` : 'Photo'),
    postCard(post, {detail: true, eager: true}),
    features.social === false ? null : commentsSection(post),
    remove ? h('p', {class: 'owner-actions'}, remove) : null,
  );
}

export async function postView(main, {id}, ctx) {
  main.append(h('h1', {tabindex: -1, class: 'visually-hidden'}, 'Photo'), h('p', {class: 'note'}, 'Loading…'));
  const post = await api('GET', `/posts/${encodeURIComponent(id)}`, {signal: ctx.signal});
  render(main, post);
  if (post.status === 'processing' || post.status === 'pending_upload') {
    const done = await watchPost(post.id, {signal: ctx.signal});
    render(main, done);
  } else if (post.status === 'published' && loggedIn() && features.social !== false
             && !(session.user && session.user.id === post.user_id)) {
    api('POST', `/posts/${post.id}/views`).catch(() => {}); // a view is a courtesy count, never an error to show
  }
}
