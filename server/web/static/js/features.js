// What this server offers beyond accounts, uploads and posts. Social features (profiles, follows,
// likes, comments), the feed and notifications may be missing on an older server: the API then
// answers 404 `not_found` (no such route) and the app hides that part instead of failing.

import {api, onSessionChange, session} from './api.js';

/** true: offered; false: this server has no such API; null: not asked yet. */
export const features = {social: null, feed: null, notifications: null};

/** Records `err` as "feature missing" when it is one; true if so (the caller then hides the feature). */
export function absent(err, name) {
  if (err && err.missingFeature) {
    features[name] = false;
    return true;
  }
  return false;
}

const profiles = new Map();
onSessionChange(() => profiles.clear()); // 'me' and followed_by_me change with the account

/** A profile by id or username, asked once per page load; null when the server has no profiles. */
export async function profile(user) {
  if (features.social === false) return null;
  if (!profiles.has(user)) {
    profiles.set(user, api('GET', `/users/${encodeURIComponent(user)}`).then((p) => {
      features.social = true;
      profiles.set(p.id, Promise.resolve(p));
      return p;
    }, (err) => {
      profiles.delete(user);
      if (absent(err, 'social')) return null;
      throw err;
    }));
  }
  return profiles.get(user);
}

export function forgetProfile(user) { profiles.delete(user); }

/** "@name" of a post's author, or null when it cannot be known (no profiles on this server). */
export async function authorName(userId) {
  if (session.user && session.user.id === userId) return session.user.username;
  try {
    const p = await profile(userId);
    return p ? p.username : null;
  } catch {
    return null;
  }
}

/** Asks once, at login, what the server offers (both answers are used right away: no waste). */
export async function probe() {
  const [me, unread] = await Promise.allSettled([
    profile('me'),
    api('GET', '/notifications', {query: {limit: 1}}),
  ]);
  if (unread.status === 'fulfilled') features.notifications = true;
  else absent(unread.reason, 'notifications');
  return {
    profile: me.status === 'fulfilled' ? me.value : null,
    unreadCount: unread.status === 'fulfilled' ? unread.value.unread_count || 0 : 0,
  };
}
