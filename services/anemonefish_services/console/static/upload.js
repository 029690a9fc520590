// Direct-to-S3 upload of one file for one job: a single presigned PUT for small files, or a
// multipart upload with several parts in flight, retries with backoff, fresh part URLs
// when they expire, pause/resume (also across a reload, by listing the parts S3 already
// holds) and cancel.
//
// XMLHttpRequest rather than fetch: fetch still cannot report upload progress.

import { ApiError } from "./api.js";
import { pathOf } from "./recordings.js";

const MAX_PART_ATTEMPTS = 6;
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 15000;
// Ask for a fresh URL when the one we hold expires within this margin.
const URL_EXPIRY_MARGIN_MS = 60_000;
// Part URLs requested at once when a batch runs out or expires.
const URL_BATCH = 100;
const SPEED_WINDOW_MS = 5000;
// Least time between two requests for fresh part URLs, whatever goes wrong with them.
const URL_REFRESH_MIN_INTERVAL_MS = 5000;
// A PUT that sends nothing for this long has stalled (a half-dead connection): it is
// aborted and retried like a network failure.
const STALL_MS = 120_000;

// PUTs sent at once by all the page's uploads together. Chromium opens at most 6 HTTP/1.1
// connections to one host (S3 speaks HTTP/1.1), and a request beyond them waits unsent: 24
// files x 4 parts on a slow link had their stall watchdogs abort parts that had not begun,
// spend their retries and pause the files as "Network failure", never to resume. A part
// waits here instead, and its watchdog starts when it is sent.
const PUTS_AT_ONCE = 6;
let putsSending = 0;
const putsWaiting = [];

function sendSlot() {
  return new Promise((resolve) => {
    const grant = () => {
      putsSending += 1;
      let released = false;
      resolve(() => {
        if (released) return;
        released = true;
        putsSending -= 1;
        const next = putsWaiting.shift();
        if (next) next();
      });
    };
    if (putsSending < PUTS_AT_ONCE) grant();
    else putsWaiting.push(grant);
  });
}

// Interrupted uploads, kept in localStorage so a reload can resume them once the user picks
// the same file again (a page cannot reopen a file by itself). One entry per upload: with one
// shared map, two tabs each read it, changed it and wrote it back, and one lost its record.
const LEGACY_UPLOADS_KEY = "anemonefish.console.uploads"; // that shared map, before
// What makes two picks "the same file": name, size and modification time.
export const fileKey = (file) => `${file.name}\u0000${file.size}\u0000${file.lastModified}`;

export class PendingStore {
  constructor(storage = window.localStorage, prefix = "anemonefish.console.upload:") {
    this.storage = storage;
    this.prefix = prefix;
    this.adoptLegacy();
  }

  all() {
    const records = {};
    for (let i = 0; i < this.storage.length; i += 1) {
      const key = this.storage.key(i);
      if (!key || !key.startsWith(this.prefix)) continue;
      try {
        const record = JSON.parse(this.storage.getItem(key));
        if (record && record.job_id) records[record.job_id] = record;
      } catch {
        // Not ours to read: leave it.
      }
    }
    return records;
  }

  save(record) {
    this.storage.setItem(this.prefix + record.job_id, JSON.stringify(record));
  }

  remove(jobId) {
    this.storage.removeItem(this.prefix + jobId);
  }

  adoptLegacy() {
    const legacy = this.storage.getItem(LEGACY_UPLOADS_KEY);
    if (legacy === null) return;
    try {
      for (const record of Object.values(JSON.parse(legacy) || {})) {
        if (record && record.job_id) this.save(record);
      }
    } catch {
      // Unreadable: nothing to resume from it.
    }
    this.storage.removeItem(LEGACY_UPLOADS_KEY);
  }

  // The interrupted upload of this very file: the same name, size and modification time, and
  // the same path below a dropped folder (two recorders' 20240101_000000.WAV of one size and
  // date resumed one job twice). A file picked alone, or a record made of one, has no path to
  // compare: it is the upload if it is the only one of that name, size and date.
  match(file) {
    const key = fileKey(file);
    const same = Object.values(this.all()).filter(
      (r) => fileKey({ name: r.name, size: r.size, lastModified: r.last_modified }) === key,
    );
    const path = pathOf(file);
    const pathOfRecord = (r) => r.path || r.name; // records saved before paths were kept have none
    const unplaced = (r) => path === file.name || pathOfRecord(r) === r.name;
    return same.find((r) => pathOfRecord(r) === path) || (same.length === 1 && unplaced(same[0]) ? same[0] : null);
  }
}

