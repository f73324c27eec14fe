// tus.js: resumable uploads with the tus protocol (1.0.0: creation,
// termination) to /api/v1/uploads/. A file goes up in chunks; after a
// dropped connection or a closed laptop lid the upload asks the server
// how much it holds (HEAD) and goes on from there. The upload's address
// is kept in localStorage under the file's name, size and date, so a page
// reload resumes too. The last chunk's answer is the media item.
//
//   const up = new Upload(file, { csrf, onProgress(sent, total), onRetry(err, delayMs), onResume(offset, total) });
//   const item = await up.start();   // resolves with the media item
//   up.cancel();                     // stops and removes what the server holds
import { ApiError } from './api.js';

const BASE = '/api/v1/uploads';
const CHUNK = 8 << 20; // bytes a PATCH carries at most
const DELAYS = [500, 1000, 2000, 4000, 8000, 15000, 30000]; // retry backoff, then every 30 s

function fingerprint(file) {
  return `beacon.tus:${file.name}:${file.size}:${file.lastModified}`;
}

function b64(s) {
  return btoa(String.fromCharCode(...new TextEncoder().encode(s)));
}

function errorOf(xhr) {
  let e = {};
  try { e = JSON.parse(xhr.responseText).error || {}; } catch { /* not JSON */ }
  return new ApiError(xhr.status, e.code || (xhr.status ? `http_${xhr.status}` : 'network'), e.message || xhr.statusText || 'network error', e.field);
}

// Errors worth trying again: the network, the server busy or restarting,
// a lock held by the dropped request.
function transient(err) {
  return err.status === 0 || err.status === 423 || err.status === 409 || err.status >= 500 || err.code === 'retry';
}

export class Upload {
  constructor(file, opts = {}) {
    this.file = file;
    this.opts = opts;
    this.url = localStorage.getItem(fingerprint(file)) || '';
    this.offset = 0;
    this.xhr = null;
    this.cancelled = false;
    this.attempt = 0;
  }

  // request sends one tus request with XMLHttpRequest (for upload
  // progress) and resolves with it when it answers 2xx.
  request(method, url, headers, body, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      this.xhr = xhr;
      xhr.open(method, url);
      xhr.withCredentials = true;
      xhr.setRequestHeader('Tus-Resumable', '1.0.0');
      if (method !== 'HEAD') xhr.setRequestHeader('X-CSRF-Token', this.opts.csrf ? this.opts.csrf() : '');
      for (const [k, v] of Object.entries(headers || {})) xhr.setRequestHeader(k, v);
      if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded);
      xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve(xhr) : reject(errorOf(xhr)));
      xhr.onerror = () => reject(new ApiError(0, 'network', 'network error'));
      xhr.onabort = () => reject(new ApiError(0, 'cancelled', 'cancelled'));
      xhr.send(body ?? null);
    });
  }

  async create() {
    const xhr = await this.request('POST', BASE, {
      'Upload-Length': String(this.file.size),
      'Upload-Metadata': `filename ${b64(this.file.name)}`,
    });
    this.url = xhr.getResponseHeader('Location');
    this.offset = 0;
    localStorage.setItem(fingerprint(this.file), this.url);
  }

  // resume asks the server how much of the upload it holds.
  async resume() {
    try {
      const xhr = await this.request('HEAD', this.url);
      this.offset = Number(xhr.getResponseHeader('Upload-Offset')) || 0;
      if (this.opts.onResume) this.opts.onResume(this.offset, this.file.size);
      return true;
    } catch (err) {
      if (err.status === 404 || err.status === 410) {
        this.forget();
        return false;
      }
      throw err;
    }
  }

  forget() {
    localStorage.removeItem(fingerprint(this.file));
    this.url = '';
  }

  async start() {
    for (;;) {
      if (this.cancelled) throw new ApiError(0, 'cancelled', 'cancelled');
      try {
        if (!this.url || !(await this.resume())) await this.create();
        for (;;) {
          const end = Math.min(this.offset + CHUNK, this.file.size);
          const base = this.offset;
          const xhr = await this.request('PATCH', this.url, {
            'Upload-Offset': String(base),
            'Content-Type': 'application/offset+octet-stream',
          }, this.file.slice(base, end), (loaded) => this.progress(base + loaded));
          this.attempt = 0;
          this.offset = Number(xhr.getResponseHeader('Upload-Offset')) || end;
          this.progress(this.offset);
          if (this.offset >= this.file.size) {
            this.forget();
            return xhr.responseText ? JSON.parse(xhr.responseText) : null;
          }
        }
      } catch (err) {
        if (this.cancelled || err.code === 'cancelled') throw new ApiError(0, 'cancelled', 'cancelled');
        if (!transient(err)) {
          this.forget();
          throw err;
        }
        const delay = DELAYS[Math.min(this.attempt, DELAYS.length - 1)];
        this.attempt += 1;
        if (this.opts.onRetry) this.opts.onRetry(err, delay);
        await new Promise((r) => { this.timer = setTimeout(r, delay); });
      }
    }
  }

  progress(sent) {
    if (this.opts.onProgress) this.opts.onProgress(Math.min(sent, this.file.size), this.file.size);
  }

  // cancel stops the upload and removes what the server holds of it.
  async cancel() {
    this.cancelled = true;
    clearTimeout(this.timer);
    if (this.xhr) this.xhr.abort();
    if (this.url) {
      const url = this.url;
      this.forget();
      try { await this.request('DELETE', url); } catch { /* gone already */ }
    }
  }
}
