// The public API, and the login that calls it. Every call the app makes goes through here.
//
// Tokens: the short-lived access token stays in memory; the refresh token is kept in
// sessionStorage so a reload of this tab stays logged in, and it dies with the tab. Neither ever
// goes into a URL. Refresh tokens rotate: each one is spent once, so concurrent calls that find the
// access token stale share one refresh (presenting a spent token again would end the login).

const BASE = '/api/v1';
const REFRESH_KEY = 'imagepipe.refresh';
const EARLY_S = 30; // refresh this long before the access token expires

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }

  /** The server has no such route (a feature this server does not offer yet), not "no such thing". */
  get missingFeature() {
    return this.status === 404 && this.code === 'not_found';
  }
}

const NETWORK = 'The server could not be reached. Check the connection and try again.';

/** The API's messages are lower-case phrases ("no such post"); shown alone, they read as sentences. */
export function sentence(text) {
  const capital = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

async function errorFrom(resp) {
  let body = null;
  try { body = await resp.json(); } catch { /* not JSON: a proxy's page */ }
  const error = body && body.error;
  const retry = resp.headers.get('Retry-After');
  if (error && error.message) return new ApiError(resp.status, error.code, sentence(error.message), retry);
  return new ApiError(resp.status, 'http_' + resp.status, `The server answered ${resp.status} ${resp.statusText}.`, retry);
}

let access = null;
let accessExpiresAt = 0;
let refreshing = null;
let epoch = 0; // counts logouts: a refresh answered after one must not bring the login back
const listeners = new Set();

/** The logged-in account ({id, username, email}) or null. */
export const session = {user: null};

/** fn(reason) runs when the session starts or ends; reason is a message when it ended by itself. */
export function onSessionChange(fn) { listeners.add(fn); }

function emit(reason) { for (const fn of listeners) fn(reason); }

function storedRefresh() {
  try { return sessionStorage.getItem(REFRESH_KEY); } catch { return null; }
}

function keep(tokens) {
  access = tokens.access_token;
  accessExpiresAt = Date.now() + (tokens.expires_in - EARLY_S) * 1000;
  try { sessionStorage.setItem(REFRESH_KEY, tokens.refresh_token); } catch { /* private mode: memory only */ }
  refreshToken = tokens.refresh_token;
}

let refreshToken = storedRefresh();

function forget(reason) {
  epoch++;
  const had = session.user !== null || refreshToken !== null;
  access = null;
  accessExpiresAt = 0;
  refreshToken = null;
  session.user = null;
  try { sessionStorage.removeItem(REFRESH_KEY); } catch { /* nothing kept */ }
  if (had) emit(reason);
}

function refresh() {
  if (!refreshing) {
    const started = epoch;
    refreshing = (async () => {
      let resp;
      try {
        resp = await fetch(BASE + '/auth/refresh', {
          method: 'POST', headers: {'Content-Type': 'application/json'},
          body: JSON.stringify({refresh_token: refreshToken}),
        });
      } catch {
        throw new ApiError(0, 'network_error', NETWORK); // keep the login: the token is not spent
      }
      if (!resp.ok) {
        const error = await errorFrom(resp);
        if (resp.status === 400 || resp.status === 401) forget(`You were logged out: ${error.message}`);
        throw error;
      }
      const tokens = await resp.json();
      if (started !== epoch) throw new ApiError(401, 'logged_out', 'You logged out.');
      keep(tokens);
      return access;
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

async function bearer() {
  if (access && Date.now() < accessExpiresAt) return access;
  if (!refreshToken) return null;
  return refresh();
}

export function loggedIn() { return refreshToken !== null; }

/**
 * One call: api('POST', '/posts/upload/init', {body}) -> parsed JSON (null for 204).
 * Sends the Bearer when logged in (public reads too: they then say liked_by_me), refreshes once
 * when the server says the access token expired, and throws ApiError with the server's message.
 */
export async function api(method, path, {body, query, signal, anonymous = false} = {}) {
  let url = BASE + path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== null && v !== undefined) params.set(k, v);
    if ([...params].length) url += '?' + params;
  }
  for (let attempt = 0; ; attempt++) {
    const headers = {Accept: 'application/json'};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const token = anonymous ? null : await bearer();
    if (token) headers.Authorization = `Bearer ${token}`;
    let resp;
    try {
      resp = await fetch(url, {method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body)});
    } catch (err) {
      if (err.name === 'AbortError') throw err;
      throw new ApiError(0, 'network_error', NETWORK);
    }
    if (resp.ok) return resp.status === 204 ? null : resp.json();
    const error = await errorFrom(resp);
    if (resp.status === 401 && token && attempt === 0 && refreshToken) {
      access = null; // revoked or expired early (clock skew): one fresh token, one more try
      await refresh();
      continue;
    }
    if (resp.status === 401 && token) forget(`You were logged out: ${error.message}`);
    throw error;
  }
}

export async function login(loginName, password) {
  const tokens = await api('POST', '/auth/login', {body: {login: loginName, password}, anonymous: true});
  keep(tokens);
  await loadMe();
}

/** After a reload: use the kept refresh token, if any, to get a token and the account. */
export async function resume() {
  if (!refreshToken) return false;
  try {
    await loadMe();
    return true;
  } catch (err) {
    if (err.status === 0) throw err; // offline: keep the token for the next try
    forget(null);
    return false;
  }
}

async function loadMe() {
  session.user = await api('GET', '/auth/me');
  emit(null);
}

export async function logout() {
  try {
    if (refreshToken) await api('POST', '/auth/logout', {body: {refresh_token: refreshToken}});
  } finally {
    forget(null);
  }
}

