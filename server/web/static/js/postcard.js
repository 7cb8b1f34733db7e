// A post as the app shows it: the BlurHash placeholder at once, then the variant that fits the
// screen (the browser picks it from `srcset`, by the variants' real widths), with its like button.

import {api, loggedIn} from './api.js';
import {paint} from './blurhash.js';
import {announce, h, notice, plural, timeAgo} from './dom.js';
import {absent, authorName, features} from './features.js';

const ORDER = ['thumbnail', 'medium', 'original'];
/** The layout: photos are as wide as the screen on a phone, at most 600 CSS pixels elsewhere. */
export const FEED_SIZES = '(max-width: 632px) calc(100vw - 2rem), 600px';
export const GRID_SIZES = '(max-width: 632px) 33vw, 200px';

/** `url 150w, url 600w, url 3264w` for the JPEG renditions, or for `format` (webp, avif) if given. */
export function srcset(variants, format = null) {
  return ORDER.map((name) => variants && variants[name])
    .map((v) => (v && format ? v.formats && v.formats[format] : v))
    .filter(Boolean)
    .map((v) => `${v.url.replace(/ /g, '%20').replace(/,/g, '%2C')} ${v.width}w`)
    .join(', ');
}

const STATUS_TEXT = {
  pending_upload: 'Waiting for the upload…',
  processing: 'Processing…',
  in_review: 'In review: only you can see it for now.',
};

/** The photo's frame: sized before anything loads (no layout shift), placeholder under the image. */
export function photo(post, {sizes = FEED_SIZES, alt = 'Photo', eager = false} = {}) {
  const frame = h('div', {class: 'frame'});
  if (post.width && post.height) frame.style.aspectRatio = `${post.width} / ${post.height}`;
  if (post.dominant_color) frame.style.backgroundColor = post.dominant_color;
  if (post.placeholder) {
    const canvas = h('canvas', {class: 'placeholder', 'aria-hidden': 'true'});
    try { paint(canvas, post.placeholder); frame.append(canvas); } catch { /* a bad hash: the colour stays */ }
  }
  if (post.status !== 'published' || !post.variants || !post.variants.medium) {
    const text = post.status === 'failed' ? `Processing failed: ${post.error ? post.error.message : 'unknown error'}`
      : post.status === 'removed' ? `Removed${post.removal_reason ? `: ${post.removal_reason}` : ''}`
        : STATUS_TEXT[post.status] || post.status;
    frame.classList.add('pending');
    frame.append(h('p', {class: 'frame-status'}, text));
    return frame;
  }
  const img = h('img', {
    alt, sizes, srcset: srcset(post.variants), src: post.variants.medium.url,
    width: post.width, height: post.height, decoding: 'async', loading: eager ? 'eager' : 'lazy',
  });
  img.addEventListener('load', () => frame.classList.add('loaded'));
  const sources = ['avif', 'webp'].map((format) => srcset(post.variants, format))
    .map((set, i) => set && h('source', {type: `image/${['avif', 'webp'][i]}`, srcset: set, sizes}));
  frame.append(h('picture', null, sources, img));
  return frame;
}

export function likeButton(post) {
  let liked = Boolean(post.liked_by_me);
  let count = post.like_count || 0;
  const counter = h('span', {class: 'count'});
  const button = h('button', {type: 'button', class: 'like'}, h('span', {class: 'heart', 'aria-hidden': 'true'}, '♥'), ' Like');
  const show = () => {
    button.setAttribute('aria-pressed', String(liked));
    counter.textContent = plural(count, 'like');
  };
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const answer = await api(liked ? 'DELETE' : 'PUT', `/posts/${post.id}/like`);
      liked = answer.liked;
      count = answer.like_count;
      show();
      announce(liked ? `Liked. ${counter.textContent}.` : `Like removed. ${counter.textContent}.`);
    } catch (err) {
      if (absent(err, 'social')) button.hidden = true;
      else notice(err.message);
    } finally {
      button.disabled = false;
    }
  });
  show();
  const canLike = loggedIn() && features.social !== false && post.status === 'published';
  button.hidden = !canLike;
  return [button, counter];
}

/** A post card; `detail` is the post's own page (no link to itself, comments below it). */
export function postCard(post, {detail = false, eager = false} = {}) {
  const author = h('a', {class: 'author', href: `#/u/${post.user_id}`}, 'Photo');
  const when = timeAgo(post.created_at);
  const frame = photo(post, {alt: post.caption || 'Photo', eager});
  const card = h('article', {class: 'post', 'data-post-id': post.id},
    h('header', {class: 'post-head'}, author, detail ? when : h('a', {href: `#/p/${post.id}`, class: 'when'}, when)),
    detail ? frame : h('a', {href: `#/p/${post.id}`, class: 'photo-link', 'aria-label': `Open photo${post.caption ? `: ${post.caption}` : ''}`}, frame),
    post.caption ? h('p', {class: 'caption'}, post.caption) : null,
    h('div', {class: 'actions'}, likeButton(post),
      detail || features.social === false ? null
        : h('a', {href: `#/p/${post.id}`, class: 'comments-link'}, plural(post.comment_count || 0, 'comment'))));
  // Feed items name their author; a post alone has only user_id, so its profile is asked for (once).
  const name = post.user && post.user.username ? Promise.resolve(post.user.username) : authorName(post.user_id);
  name.then((name) => {
    if (!name) { author.hidden = true; return; }
    author.textContent = `@${name}`;
    author.setAttribute('href', `#/u/${encodeURIComponent(name)}`);
    const img = frame.querySelector('img');
    if (img && !post.caption) img.alt = `Photo by @${name}`;
  });
  return card;
}
