// Upload a photo: pick, caption, send with a real progress bar, watch it process, see it appear.

import {announce, h} from '../dom.js';
import {field} from '../form.js';
import {watchPost} from '../live.js';
import {postCard} from '../postcard.js';
import {uploadPhoto} from '../upload.js';

const STAGES = {
  hashing: 'Checking the file…',
  starting: 'Starting the upload…',
  uploading: 'Uploading…',
  verifying: 'Upload done; the server is checking the file…',
};

export function composeView(main, params, ctx) {
  const input = h('input', {id: 'photo', name: 'photo', type: 'file', required: true,
    accept: 'image/jpeg,image/png,image/webp,image/heic,image/heif,image/avif,image/gif,.heic,.heif'});
  const preview = h('img', {class: 'preview', alt: 'Preview of the chosen photo', hidden: true});
  const caption = field('caption', 'Caption (optional)', {tag: 'textarea', rows: 3, maxlength: 2200});
  const send = h('button', {type: 'submit', class: 'primary'}, 'Upload');
  const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
  const stage = h('p', {class: 'stage', id: 'upload-stage', 'aria-live': 'polite'});
  const bar = h('progress', {id: 'upload-progress', max: 100, value: 0, 'aria-labelledby': 'upload-progress-label'});
  const percent = h('span', {class: 'percent', 'aria-hidden': 'true'}, '0%');
  const progress = h('div', {class: 'progress', hidden: true},
    h('label', {for: 'upload-progress', id: 'upload-progress-label'}, 'Upload progress'), bar, percent);
  const result = h('div', {class: 'result'});
  let previewUrl = null;

  preview.addEventListener('error', () => { preview.hidden = true; }); // not a picture this browser shows (HEIC)
  input.addEventListener('change', () => {
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    const file = input.files[0];
    preview.hidden = !file;
    if (file) {
      previewUrl = URL.createObjectURL(file);
      preview.src = previewUrl;
    }
  });
  ctx.onCleanup(() => { if (previewUrl) URL.revokeObjectURL(previewUrl); });

  const form = h('form', {class: 'form upload-form', 'aria-label': 'Upload a photo', novalidate: true},
    error,
    h('div', {class: 'field'}, h('label', {for: 'photo'}, 'Photo'),
      h('p', {class: 'hint', id: 'photo-hint'}, 'JPEG, PNG, WebP, HEIC, AVIF or GIF.'), input),
    preview, caption, send, progress, stage);
  input.setAttribute('aria-describedby', 'photo-hint');

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    const file = input.files[0];
    if (!file) {
      error.textContent = 'Choose a photo first.';
      error.hidden = false;
      input.focus();
      return;
    }
    send.disabled = true;
    input.disabled = true;
    result.replaceChildren();
    try {
      const done = await uploadPhoto(file, form.querySelector('#caption').value.trim(), {
        signal: ctx.signal,
        onStage: (name) => {
          stage.textContent = STAGES[name];
          progress.hidden = name !== 'uploading' && name !== 'verifying';
          if (name === 'uploading') progress.scrollIntoView({block: 'nearest'});
        },
        onProgress: (sent, total) => {
          const pct = Math.round((sent / total) * 100);
          bar.value = pct;
          bar.setAttribute('aria-valuetext', `${pct}%`);
          percent.textContent = `${pct}%`;
        },
      });
      stage.textContent = 'Processing: making the sizes for every screen…';
      const post = await watchPost(done.post_id, {signal: ctx.signal});
      if (post.status === 'failed') {
        throw new Error(`The server could not process this photo: ${post.error ? post.error.message : 'unknown error'}`);
      }
      stage.textContent = post.status === 'published' ? 'Published.' : `The photo is ${post.status.replace('_', ' ')}.`;
      announce(stage.textContent);
      form.reset();
      preview.hidden = true;
      progress.hidden = true;
      result.append(h('h2', null, 'Your photo'), postCard(post, {eager: true}));
      result.scrollIntoView({block: 'start'});
    } catch (err) {
      if (err.name === 'AbortError') return;
      error.textContent = err.message;
      error.hidden = false;
      stage.textContent = '';
      progress.hidden = true;
    } finally {
      send.disabled = false;
      input.disabled = false;
    }
  });

  main.append(h('h1', {tabindex: -1}, 'Upload a photo'), form, result);
}
