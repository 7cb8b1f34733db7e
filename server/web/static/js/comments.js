// A post's comments (oldest first, paged) and the form to add one. Comments are text: they are
// shown with textContent, line breaks kept by CSS, never parsed as HTML.

import {api, loggedIn, session} from './api.js';
import {announce, h, notice, plural, timeAgo} from './dom.js';
import {absent} from './features.js';
import {pager} from './pager.js';

const MAX_COMMENT = 2200;

function commentItem(comment, post, onRemoved) {
  const who = comment.user ? comment.user.username : 'someone';
  const mine = session.user && ((comment.user && comment.user.id === session.user.id) || post.user_id === session.user.id);
  const item = h('li', {class: 'comment'},
    h('p', {class: 'comment-head'},
      h('a', {href: `#/u/${encodeURIComponent(who)}`, class: 'author'}, `@${who}`), ' ', timeAgo(comment.created_at)),
    h('p', {class: 'comment-body'}, comment.body));
  if (mine) {
    const remove = h('button', {type: 'button', class: 'link-button', 'aria-label': `Delete comment by @${who}`}, 'Delete');
    remove.addEventListener('click', async () => {
      remove.disabled = true;
      try {
        await api('DELETE', `/comments/${comment.id}`);
        item.remove();
        onRemoved();
        announce('Comment deleted.');
      } catch (err) {
        remove.disabled = false;
        notice(err.message);
      }
    });
    item.append(remove);
  }
  return item;
}

/** The comments section of a post's page; null-safe on a server without comments (it hides itself). */
export function commentsSection(post) {
  let count = post.comment_count || 0;
  const heading = h('h2', {id: 'comments-heading'}, plural(count, 'comment'));
  const setCount = (delta) => { count += delta; heading.textContent = plural(count, 'comment'); };
  const list = pager(
    (cursor) => api('GET', `/posts/${post.id}/comments`, {query: {limit: 20, cursor}}),
    (comment) => commentItem(comment, post, () => setCount(-1)),
    {label: 'Comments', empty: 'No comments yet.', listTag: 'ol', listClass: 'comments'},
  );
  const section = h('section', {class: 'comments-section', id: 'comments', 'aria-labelledby': 'comments-heading'}, heading, list.element);
  list.loaded.catch((err) => { if (absent(err, 'social')) section.hidden = true; });

  if (loggedIn() && post.status === 'published') {
    const field = h('textarea', {id: 'comment-body', name: 'body', rows: 3, maxlength: MAX_COMMENT, required: true});
    const error = h('p', {class: 'field-error', id: 'comment-error', hidden: true});
    const send = h('button', {type: 'submit'}, 'Post comment');
    const form = h('form', {class: 'comment-form', 'aria-label': 'Add a comment', novalidate: true},
      h('label', {for: 'comment-body'}, 'Add a comment'), field, error, send);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = field.value.trim();
      error.hidden = true;
      if (!body) {
        error.textContent = 'Write something first.';
        error.hidden = false;
        field.setAttribute('aria-describedby', 'comment-error');
        field.focus();
        return;
      }
      send.disabled = true;
      try {
        const comment = await api('POST', `/posts/${post.id}/comments`, {body: {body}});
        list.add(comment);
        setCount(1);
        field.value = '';
        announce('Comment posted.');
      } catch (err) {
        if (absent(err, 'social')) { section.hidden = true; return; }
        error.textContent = err.message;
        error.hidden = false;
        field.setAttribute('aria-describedby', 'comment-error');
      } finally {
        send.disabled = false;
      }
    });
    section.append(form);
  }
  return section;
}
