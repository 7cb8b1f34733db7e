// A photo's way up, exactly as the API describes it: hash, upload/init, PUT the bytes to the
// presigned URL with exactly upload_headers (XMLHttpRequest, for upload progress: fetch has none),
// then upload/complete. The bytes never pass through the API process.

import {ApiError, api, sentence} from './api.js';
import {sha256File} from './sha256.js';

// Browsers set these from the body themselves and refuse to let a page set them.
const SET_BY_BROWSER = new Set(['content-length', 'host', 'connection', 'accept-encoding']);
const TYPE_BY_SUFFIX = {heic: 'image/heic', heif: 'image/heif', avif: 'image/avif', webp: 'image/webp'};

/** The type to declare: the browser's, or from the name when it has none (HEIC on many systems). */
export function contentType(file) {
  if (file.type) return file.type;
  const suffix = file.name.split('.').pop().toLowerCase();
  return TYPE_BY_SUFFIX[suffix] || 'application/octet-stream';
}

function storeError(xhr, url) {
  const text = xhr.responseText || '';
  try {
    const error = JSON.parse(text).error; // this server in local mode
    if (error && error.message) return new ApiError(xhr.status, error.code, sentence(error.message));
  } catch { /* S3 answers XML */ }
  const message = /<Message>([^<]*)<\/Message>/.exec(text);
  const code = /<Code>([^<]*)<\/Code>/.exec(text);
  return new ApiError(xhr.status, code ? code[1] : 'upload_failed',
    message ? message[1] : `The storage at ${new URL(url).origin} refused the photo (${xhr.status}).`);
}

/** PUT `file` to `url` with `headers`; onProgress(sent, total) as bytes leave. */
export function putFile(url, method, headers, file, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method || 'PUT', url);
    for (const [name, value] of Object.entries(headers || {})) {
      if (!SET_BY_BROWSER.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
    }
    xhr.upload.addEventListener('progress', (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(file.size, file.size);
        resolve();
      } else {
        reject(storeError(xhr, url));
      }
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'upload_failed',
      `The photo could not be sent to ${new URL(url).origin}. If this page was opened under another address ` +
      `than that one, open the app there (or list this page's origin in the server's cors_origins).`)));
    xhr.addEventListener('abort', () => reject(new DOMException('Upload cancelled', 'AbortError')));
    if (signal) signal.addEventListener('abort', () => xhr.abort());
    xhr.send(file);
  });
}

/**
 * Uploads `file`; onStage(name) for 'hashing', 'starting', 'uploading', 'verifying';
 * onProgress(sent, total) during 'uploading'. Resolves to upload/complete's answer ({post_id, status}).
 */
export async function uploadPhoto(file, caption, {onStage = () => {}, onProgress = () => {}, signal} = {}) {
  onStage('hashing');
  const fileHash = await sha256File(file);
  onStage('starting');
  const body = {filename: file.name, content_type: contentType(file), file_size: file.size, file_hash: fileHash};
  if (caption) body.caption = caption;
  const init = await api('POST', '/posts/upload/init', {body, signal});
  onStage('uploading');
  await putFile(init.presigned_url, init.upload_method, init.upload_headers, file, onProgress, signal);
  onStage('verifying');
  return api('POST', '/posts/upload/complete', {
    body: {post_id: init.post_id, upload_token: init.upload_token, file_hash: fileHash, file_size: file.size},
    signal,
  });
}
