// Endless lists over the API's keyset pages ({items, next_cursor}): the next page loads when the end
// of the list comes near (IntersectionObserver), or with the "Load more" button, which keyboard and
// screen-reader users can reach and which stays as the fallback.

import {h} from './dom.js';

/**
 * fetchPage(cursor) -> {items, next_cursor}; render(item, index) -> Node.
 * Returns {element, stop, loaded}: stop() ends observing (call it when the view goes away);
 * loaded is a promise of the first page.
 */
export function pager(fetchPage, render, {label, empty, listTag = 'div', listClass = 'list', key = (item) => item.id}) {
  const list = h(listTag, {class: listClass, 'aria-label': label});
  const status = h('p', {class: 'pager-status', role: 'status'});
  const more = h('button', {type: 'button', class: 'more'}, 'Load more');
  const sentinel = h('div', {class: 'sentinel', 'aria-hidden': 'true'});
  const element = h('section', {class: 'pager', 'aria-label': label}, list, status, more, sentinel);
  let cursor = null;
  let done = false;
  let busy = false;
  let count = 0;
  const seen = new Set(); // an item added here (a new comment) may come again in a later page

  async function load() {
    if (busy || done) return;
    busy = true;
    more.disabled = true;
    element.setAttribute('aria-busy', 'true');
    status.textContent = 'Loading…';
    try {
      const page = await fetchPage(cursor);
      for (const item of page.items) {
        if (seen.has(key(item))) continue;
        seen.add(key(item));
        list.append(render(item, count++));
      }
      cursor = page.next_cursor;
      done = !cursor;
      status.textContent = done && !count ? empty : '';
      more.hidden = done;
      if (done) observer.disconnect();
    } catch (err) {
      if (err.name === 'AbortError') return;
      status.textContent = err.message; // role=status: said, and shown where the list stops
      throw err;
    } finally {
      busy = false;
      more.disabled = false;
      element.removeAttribute('aria-busy');
    }
    if (!done) {
      // Observing anew reports the sentinel's position at once: a short page that left it in view loads the next.
      observer.unobserve(sentinel);
      observer.observe(sentinel);
    }
  }

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) load().catch(() => {});
  }, {rootMargin: '0px 0px 600px 0px'});
  more.addEventListener('click', () => load().catch(() => {}));
  const loaded = load();
  loaded.catch(() => {});
  /** Shows an item made here (a comment just posted): at the end once every page is in, else
   * the page that holds it will bring it. */
  function add(item) {
    if (!done || seen.has(key(item))) return;
    seen.add(key(item));
    list.append(render(item, count++));
    status.textContent = '';
  }

  /** Shows an item that is newer than everything listed (live news) at the top. */
  function prepend(item) {
    if (seen.has(key(item))) return;
    seen.add(key(item));
    list.prepend(render(item, count++));
    status.textContent = '';
  }

  return {element, loaded, add, prepend, stop: () => observer.disconnect()};
}
