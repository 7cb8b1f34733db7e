// Live news from the server: the notification stream (Server-Sent Events). EventSource cannot send
// an Authorization header, so each connection first gets a short-lived single-use stream ticket
// (the long-lived tokens never go into a URL); a dropped connection reconnects with a fresh ticket.
// On a server without the stream (404 for the ticket) the app polls instead.

import {api, loggedIn, onSessionChange} from './api.js';

const listeners = new Set();
const reopened = new Set();
let source = null;
let timer = null;
let retryMs = 1000;
let live = false;
let missing = false;

/** fn(notification) for each event; returns a function that stops listening. */
export function onLive(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function isLive() { return live; }

/** fn() when the stream opens again after a break: news sent meanwhile was missed, so re-read. */
export function onReconnect(fn) { reopened.add(fn); }

let opened = false; // a stream was open before in this login

function deliver(event) {
  let data;
  try { data = JSON.parse(event.data); } catch { return; }
  const item = data && (data.notification || data.item || data);
  for (const fn of listeners) fn(item);
}

function later() {
  clearTimeout(timer);
  timer = setTimeout(connect, retryMs);
  retryMs = Math.min(retryMs * 2, 30000);
}

export async function connect() {
  if (source || missing || !loggedIn()) return;
  let ticket;
  try {
    ticket = await api('POST', '/notifications/stream-ticket');
  } catch (err) {
    if (err.missingFeature) missing = true;
    else if (loggedIn()) later();
    return;
  }
  if (source || !loggedIn()) return;
  source = new EventSource(`/api/v1/notifications/stream?ticket=${encodeURIComponent(ticket.ticket)}`);
  source.addEventListener('open', () => {
    live = true;
    retryMs = 1000;
    if (opened) for (const fn of reopened) fn();
    opened = true;
  });
  source.addEventListener('message', deliver);
  source.addEventListener('notification', deliver);
  source.addEventListener('error', () => { disconnect(); later(); }); // its ticket is spent: a new one
}

export function disconnect() {
  live = false;
  if (source) source.close();
  source = null;
}

onSessionChange(() => {
  if (loggedIn()) return;
  disconnect();
  clearTimeout(timer);
  missing = false;
  opened = false;
});

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    if (signal) signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, {once: true});
  });
}

/**
 * Resolves to the post once it is no longer being processed: woken by the stream's
 * post_published / post_failed news when live, else by polling GET /posts/{id} (backing off to 5 s).
 * onTick(post) sees each state read on the way.
 */
export async function watchPost(id, {signal, onTick = () => {}} = {}) {
  let wake = null;
  const off = onLive((item) => { if (item && item.post_id === id && wake) wake(); });
  try {
    for (let delay = 500; ; delay = Math.min(delay * 1.6, 5000)) {
      if (signal && signal.aborted) throw new DOMException('stopped watching', 'AbortError');
      const post = await api('GET', `/posts/${encodeURIComponent(id)}`, {signal});
      onTick(post);
      if (post.status !== 'processing' && post.status !== 'pending_upload') return post;
      await Promise.race([sleep(isLive() ? 15000 : delay, signal), new Promise((resolve) => { wake = resolve; })]);
    }
  } finally {
    off();
  }
}
