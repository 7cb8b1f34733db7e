// Building DOM nodes from data, never from HTML strings: user text (captions, comments, bios) can
// only ever become text, and the page's policy (Trusted Types with no policy) refuses HTML sinks.

/** h('button', {type: 'button', onclick: f, 'aria-pressed': 'false'}, 'Like') -> element */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'value' || key === 'checked') {
      el[key] = value;
    } else {
      el.setAttribute(key === 'className' ? 'class' : key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

/** Shows the view at `hash`, also when it is the current one (a new session must redraw it). */
export function navigate(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

/** Says something to screen readers without moving focus. */
export function announce(text) {
  const region = document.getElementById('announcer');
  region.textContent = '';
  // A change in the next frame is read even when the same text is said twice.
  requestAnimationFrame(() => { region.textContent = text; });
}

/** A visible, announced message at the top of the page: errors from the API, or good news. */
export function notice(text, kind = 'error') {
  const box = document.getElementById('notice');
  const close = h('button', {type: 'button', class: 'notice-close', 'aria-label': 'Dismiss message',
    onclick: () => { box.hidden = true; }}, '×');
  box.className = `notice notice-${kind}`;
  box.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  clear(box).append(h('p', null, text), close);
  box.hidden = false;
}

export function clearNotice() {
  document.getElementById('notice').hidden = true;
}

/** "3 min ago", or a date; the full time is in the element's title and datetime. */
export function timeAgo(iso) {
  const then = new Date(iso);
  const seconds = Math.round((Date.now() - then.getTime()) / 1000);
  let text;
  if (seconds < 45) text = 'just now';
  else if (seconds < 3600) text = `${Math.round(seconds / 60)} min ago`;
  else if (seconds < 86400) text = `${Math.round(seconds / 3600)} h ago`;
  else text = then.toLocaleDateString();
  return h('time', {datetime: iso, title: then.toLocaleString()}, text);
}

export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}
