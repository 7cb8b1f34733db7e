// Home: a welcome when logged out; the feed with endless scrolling when logged in (one's own
// photos on a server without a feed).

import {api, loggedIn, session} from '../api.js';
import {h} from '../dom.js';
import {absent, features} from '../features.js';
import {pager} from '../pager.js';
import {postCard} from '../postcard.js';

function welcome(main) {
  main.append(
    h('section', {class: 'welcome'},
      h('h1', {tabindex: -1}, 'Share your photos'),
      h('p', null, 'Upload a photo from any device; it appears in a moment, sized for every screen.'),
      h('p', {class: 'cta'},
        h('a', {href: '#/signup', class: 'button primary'}, 'Create an account'), ' ',
        h('a', {href: '#/login', class: 'button'}, 'Log in'))),
  );
}

function list(main, ctx, heading, fetchPage, empty) {
  const feed = pager(fetchPage, (post, i) => postCard(post, {eager: i < 2}), {label: heading, empty, listClass: 'feed'});
  ctx.onCleanup(feed.stop);
  const hadFocus = main.contains(document.activeElement);
  main.replaceChildren(
    h('div', {class: 'view-head'},
      h('h1', {tabindex: -1}, heading),
      h('a', {href: '#/upload', class: 'button primary'}, 'Upload a photo')),
    feed.element);
  if (hadFocus) main.querySelector('h1').focus();
  return feed;
}

export function homeView(main, params, ctx) {
  if (!loggedIn()) {
    welcome(main);
    return;
  }
  const ownPhotos = () => list(main, ctx, 'Your photos',
    (cursor) => api('GET', `/users/${session.user.id}/posts`, {query: {limit: 10, cursor}, signal: ctx.signal}),
    'No photos yet: upload your first one.');
  if (features.feed === false) {
    ownPhotos();
    return;
  }
  const feed = list(main, ctx, 'Your feed',
    (cursor) => api('GET', '/feed', {query: {limit: 10, cursor}, signal: ctx.signal}),
    'Nothing here yet: follow people, or upload a photo of your own.');
  feed.loaded.then(() => { features.feed = true; }, (err) => {
    if (absent(err, 'feed') && !ctx.signal.aborted) ownPhotos();
  });
}