function sleepUnlessAborted(ms, signal) {
  return new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

function parseExpiry(value) {
  if (value === null || value === undefined || value === "") return Infinity;
  if (typeof value === "number") return value < 1e12 ? value * 1000 : value;
  const t = Date.parse(value);
  return Number.isNaN(t) ? Infinity : t;
}

class PutError extends Error {
  constructor(status, message, code = null) {
    super(message);
    this.status = status; // 0 = network failure, -1 = aborted
    this.code = code; // S3's error code, when it sent one
  }

  // A URL S3 no longer honours: past its expiry (403), or signed with a role session that
  // has ended since (400 ExpiredToken) -- a fresh URL is the cure, not a retry.
  get urlExpired() {
    return this.status === 403 || (this.status === 400 && /^(ExpiredToken|TokenRefreshRequired)$/.test(this.code || ""));
  }

  // Worth sending again as it was: the network, S3's own trouble, throttling, or S3 giving
  // up on a slow client (400 RequestTimeout).
  get transient() {
    return this.status === 0 || this.status >= 500 || this.status === 408 || this.status === 429 ||
      (this.status === 400 && this.code === "RequestTimeout");
  }
}

export class Upload extends EventTarget {
  // job: the answer of POST /jobs ({job_id, upload}); resumeFromServer: list the parts S3
  // already holds before sending anything (after a reload).
  // checksum: a promise of the file's SHA-256 (checksum.js), sent with upload/complete.
  constructor({ api, file, job, store, concurrency = 4, resumeFromServer = false, checksum = null }) {
    super();
    this.api = api;
    this.file = file;
    this.checksum = checksum;
    this.jobId = job.job_id;
    this.plan = job.upload;
    this.store = store;
    this.concurrency = Math.max(1, concurrency);
    this.resumeFromServer = resumeFromServer;
    this.state = "ready"; // ready|uploading|paused|completing|uploaded|cancelled|failed
    this.message = "";
    this.retries = 0;
    this.inflight = new Map(); // part number (0 for single PUT) -> {xhr, loaded}
    this.urls = new Map(); // part number -> {url, useUntil (this computer's clock)}
    this.refreshing = null;
    this.run = null; // AbortController of the current run: pause/cancel abort it
    // Set when the connection dropped under this upload: the page resumes it on "online".
    this.resumeWhenOnline = false;
    this.samples = [];
    this.parts = [];
    this.putDone = false;
    if (this.plan.method === "MULTIPART") {
      const { part_size: partSize, part_count: partCount } = this.plan;
      for (let n = 1; n <= partCount; n += 1) {
        const start = (n - 1) * partSize;
        const end = Math.min(start + partSize, file.size);
        this.parts.push({ number: n, start, end, size: end - start, etag: null, done: false });
      }
      this.storeUrls(this.plan.parts || [], this.plan.expires_at, this.plan.expires_in_s);
    }
  }

  get multipart() {
    return this.plan.method === "MULTIPART";
  }

  get partsDone() {
    return this.parts.filter((p) => p.done).length;
  }

  get loaded() {
    let bytes = 0;
    if (this.multipart) {
      for (const p of this.parts) if (p.done) bytes += p.size;
    } else if (this.putDone) {
      bytes = this.file.size;
    }
    for (const entry of this.inflight.values()) bytes += entry.loaded;
    return Math.min(bytes, this.file.size);
  }

  // Bytes per second over the last few seconds of this run, and seconds left at that pace.
  get speed() {
    const now = performance.now();
    this.samples.push({ t: now, bytes: this.loaded });
    while (this.samples.length > 2 && now - this.samples[0].t > SPEED_WINDOW_MS) this.samples.shift();
    const first = this.samples[0];
    const dt = (now - first.t) / 1000;
    if (dt < 0.5) return 0;
    return Math.max(0, (this.loaded - first.bytes) / dt);
  }

  eta(speed) {
    return speed > 0 ? (this.file.size - this.loaded) / speed : NaN;
  }

  setState(state, message = "") {
    this.state = state;
    this.message = message;
    this.dispatchEvent(new CustomEvent("change", { detail: { state, message } }));
  }

  record() {
    return {
      job_id: this.jobId,
      name: this.file.name,
      path: pathOf(this.file),
      size: this.file.size,
      last_modified: this.file.lastModified,
      upload: this.multipart
        ? {
          method: "MULTIPART",
          upload_id: this.plan.upload_id,
          part_size: this.plan.part_size,
          part_count: this.plan.part_count,
        }
        : this.plan,
      saved_at: new Date().toISOString(),
    };
  }

  async start() {
    if (["uploading", "completing", "uploaded", "cancelled"].includes(this.state)) return;
    this.store.save(this.record());
    const run = new AbortController();
    this.run = run;
    this.samples = [];
    this.resumeWhenOnline = false;
    this.setState("uploading");
    try {
      if (this.multipart) await this.uploadMultipart(run.signal);
      else await this.uploadSingle(run.signal);
      if (run.signal.aborted) return;
      this.store.remove(this.jobId);
      this.setState("uploaded");
    } catch (err) {
      if (run.signal.aborted) return; // paused or cancelled: they set the state
      run.abort(); // stop the other part workers too
      this.abortInflight();
      // A request can fail on a lost connection before the page hears "offline"; either
      // way the upload must come back by itself when the connection does.
      this.resumeWhenOnline = (err instanceof ApiError && err.kind === "network") ||
        (err instanceof PutError && err.status === 0);
      if (err instanceof ApiError && err.kind === "not_found") {
        // The service no longer knows the job (expired, or a local stack that was reset):
        // nothing of it can be resumed, so its record goes and the file may start afresh.
        this.store.remove(this.jobId);
        this.setState("gone", err.message);
      } else if (err instanceof ApiError && (err.kind === "network" || err.kind === "server")) {
        this.setState("paused", `${err.message} Press Resume to try again.`);
      } else if (err instanceof PutError && (err.status === 0 || err.status >= 500)) {
        const what = err.status === 0 ? "Network failure" : `Storage error (HTTP ${err.status})`;
        // A single PUT has no parts to count ("0 of 1 parts are safe" read as a multipart's).
        const safe = this.multipart ? `; ${this.partsDone} of ${this.parts.length} parts are safe` : "";
        this.setState("paused", `${what} while uploading${safe}. Press Resume to try again.`);
      } else {
        this.setState("failed", err.message || String(err));
      }
    } finally {
      if (this.run === run) this.run = null;
    }
  }

  pause(message = "Paused.") {
    if (this.state !== "uploading") return;
    this.run?.abort();
    this.abortInflight();
    this.setState("paused", message);
  }

  resume() {
    if (this.state !== "paused" && this.state !== "ready") return;
    // After a pause we may have lost track of a part that S3 received just before the
    // abort; asking S3 again is cheap and keeps the part list honest.
    if (this.multipart) this.resumeFromServer = true;
    return this.start();
  }

  // Try a failed upload again (after what failed was put right, or just once more).
  retry() {
    if (this.state !== "failed") return;
    if (this.multipart) this.resumeFromServer = true;
    this.retries = 0;
    return this.start();
  }

  async cancel() {
    if (["uploaded", "cancelled"].includes(this.state)) return;
    this.run?.abort();
    this.abortInflight();
    this.store.remove(this.jobId);
    this.setState("cancelled", "Cancelling…");
    try {
      await this.api.cancelJob(this.jobId);
      this.setState("cancelled", "Cancelled: the job and its partial upload were removed.");
    } catch (err) {
      this.setState("cancelled", err instanceof ApiError && err.kind === "not_found"
        ? "Stopped the upload; the service no longer knew the job (it expired, or the service was reset)."
        : `Stopped the upload, but the API did not confirm the cancel: ${err.message}`);
    }
  }

  abortInflight() {
    for (const entry of this.inflight.values()) entry.xhr.abort();
    this.inflight.clear();
  }

  // ---- single PUT ------------------------------------------------------------------

  async uploadSingle(signal) {
    // No check of the link's expiry against this computer's clock, which may run ahead:
    // S3 says whether the link still holds.
    // slice() drops the file's MIME type, so the browser adds no Content-Type of its own
    // that the presigned signature did not cover; the API's headers say what to send.
    const blob = this.file.slice(0, this.file.size);
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.put(0, this.plan.url, blob, this.plan.headers || {});
        this.putDone = true;
        return;
      } catch (err) {
        if (signal.aborted) throw err;
        if (err instanceof PutError && err.urlExpired) {
          throw new Error("The upload link has expired: cancel this upload and add the file again.");
        }
        if (!(err instanceof PutError) || !err.transient || attempt >= MAX_PART_ATTEMPTS) throw err;
        this.noteRetry(`Upload failed (${err.message}); retrying…`);
        await this.backoff(attempt, signal);
      }
    }
  }

  // ---- multipart ---------------------------------------------------------------------

  async uploadMultipart(signal) {
    if (this.resumeFromServer) {
      await this.syncUploadedParts();
      this.resumeFromServer = false;
      if (signal.aborted) return;
    }
    const workers = [];
    for (let i = 0; i < this.concurrency; i += 1) workers.push(this.partWorker(signal));
    await Promise.all(workers);
    if (signal.aborted) return;
    const missing = this.parts.filter((p) => !p.done || !p.etag).map((p) => p.number);
    if (missing.length) throw new Error(`Parts ${missing.slice(0, 5).join(", ")} are not uploaded; press Retry.`);
    let sha256 = null;
    if (this.checksum) {
      // The checksum's progress is shown while the state is "completing" (app.js).
      this.setState("completing", "Finishing the file's checksum…");
      try {
        sha256 = await this.checksum;
      } catch {
        sha256 = null; // the upload stands without it; S3 and TLS still checked every part
      }
      if (signal.aborted) return;
    }
    this.setState("completing", "Assembling the parts in S3…");
    const parts = this.parts.map((p) => ({ part_number: p.number, etag: p.etag }));
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.api.completeUpload(this.jobId, parts, sha256);
        return;
      } catch (err) {
        if (err instanceof ApiError && err.status === 400 && err.field === "sha256") {
          // Retrying sends the same digest to the same refusal.
          throw new Error("This file is not the one this upload began with (its SHA-256 differs from the " +
            "one sent when the job was created). Cancel it and add the file again.");
        }
        if (signal.aborted || !(err instanceof ApiError) || err.kind !== "network" ||
            attempt >= 3) throw err;
        await this.backoff(attempt, signal);
      }
    }
  }

  // Mark the parts S3 already holds (after a reload or a pause) as done.
  async syncUploadedParts() {
    const answer = await this.api.uploadedParts(this.jobId);
    const listed = Array.isArray(answer) ? answer : (answer && answer.parts) || [];
    for (const part of this.parts) {
      part.done = false;
      part.etag = null;
    }
    for (const item of listed) {
      const part = this.parts[item.part_number - 1];
      // A part whose size differs was cut short or belongs to another plan: send it again.
      if (part && (item.size === undefined || item.size === part.size) && item.etag) {
        part.done = true;
        part.etag = item.etag;
      }
    }
    // The parts S3 already held were not sent now: no part of the pace. Reset before the
    // change event, whose render would otherwise read them as sent in the last moments.
    this.samples = [];
    this.dispatchEvent(new CustomEvent("change", { detail: { state: this.state } }));
  }

  // A part is claimed by one run at a time; a part an aborted run (a pause) still holds --
  // waiting on a URL, say -- is free for the next run to take.
  async partWorker(signal) {
    while (!signal.aborted) {
      const part = this.parts.find((p) => !p.done && (!p.claimedBy || p.claimedBy.aborted));
      if (!part) return;
      part.claimedBy = signal;
      try {
        await this.uploadPart(part, signal);
      } finally {
        if (part.claimedBy === signal) part.claimedBy = null;
      }
    }
  }

  async uploadPart(part, signal) {
    const blob = this.file.slice(part.start, part.end);
    for (let attempt = 1; ; attempt += 1) {
      const url = await this.urlFor(part.number, signal);
      if (signal.aborted) return;
      try {
        const etag = await this.put(part.number, url, blob, {});
        if (!etag) {
          throw new Error("S3 did not expose the part's ETag to the page: the bucket's CORS " +
            "configuration must list ETag in ExposeHeaders.");
        }
        part.etag = etag;
        part.done = true;
        this.dispatchEvent(new CustomEvent("change", { detail: { state: this.state } }));
        return;
      } catch (err) {
        if (signal.aborted) return;
        if (!(err instanceof PutError)) throw err;
        if (err.urlExpired) this.urls.delete(part.number); // signed again before the retry
        else if (!err.transient) throw err;
        if (attempt >= MAX_PART_ATTEMPTS) throw err;
        this.noteRetry(`Part ${part.number} failed (${err.message}); retry ${attempt} of ` +
          `${MAX_PART_ATTEMPTS - 1}…`);
        await this.backoff(attempt, signal);
      }
    }
  }

  // URLs share their batch's expiry unless a part carries its own.
  // When each URL stops being worth using, on this computer's clock: the API's lifetime
  // from now (expires_in_s), which holds however wrong the clock is -- its absolute
  // expires_at would make a clock running an hour ahead see every URL as expired -- less a
  // margin to finish the part (half the lifetime for very short ones).
  storeUrls(parts, batchExpiresAt, expiresInS) {
    const now = Date.now();
    for (const p of parts) {
      let useUntil;
      if (Number.isFinite(expiresInS) && expiresInS > 0) {
        useUntil = now + 1000 * expiresInS - Math.min(URL_EXPIRY_MARGIN_MS, 500 * expiresInS);
      } else {
        const own = parseExpiry(p.expires_at);
        useUntil = (own === Infinity ? parseExpiry(batchExpiresAt) : own) - URL_EXPIRY_MARGIN_MS;
      }
      this.urls.set(p.part_number, { url: p.url, useUntil });
    }
  }

  usable(known) {
    return Boolean(known) && known.useUntil > Date.now();
  }

  // A URL for the part, fresh enough to finish; fetches a batch of new ones when needed.
  async urlFor(number, signal) {
    for (;;) {
      const known = this.urls.get(number);
      if (this.usable(known)) return known.url;
      if (signal.aborted) return null;
      if (!this.refreshing) {
        const wanted = [number];
        for (const p of this.parts) {
          if (wanted.length >= URL_BATCH) break;
          if (!p.done && p.number !== number && !this.usable(this.urls.get(p.number))) wanted.push(p.number);
        }
        const wait = (this.lastRefreshAt || 0) + URL_REFRESH_MIN_INTERVAL_MS - Date.now();
        this.lastRefreshAt = Date.now() + Math.max(0, wait);
        this.refreshing = sleepUnlessAborted(Math.max(0, wait), signal)
          .then(() => this.api.partUrls(this.jobId, wanted))
          .then((answer) => {
            const list = Array.isArray(answer) ? answer : answer.parts || [];
            this.storeUrls(list, answer.expires_at, answer.expires_in_s);
            if (!list.some((p) => p.part_number === number)) {
              throw new Error(`The API returned no URL for part ${number}.`);
            }
          })
          .finally(() => {
            this.refreshing = null;
          });
      }
      await this.refreshing;
    }
  }

  noteRetry(message) {
    this.retries += 1;
    this.message = message;
    this.dispatchEvent(new CustomEvent("change", { detail: { state: this.state, message } }));
  }

  backoff(attempt, signal) {
    const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (attempt - 1)) * (0.75 + Math.random() / 2);
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, delay);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }

  // PUT a blob to a presigned URL; resolves with the ETag header (null if CORS hides it).
  put(key, url, blob, headers) {
    return new Promise((resolve, reject) => {
      const settle = () => {
        if (this.inflight.get(key) === entry) this.inflight.delete(key);
      };
      // While it waits for a send slot, a pause or a cancel (which aborts what is in flight)
      // ends it as it ends a PUT under way.
      const entry = {
        loaded: 0,
        waiting: true,
        xhr: { abort: () => { entry.waiting = false; settle(); reject(new PutError(-1, "aborted")); } },
      };
      this.inflight.set(key, entry);
      sendSlot().then((release) => {
        if (!entry.waiting) {
          release();
          return;
        }
        entry.waiting = false;
        const xhr = new XMLHttpRequest();
        entry.xhr = xhr;
        let stalled = false;
        let watchdog = null;
        const watch = () => {
          clearTimeout(watchdog);
          watchdog = setTimeout(() => {
            stalled = true;
            xhr.abort();
          }, STALL_MS);
        };
        xhr.upload.onprogress = (e) => {
          entry.loaded = e.loaded;
          watch();
        };
        xhr.onloadend = () => {
          clearTimeout(watchdog);
          release();
        };
        xhr.onload = () => {
          settle();
          if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.getResponseHeader("ETag"));
          else {
            const codeMatch = /<Code>([^<]+)<\/Code>/.exec(xhr.responseText || "");
            const code = codeMatch ? codeMatch[1] : null;
            reject(new PutError(xhr.status, `HTTP ${xhr.status}${code ? ` ${code}` : ""}`, code));
          }
        };
        xhr.onerror = () => {
          settle();
          reject(new PutError(0, "network failure"));
        };
        xhr.onabort = () => {
          settle();
          reject(stalled ? new PutError(0, `no progress for ${STALL_MS / 1000} s`) : new PutError(-1, "aborted"));
        };
        try {
          xhr.open("PUT", url);
          for (const [name, value] of Object.entries(headers)) {
            // The browser sets Host and Content-Length itself and refuses to be told.
            if (!/^(host|content-length)$/i.test(name)) xhr.setRequestHeader(name, value);
          }
          watch();
          xhr.send(blob);
        } catch (err) { // a URL the browser refuses: no request, so no loadend to free the slot
          clearTimeout(watchdog);
          release();
          settle();
          reject(err);
        }
      });
    });
  }
}
