// A profile: who, their counts, follow / unfollow (or edit, on one's own), and their photos as a grid.

import {api, session} from '../api.js';
import {announce, h, notice, plural} from '../dom.js';
import {absent, features, forgetProfile, profile} from '../features.js';
import {apiForm, field} from '../form.js';
import {pager} from '../pager.js';
import {GRID_SIZES, photo} from '../postcard.js';

function followButton(person, counts) {
  let following = Boolean(person.followed_by_me);
  const button = h('button', {type: 'button', class: 'primary'});
  const show = () => { button.textContent = following ? `Unfollow @${person.username}` : `Follow @${person.username}`; };
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const answer = await api(following ? 'DELETE' : 'PUT', `/users/${person.id}/follow`);
      following = answer.following;
      counts.followers = answer.followers_count;
      counts.render();
      show();
      announce(following ? `You follow @${person.username}.` : `You no longer follow @${person.username}.`);
    } catch (err) {
      notice(err.message);
    } finally {
      button.disabled = false;
    }
  });
  show();
  return button;
}

function editForm(person, onSaved) {
  return h('details', {class: 'edit-profile'},
    h('summary', null, 'Edit profile'),
    apiForm({
      label: 'Edit profile',
      submit: 'Save profile',
      fieldFor: (code) => ({invalid_display_name: 'display_name', invalid_bio: 'bio'}[code] || null),
      fields: [
        field('display_name', 'Display name', {maxlength: 50, value: person.display_name || '', autocomplete: 'name'}),
        field('bio', 'Bio', {tag: 'textarea', rows: 3, maxlength: 300, value: person.bio || ''}),
      ],
      onSubmit: async (values) => {
        const saved = await api('PATCH', '/users/me', {body: {display_name: values.display_name, bio: values.bio}});
        forgetProfile('me');
        forgetProfile(person.id);
        forgetProfile(person.username);
        announce('Profile saved.');
        onSaved(saved);
      },
    }));
}

function tile(post) {
  return h('li', null, h('a', {href: `#/p/${post.id}`, class: 'tile',
    'aria-label': post.caption ? `Photo: ${post.caption}` : `Photo from ${new Date(post.created_at).toLocaleDateString()}`},
  photo(post, {sizes: GRID_SIZES})));
}

function render(main, person, ctx) {
  const mine = session.user && session.user.id === person.id;
  const counts = {
    followers: person.followers_count,
    el: h('p', {class: 'counts'}),
    render() {
      this.el.textContent = person.posts_count === undefined ? ''
        : `${plural(person.posts_count, 'photo')} · ${plural(this.followers, 'follower')} · ${person.following_count} following`;
    },
  };
  counts.render();
  const posts = pager(
    (cursor) => api('GET', `/users/${person.id}/posts`, {query: {limit: 24, cursor}, signal: ctx.signal}),
    tile,
    {label: `Photos by @${person.username}`, empty: mine ? 'No photos yet: upload one!' : 'No photos yet.',
      listTag: 'ul', listClass: 'grid'},
  );
  ctx.onCleanup(posts.stop);
  main.replaceChildren(
    h('section', {class: 'profile-head'},
      h('h1', {tabindex: -1}, person.display_name || `@${person.username}`),
      person.display_name ? h('p', {class: 'handle'}, `@${person.username}`) : null,
      person.bio ? h('p', {class: 'bio'}, person.bio) : null,
      counts.el,
      mine ? (features.social ? editForm(person, (saved) => render(main, {...person, ...saved}, ctx)) : null)
        : session.user && features.social ? followButton(person, counts) : null),
    h('h2', null, mine ? 'Your photos' : 'Photos'),
    posts.element,
  );
}

export async function profileView(main, {user}, ctx) {
  main.append(h('h1', {tabindex: -1}, 'Profile'), h('p', {class: 'note'}, 'Loading…'));
  let person = null;
  try {
    person = await profile(user);
  } catch (err) {
    if (!absent(err, 'social')) throw err;
  }
  if (!person) { // no profiles on this server: one's own page still lists one's photos
    const me = session.user;
    if (!me || ![me.id, me.username, 'me'].includes(user)) {
      main.replaceChildren(h('h1', {tabindex: -1}, 'Profile'), h('p', null, 'This server does not offer profiles yet.'));
      return;
    }
    person = {id: me.id, username: me.username};
  }
  render(main, person, ctx);
}
