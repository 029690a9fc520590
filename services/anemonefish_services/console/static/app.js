// The console: API key, file picking, one card per file that uploads it, follows its job
// and shows its events.

import config from "./config.js";
import { ApiClient, ApiError, describeError } from "./api.js";
import { PendingStore, Upload, fileKey } from "./upload.js";
import { hashFile } from "./checksum.js";
import { MAX_KEYED_ATTEMPTS, jobKey } from "./jobkey.js";
import { el, fetchResultDocument, renderLinks, renderResults } from "./results.js";
import { formatBytes, formatDuration, formatSpeed } from "./format.js";
import { AUDIO_SUFFIXES, describeFolders, pathOf, recordingsOfDropped, recordingsOfPicked } from "./recordings.js";

const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"]);
// Ended without results: the same file added again is sent again, as a new job.
const ENDED_UNANALYSED = new Set(["FAILED", "CANCELLED", "EXPIRED"]);

const query = new URLSearchParams(window.location.search);
const withoutSlash = (url) => url.replace(/\/+$/, "");
const configuredApi = withoutSlash(config.apiBaseUrl ?? "");
// `?api=` may name the deployment's own API, one its config.js lists in `otherApis`, or one on
// this computer: any other would make this trusted page a form that sends a pasted key, and
// the recordings, to whoever wrote the link.
const trustedApis = new Set([configuredApi, window.location.origin, ...(config.otherApis || [])].map(withoutSlash));
function mayUseApi(url) {
  if (url === "" || trustedApis.has(url)) return true;
  try {
    return ["127.0.0.1", "localhost", "[::1]"].includes(new URL(url).hostname);
  } catch {
    return false;
  }
}
const askedApi = query.get("api") === null ? null : withoutSlash(query.get("api"));
const apiBaseUrl = askedApi !== null && mayUseApi(askedApi) ? askedApi : configuredApi;
const refusedApi = askedApi !== null && askedApi !== apiBaseUrl ? askedApi : null;
// The key is kept per API: a link whose ?api= names another server finds no key to send it.
const KEY_STORAGE = `anemonefish.console.apiKey@${apiBaseUrl || window.location.origin}`;
const LEGACY_KEY_STORAGE = "anemonefish.console.apiKey"; // before keys were kept per API
const concurrency = positiveNumber(query.get("parts_in_flight"), config.concurrentParts, 4);
const pollIntervalMs = 1000 * Math.max(0.1, Number(query.get("poll_s") || config.pollIntervalS || 1.5));

// Files up to this size are hashed before their job is created (about 2 s at the ~150 MB/s
// of the JS SHA-256), so the digest goes with POST /jobs even when the API answers with a
// single PUT; larger ones are hashed while their parts go up and the digest goes with the
// complete (a file that large is a multipart upload under any sensible threshold).
// (`?hash_first_max_mb=` overrides it, as the tests do to try both ways with small files.)
const hashFirstMb = Number(query.get("hash_first_max_mb"));
const HASH_FIRST_MAX_BYTES = 1024 * 1024 *
  (query.get("hash_first_max_mb") !== null && query.get("hash_first_max_mb") !== "" && hashFirstMb >= 0 ? hashFirstMb : 256);

const store = new PendingStore();
const cards = new Map(); // job id -> JobCard
// Uploads under way: the tab uploading one holds a Web Lock named for its job until the upload
// ends (the browser frees it when the tab closes or crashes), so another tab lists it as being
// uploaded there, not as interrupted, whose Discard would cancel it. A lock, not a timestamp
// a timer renews: browsers slow a background tab's timers to one a minute, and a multi-GB
// upload spends hours in a background tab.
const LOCK_PREFIX = "anemonefish.console.upload-lock:";
const PENDING_REFRESH_MS = 4000;
// Files whose upload this page finished: added again with the same settings, their card is
// pointed at (the API would answer with the same job); with others, they make a new job.
const finishedFiles = new Map(); // cardKey -> { jobId, settings: JSON of the job's params }
// A file as this page tells files apart: its path below a dropped folder, its name, size and date.
// Jobs this page found gone from the service: a file added again is not given one of them back.
const goneJobs = new Set();
const cardKey = (file) => `${pathOf(file)}\u0000${fileKey(file)}`;

const $ = (selector) => document.querySelector(selector);

function positiveNumber(...candidates) {
  for (const value of candidates) {
    const number = Number(value);
    if (value !== null && value !== undefined && value !== "" && Number.isFinite(number) && number >= 1) {
      return Math.floor(number);
    }
  }
  return 1;
}

function api() {
  return new ApiClient({ baseUrl: apiBaseUrl, apiKey: $("#api-key").value.trim() });
}

function setKeyStatus(text, kind = "") {
  const status = $("#key-status");
  status.textContent = text;
  status.className = `key-status ${kind}`;
}

const NEEDS_KEY = "Enter your API key first, then add the files again.";

function showNotice(text, kind = "error") {
  const notice = $("#notice");
  notice.textContent = text;
  notice.className = `notice ${kind}`;
  notice.hidden = !text;
}

// Job ids whose upload another tab of this browser holds (none where Web Locks are missing).
async function uploadsElsewhere() {
  if (!navigator.locks) return new Set();
  const { held = [] } = await navigator.locks.query();
  return new Set(held.map((lock) => lock.name).filter((name) => name.startsWith(LOCK_PREFIX))
    .map((name) => name.slice(LOCK_PREFIX.length)).filter((jobId) => !cards.has(jobId)));
}

// Status changes, each naming its file, for screen readers: the cards' badges are not live
// regions (a card's message is, but says nothing of success and names no file).
function announce(text) {
  const region = $("#announcer");
  region.textContent = "";
  window.setTimeout(() => { region.textContent = text; }, 50); // a change, even for the same words
}

// A file moved or deleted since it was picked: refused before a job exists for it.
const unreadable = (file, err) => new Error(`${file.name} cannot be read (${err.message}). Pick it again.`);
const percentOf = (done, size) => `${Math.floor((100 * done) / Math.max(1, size))}%`;

// Files whose job is being created (hashed, then POST /jobs): until their upload has saved its
// record, the same file dropped again would get a second job.
// Keyed by cardKey; their cards are stopped together when the API refuses the key.
const preparing = new Map();
// Every card on the page, for "Cancel all unfinished".
const allCards = new Set();

class JobCard {
  constructor(file, title) {
    this.file = file;
    this.title = title || file.name;
    this.upload = null;
    this.jobId = null;
    this.polling = false;
    this.progressBar = el("progress", { max: 1, value: 0, "aria-label": `upload progress of ${title || file.name}` });
    this.progressText = el("span", { className: "progress-text" });
    // Both wait for the job to exist: a cancel or pause pressed while it is being created
    // would have nothing to act on.
    this.pauseButton = el("button", { type: "button", "data-action": "pause", disabled: true,
      "aria-label": `Pause the upload of ${title || file.name}`, onclick: () => this.togglePause() }, "Pause");
    this.cancelButton = el("button", { type: "button", "data-action": "cancel", className: "danger", disabled: true,
      "aria-label": `Cancel the job of ${title || file.name}`, onclick: () => this.cancel() }, "Cancel");
    this.message = el("p", { className: "message", role: "status" });
    this.statusBadge = el("span", { className: "badge", "data-testid": "job-status" }, "preparing");
    this.workerBar = el("progress", { max: 1, "aria-label": `detection progress of ${title || file.name}`, hidden: true });
    this.workerText = el("span", { className: "progress-text" });
    this.resultArea = el("div", { className: "result-area" });
    this.jobIdText = el("code", { className: "job-id" });
    this.settingsText = el("p", { className: "muted settings", "data-testid": "job-settings" });
    this.uploadRow = el("div", { className: "upload-row" }, this.progressBar, this.progressText,
      el("span", { className: "actions" }, this.pauseButton, this.cancelButton));
    this.node = el("article", { className: "card", "data-upload-state": "preparing" },
      el("header", {},
        el("h3", {}, title || file.name),
        file ? el("span", { className: "muted" }, formatBytes(file.size)) : null,
        this.jobIdText, this.statusBadge),
      this.settingsText,
      this.uploadRow,
      el("div", { className: "worker-row" }, this.workerBar, this.workerText),
      this.message,
      this.resultArea);
    $("#cards").prepend(this.node);
    allCards.add(this);
    refreshCancelAll();
  }

  // What "Cancel all unfinished" takes: a card waiting for or undergoing its file check, or one
  // whose job can still be cancelled (uploading, paused, failed to upload, queued, running).
  unfinished() {
    // Only what was added on this page: a job shown from Earlier jobs may be a colleague's.
    if (this.removed || !this.file) return false;
    if (preparing.get(cardKey(this.file)) === this) return true;
    return Boolean(this.jobId) && this.cancelButton.dataset.action === "cancel" && !this.cancelButton.disabled;
  }

  setJobId(jobId) {
    this.jobId = jobId;
    this.offerCancel();
    this.node.dataset.jobId = jobId;
    this.jobIdText.textContent = jobId;
    cards.set(jobId, this);
    renderPending(); // an interrupted upload picked up again leaves that list
    for (const item of document.querySelectorAll("#recent-list li")) {
      if (item.dataset.jobId === jobId) item.remove();
    }
  }

  say(text, kind = "") {
    this.message.textContent = text;
    this.message.className = `message ${kind}`;
    this.message.setAttribute("role", kind === "error" ? "alert" : "status");
  }

  setStatus(status) {
    if (this.node.dataset.jobStatus !== status && status !== "AWAITING_UPLOAD") {
      announce(`${this.title}: ${status.toLowerCase().replace(/_/g, " ")}`);
    }
    this.statusBadge.textContent = status;
    queueMicrotask(refreshCancelAll); // once the card's buttons say what the status allows
    this.statusBadge.className = `badge status-${status.toLowerCase()}`;
    this.node.dataset.jobStatus = status;
  }

  async start(resumeRecord, params = {}) {
    const client = api();
    if (!client.apiKey) {
      this.fail("Enter your API key at the top of the page first.");
      return;
    }
    const key = cardKey(this.file);
    preparing.set(key, this);
    refreshCancelAll();
    this.params = params; // what the file is sent with (a resumed job keeps its own: below)
    // Until its job exists the card can be removed, its file check stopped: a folder dropped by
    // mistake could otherwise only be cancelled job by job, once each had been made.
    this.offerRemove();
    try {
      let job;
      let current = null;
      let partsMayBeInS3 = Boolean(resumeRecord); // ask S3 which parts it holds before sending any
      if (resumeRecord) {
        try {
          current = await client.getJob(resumeRecord.job_id);
        } catch (err) {
          if (!(err instanceof ApiError && err.kind === "not_found")) throw err;
          store.remove(resumeRecord.job_id); // gone (expired, or another key's): start afresh
          resumeRecord = null;
        }
        if (this.stopped()) return;
      }
      if (resumeRecord) {
        if (current.status !== "AWAITING_UPLOAD") {
          store.remove(resumeRecord.job_id);
          this.setJobId(current.job_id);
          this.uploadDone();
          this.say(`This file's upload had already ended (${current.status}).`);
          this.follow();
          return;
        }
        job = { job_id: resumeRecord.job_id, upload: { ...resumeRecord.upload, parts: [] } };
        this.say("Resuming: asking S3 which parts it already holds…");
        // The job was made with its own settings: those filled in now are not its.
        const theirs = current.params || {};
        this.params = theirs;
        const differ = Object.keys({ ...theirs, ...params }).some((name) => theirs[name] !== params[name]);
        this.settingsText.textContent = describeSettings(current.params) + (differ
          ? " It keeps the settings it was made with; those filled in now apply to files added anew (cancel this one and add it again for them)."
          : "");
      } else {
        // Refused here rather than by the worker after a job, an upload and a queue.
        if (this.file.size === 0) throw new Error(`${this.file.name} is empty (0 bytes): there is nothing to analyse.`);
        let sha256 = null;
        if (this.file.size <= HASH_FIRST_MAX_BYTES) {
          // Once in the live region; the per-cent goes beside the bar, which is not one (a
          // screen reader queued two dozen announcements a file).
          const size = this.file.size;
          this.checking = hashFile(this.file, (done) => {
            this.progressText.textContent = `Checking the file… ${percentOf(done, size)}`;
          }, {
            onWaiting: () => this.say("Waiting for the files before it to be checked…"),
            onStart: () => this.say("Checking the file…"),
          });
          try {
            sha256 = await this.checking.promise;
          } catch (err) {
            if (this.stopped()) return;
            // A file that cannot be read is refused here, before a job exists for it. Anything
            // else (no module workers, say): the checksum is a safeguard, and the upload goes on.
            if (["NotReadableError", "NotFoundError"].includes(err.name)) throw unreadable(this.file, err);
          }
          this.say("");
        } else {
          // Hashed later, while its parts go up: still refuse a file that cannot be read now.
          try {
            await this.file.slice(0, 1).arrayBuffer();
          } catch (err) {
            throw unreadable(this.file, err);
          }
        }
        if (this.stopped()) return;
        const request = {
          // The path below a dropped folder (two sites' 20240101_000000.WAV told apart), with
          // what the API refuses in a name as spaces, as `submit` sends it.
          filename: this.title.replace(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/g, " ").trim() || this.file.name,
          sizeBytes: this.file.size,
          contentType: this.file.type || "application/octet-stream",
          params,
          sha256,
        };
        let created = false;
        let endedBefore = null; // how this file's last job ended, when it ended without results
        for (let attempt = 0; ; attempt += 1) {
          const last = attempt + 1 >= MAX_KEYED_ATTEMPTS;
          ({ job, created } = await client.createJob({
            ...request, idempotencyKey: last ? null : jobKey(request, this.file.lastModified, attempt),
          }));
          if (goneJobs.has(job.job_id)) { // a stack restarted empty: its key's id, made again
            if (created) client.cancelJob(job.job_id).catch(() => {});
            continue;
          }
          if (created || !ENDED_UNANALYSED.has(job.status)) break;
          endedBefore = job.status;
        }
        if (this.removed) { // removed while its job was being made: no upload will come
          // Only a job made now: one found again is an earlier page's, running or done.
          if (created) client.cancelJob(job.job_id).catch(() => {});
          return;
        }
        if (!created && (await this.showSentBefore(job, params))) return;
        if (!created) { // made by an earlier page whose upload was interrupted: S3 may hold parts of it
          partsMayBeInS3 = true;
          this.say("Resuming the upload this file's job began earlier…");
        }
        this.settingsText.textContent = describeSettings(params) + (endedBefore
          ? ` Its earlier job ended ${endedBefore.toLowerCase()}: this is a new one.` : "");
      }
      this.setJobId(job.job_id);
      this.setStatus(job.status || "AWAITING_UPLOAD");
      // Hashed alongside the upload: a large file, or one resumed after a reload.
      const hashAlong = job.upload.method === "MULTIPART" && (resumeRecord || this.file.size > HASH_FIRST_MAX_BYTES);
      // Its turn comes after the checks that jobs wait for (it is needed only at the end).
      this.checksumWaits = false;
      this.checksum = hashAlong ? hashFile(this.file, (done) => {
        // Shown only while the upload waits for it (its parts are all up by then).
        if (this.upload && this.upload.state === "completing") {
          this.say(`Finishing the file's checksum… ${percentOf(done, this.file.size)}`);
        }
      }, {
        background: true,
        onWaiting: () => { this.checksumWaits = true; },
        onStart: () => { this.checksumWaits = false; },
      }) : null;
      this.upload = new Upload({
        api: client, file: this.file, job, store, concurrency,
        resumeFromServer: partsMayBeInS3,
        checksum: this.checksum && this.checksum.promise,
      });
      this.node.dataset.uploadMethod = job.upload.method;
      this.upload.addEventListener("change", () => this.onUploadChange());
      this.ticker = setInterval(() => this.renderProgress(), 250);
      this.upload.start(); // saves its record at once: the same file now finds this card
      this.holdUploadLock();
    } catch (err) {
      if (err instanceof ApiError && err.kind === "auth") {
        setKeyStatus(describeError(err), "error");
        // Each file waiting for its check was checked in full, then refused in turn.
        // Last first: a queued check is taken off the queue before a running one's end starts it.
        for (const card of [...preparing.values()].reverse()) {
          if (card !== this) card.halt(describeError(err, { filename: card.title }));
        }
      }
      this.fail(describeError(err, { filename: this.title, sizeLabel: formatBytes(this.file.size) }));
    } finally {
      preparing.delete(key);
      refreshCancelAll();
    }
  }

  // The job an earlier page (or this one) made for this file with these settings, found again by
  // its Idempotency-Key: shown, the file not sent again. False when it still awaits its file
  // (an upload interrupted where no saved record says so: another browser, cleared storage).
  async showSentBefore(found, params) {
    if (found.status === "AWAITING_UPLOAD") return false;
    // POST /jobs answers with its id and status: its date and settings are the job's own.
    const job = await api().getJob(found.job_id).catch(() => found);
    if (this.removed) return true; // removed meanwhile (its Remove, Cancel all): nothing to show
    const other = cards.get(job.job_id);
    if (other && other !== this) { // its card is on this page already
      this.removeCard();
      other.focusHeading();
      return true;
    }
    this.setJobId(job.job_id);
    this.setStatus(job.status);
    this.uploadDone();
    this.node.dataset.uploadState = "sent-before";
    const when = job.created_at ? ` on ${job.created_at.replace("T", " ").slice(0, 16)} UTC` : "";
    this.settingsText.textContent = `${describeSettings(job.params || params)} Sent before with these settings${when}: ` +
      "this is that job, and the file was not uploaded again.";
    finishedFiles.set(cardKey(this.file), { jobId: job.job_id, settings: JSON.stringify(params) });
    this.follow();
    return true;
  }

  // Another card's job was refused for the key: this one's would be too.
  halt(reason) {
    this.halted = reason;
    if (this.checking) this.checking.cancel();
  }

  // Whether start() ends here: the card was removed, or halted (then it says why).
  stopped() {
    if (this.halted) this.fail(this.halted);
    return Boolean(this.removed || this.halted);
  }

  // Held until the upload ends here (uploaded or cancelled); freed with the tab otherwise.
  holdUploadLock() {
    if (!navigator.locks || this.releaseLock) return;
    navigator.locks.request(LOCK_PREFIX + this.jobId, () => new Promise((release) => {
      this.releaseLock = release;
    }));
  }

  // The service no longer knows the job (it expired, belongs to another key, or a local stack
  // was reset): nothing of it can be resumed or cancelled, and the same file may start anew.
  gone() {
    if (this.jobId) store.remove(this.jobId);
    if (this.jobId) goneJobs.add(this.jobId);
    if (this.file) finishedFiles.delete(cardKey(this.file));
    clearInterval(this.ticker);
    this.ticker = null;
    if (this.releaseLock) this.releaseLock();
    this.forget();
    this.node.dataset.uploadState = "gone";
    this.setStatus("GONE");
    this.say("This job no longer exists on the service (it expired, belongs to another API key, or the " +
      "service was reset). Add the file again to start a new job.", "error");
    this.workerBar.hidden = true;
    this.workerText.textContent = "";
    this.resultArea.replaceChildren(); // its result links, if any, point at documents that are gone too
    this.offerRemove();
  }

  focusHeading() {
    const heading = this.node.querySelector("h3");
    heading.tabIndex = -1; // focusable by script, not a tab stop
    heading.focus();
  }

  // Off the page. A keyboard user's focus, on its Remove button, goes to the next card's
  // heading (or the one before, or the section's), where it fell to the top of the page.
  removeCard() {
    if (this.node.contains(document.activeElement)) {
      const next = this.node.nextElementSibling || this.node.previousElementSibling;
      const heading = next ? next.querySelector("h3") : $("#files-title");
      heading.tabIndex = -1; // focusable by script, not a tab stop
      heading.focus();
    }
    this.node.remove();
    allCards.delete(this);
    refreshCancelAll();
  }

  // Nothing to cancel (no job, or none any more): the card can only be cleared away.
  offerRemove() {
    this.setCancelButton("remove", "Remove", `Remove the card of ${this.title}`);
  }

  // A job to cancel.
  offerCancel() {
    this.setCancelButton("cancel", "Cancel", `Cancel the job of ${this.title}`);
  }

  setCancelButton(action, text, label) {
    const button = this.cancelButton;
    button.disabled = false;
    button.textContent = text;
    button.setAttribute("aria-label", label);
    button.dataset.action = action;
    button.classList.toggle("danger", action === "cancel");
    refreshCancelAll();
  }

  fail(text) {
    this.node.dataset.uploadState = "failed";
    this.setStatus("ERROR");
    this.say(text, "error");
    this.pauseButton.disabled = true;
    this.cancelButton.disabled = false;
    if (!this.jobId) { // refused before any upload: no bar to fill, nothing to pause
      this.progressBar.hidden = true;
      this.progressText.hidden = true;
      this.pauseButton.hidden = true;
      this.offerRemove();
    }
  }

  // The upload is over (or was never this page's): only Cancel stays, until the job ends.
  uploadDone() {
    this.progressBar.hidden = true;
    this.progressText.hidden = true;
    this.pauseButton.hidden = true;
  }

  onUploadChange() {
    const { state, message } = this.upload;
    if (state === "gone") {
      this.gone();
      return;
    }
    this.node.dataset.uploadState = state;
    this.node.dataset.partsDone = String(this.upload.partsDone);
    this.node.dataset.partsTotal = String(this.upload.parts.length);
    const action = { paused: "resume", failed: "retry" }[state] || "pause";
    this.pauseButton.textContent = action[0].toUpperCase() + action.slice(1);
    // Named with the file: "Pause, Pause, Pause" told a screen reader user nothing.
    this.pauseButton.setAttribute("aria-label", `${this.pauseButton.textContent} the upload of ${this.title}`);
    this.pauseButton.dataset.action = action;
    this.pauseButton.disabled = !["uploading", "paused", "failed"].includes(state);
    this.cancelButton.disabled = state === "cancelled";
    const kind = state === "failed" ? "error" : state === "paused" && message !== "Paused." ? "warning" : "";
    this.say(state === "completing" && this.checksumWaits
      ? "All parts are up; its checksum waits for other files' checks to finish first." : message, kind);
    this.renderProgress();
    if (state === "failed") this.setStatus("ERROR");
    if (state === "cancelled") this.setStatus("CANCELLED");
    if (["uploaded", "failed", "cancelled"].includes(state)) clearInterval(this.ticker);
    if (state === "uploading") this.setStatus("AWAITING_UPLOAD"); // a retry after a failure
    if (state === "uploading" && !this.ticker) this.ticker = setInterval(() => this.renderProgress(), 250);
    if (["uploaded", "failed", "cancelled"].includes(state)) this.ticker = null;
    if (["uploaded", "cancelled"].includes(state) && this.releaseLock) this.releaseLock();
    if (state === "uploaded") {
      finishedFiles.set(cardKey(this.file), { jobId: this.jobId, settings: JSON.stringify(this.params) });
      this.uploadDone();
      this.say("Uploaded. Waiting for the worker…");
      this.follow();
    }
  }

  renderProgress() {
    const upload = this.upload;
    if (!upload) return;
    const total = upload.file.size;
    const loaded = upload.loaded;
    this.progressBar.value = total ? loaded / total : 1;
    const parts = upload.multipart ? ` · part ${upload.partsDone} of ${upload.parts.length} done` : "";
    let pace = "";
    if (upload.state === "uploading") {
      const speed = upload.speed;
      pace = ` · ${formatSpeed(speed)} · ${speed > 0 ? `${formatDuration(upload.eta(speed))} left` : "estimating…"}`;
    }
    const retries = upload.retries ? ` · ${upload.retries} retr${upload.retries === 1 ? "y" : "ies"}` : "";
    this.progressText.textContent = `${formatBytes(loaded)} of ${formatBytes(total)}${pace}${parts}${retries}`;
  }

  async togglePause() {
    if (!this.upload) return;
    if (["paused", "failed"].includes(this.upload.state) && !this.upload.multipart && !(await this.stillAwaitsItsFile())) return;
    if (this.upload.state === "paused") {
      this.say("");
      this.upload.resume();
    } else if (this.upload.state === "failed") {
      this.say("");
      this.upload.retry();
    } else {
      this.upload.pause();
    }
  }

  // Before a single PUT is sent again: a multipart upload asks the API for its parts (and
  // turns GONE on a 404), but a single PUT went straight to its old link, and after a local
  // stack's restart failed as "Network failure" however often Resume was pressed.
  async stillAwaitsItsFile() {
    let job;
    try {
      job = await api().getJob(this.jobId);
    } catch (err) {
      if (err instanceof ApiError && err.kind === "not_found") {
        this.gone();
        return false;
      }
      return true; // unreachable, say: the PUT's own error will tell
    }
    if (job.status === "AWAITING_UPLOAD") return true;
    // Its file arrived after all (the PUT's answer was lost), or the job ended elsewhere.
    store.remove(this.jobId);
    this.say("");
    this.uploadDone();
    this.follow();
    return false;
  }

  async cancel() {
    // Refused or removed before its job existed, or its job is gone: nothing to cancel, only to
    // clear away (and its file check to stop, which frees its turn for the next file).
    if (!this.jobId || this.cancelButton.dataset.action === "remove") {
      this.removed = true;
      if (this.checking) this.checking.cancel();
      this.removeCard();
      return;
    }
    // Cancel sits beside Pause, and a multi-GB upload is hours to send again.
    const sent = this.discardedIfCancelled() ? ` The ${formatBytes(this.upload.loaded)} already sent will be discarded.` : "";
    if (!window.confirm(`Cancel the job for ${this.title}?${sent} Its results will not be made.`)) return;
    await this.stop();
  }

  // Bytes of an upload under way that a cancel throws away (0 when none is).
  discardedIfCancelled() {
    return this.upload && !["uploaded", "cancelled"].includes(this.upload.state) ? this.upload.loaded : 0;
  }

  // Cancel, asked already: a card without a job yet is taken off (its check stopped).
  async stop() {
    if (!this.jobId) {
      this.removed = true;
      if (this.checking) this.checking.cancel();
      this.removeCard();
      return;
    }
    if (this.upload && !["uploaded", "failed"].includes(this.upload.state)) {
      await this.upload.cancel();
      this.forget();
      return;
    }
    try {
      await api().cancelJob(this.jobId);
    } catch (err) {
      if (err instanceof ApiError && err.kind === "not_found") {
        this.gone();
        return;
      }
      this.say(describeError(err), "error"); // e.g. it finished meanwhile: polling shows how
      return;
    }
    store.remove(this.jobId);
    this.setStatus("CANCELLED");
    this.say("Cancelled.");
    this.forget();
  }

  // A cancelled upload's card stays for the record, but the file may be added again as new.
  forget() {
    this.polling = false;
    clearTimeout(this.linksTimer);
    if (this.checksum) this.checksum.cancel();
    this.cancelButton.disabled = true;
    this.pauseButton.disabled = true;
    if (cards.get(this.jobId) === this) cards.delete(this.jobId);
    refreshCancelAll();
  }

  // Poll the job until it ends, then show its result or its reason for failing.
  async follow() {
    if (this.polling) return;
    this.polling = true;
    let failures = 0;
    while (this.polling) {
      let job;
      try {
        job = await api().getJob(this.jobId);
        failures = 0;
      } catch (err) {
        failures += 1;
        if (err instanceof ApiError && err.kind === "not_found") {
          this.polling = false;
          this.gone();
          return;
        }
        // A refused key (mistyped in the field just now, say) is put right at the top of the
        // page: keep asking, with the key as it is then.
        this.say(`${describeError(err)} Still trying…`, err instanceof ApiError && err.kind === "auth" ? "error" : "warning");
        await sleep(Math.min(30000, pollIntervalMs * 2 ** failures));
        continue;
      }
      this.showJob(job);
      if (TERMINAL.has(job.status)) {
        this.polling = false;
        await this.showOutcome(job);
        loadRecentJobs();
        return;
      }
      await sleep(pollIntervalMs);
    }
  }

  showJob(job) {
    this.setStatus(job.status);
    this.cancelButton.disabled = TERMINAL.has(job.status);
    if (this.message.classList.contains("error") || this.message.classList.contains("warning")) this.say("");
    const fraction = job.progress && Number.isFinite(job.progress.fraction) ? job.progress.fraction : null;
    if (job.status === "RUNNING") {
      this.workerBar.hidden = false;
      if (fraction !== null) this.workerBar.value = fraction;
      else this.workerBar.removeAttribute("value");
      this.workerText.textContent = fraction !== null
        ? `detecting: ${Math.round(fraction * 100)}%` : "detecting…";
      this.say("");
    } else if (job.status === "QUEUED") {
      this.workerText.textContent = "queued for a worker…";
    } else if (job.status === "AWAITING_UPLOAD") {
      this.workerText.textContent = this.upload ? "waiting for the upload to arrive in S3…"
        : "waiting for its upload, which another tab or browser started: if that one is gone, cancel this " +
          "job and add the file again";
    } else {
      this.workerBar.hidden = true;
      this.workerText.textContent = "";
    }
  }

  // Presigned result links die links_expire_in_s after the answer that gave them: a card left
  // open renews them before then, and a click after a sleep that outlived the timer (timers
  // stop while a laptop sleeps) fetches fresh ones first.
  links(job) {
    return renderLinks(job, { stale: () => Date.now() > this.linksGoodUntil, openFresh: (format) => this.openFresh(format) });
  }

  keepLinksFresh(job) {
    clearTimeout(this.linksTimer);
    const seconds = Number(job.result && job.result.links_expire_in_s);
    if (!(seconds > 0)) {
      this.linksGoodUntil = Infinity; // an API that does not say: links as they are
      return;
    }
    const renewInMs = Math.max(5, 0.8 * seconds) * 1000;
    this.linksGoodUntil = Date.now() + renewInMs;
    this.linksTimer = setTimeout(() => this.renewLinks().catch(() => {}), renewInMs);
  }

  async renewLinks() {
    clearTimeout(this.linksTimer);
    let job;
    try {
      job = await api().getJob(this.jobId);
      this.linkFailures = 0;
    } catch (err) {
      // A job that is gone, or a key no longer accepted, will not answer later either: a
      // click asks again (with the key then in the field). Anything else: back off and retry.
      if (!(err instanceof ApiError && ["not_found", "auth"].includes(err.kind)) && cards.get(this.jobId) === this) {
        this.linkFailures = (this.linkFailures || 0) + 1;
        const waitMs = Math.min(30 * 60000, 60000 * 2 ** (this.linkFailures - 1));
        this.linksTimer = setTimeout(() => this.renewLinks().catch(() => {}), waitMs);
      }
      throw err;
    }
    if (job.status !== "SUCCEEDED") return null;
    this.keepLinksFresh(job);
    const shown = this.resultArea.querySelector("[data-testid=result-links]");
    if (shown) shown.replaceWith(this.links(job));
    return job;
  }

  async openFresh(format) {
    try {
      const job = await this.renewLinks();
      const url = job && job.result && job.result.links[format];
      if (!url) throw new Error("the job has no such result any more");
      // In a new tab, as the links open: whatever S3 answers, this page and its uploads stay.
      // Opened after the renewal, so a strict popup blocker may refuse it; the renewed link
      // is then one click away.
      const tab = window.open(url, "_blank");
      if (tab) tab.opener = null;
      else this.say("The links were renewed: click the link again to download.", "info");
    } catch (err) {
      this.say(`Could not renew the link to the result: ${describeError(err)}`, "error");
    }
  }

  async showOutcome(job) {
    // Hiding the focused Pause or Cancel button dropped the keyboard focus to the page's top.
    const hadFocus = this.uploadRow.contains(document.activeElement);
    this.uploadRow.hidden = true;
    if (hadFocus) this.focusHeading();
    this.pauseButton.disabled = true;
    if (job.status === "SUCCEEDED") {
      this.say("");
      this.keepLinksFresh(job);
      this.resultArea.replaceChildren(this.links(job));
      try {
        const doc = await fetchResultDocument(job);
        this.resultArea.replaceChildren(renderResults(job, doc), this.links(job));
        const found = Array.isArray(doc.events) ? doc.events.length : 0;
        announce(`${this.title}: done, ${found} event${found === 1 ? "" : "s"} found`);
      } catch (err) {
        this.say(err.message, "error");
      }
    } else if (job.status === "FAILED") {
      const error = job.error || {};
      const reason = (error.message || "no reason given").replace(/\.$/, "");
      this.say(`The job failed${error.code ? ` (${error.code})` : ""}: ${reason}.`, "error");
    } else if (job.status === "EXPIRED") {
      this.say("The upload never arrived, so the job expired. Add the file again.", "error");
    } else {
      this.say("The job was cancelled.");
    }
  }
}

// A setting as typed: a number (a decimal comma, "0,5", is read as 0.5: a number field took
// it as "05", ten times the shortest event meant, without a word), undefined when blank (the
// model's value), null when it is no number at all ("0.5e").
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function settingValue(input) {
  const text = input.value.trim().replace(",", ".");
  if (text === "") return undefined;
  return NUMBER.test(text) ? Number(text) : null;
}

// A settings field's name, as its label shows it ("shortest event (s)").
function labelOf(input) {
  return input.closest("label").firstChild.textContent.trim();
}

// The label of a settings field that holds no number, or null: the job would otherwise
// quietly run with the model's value.
function unreadableSetting() {
  for (const input of document.querySelectorAll("[data-param]")) {
    if (settingValue(input) === null) return labelOf(input);
  }
  return null;
}

// The detection parameters filled in (blank fields are left to the model). Read when the
// files are added: a file is hashed first, and settings changed meanwhile for the next batch
// must not reach its job.
function detectionParams() {
  const params = {};
  for (const input of document.querySelectorAll("[data-param]")) {
    const value = settingValue(input);
    if (value !== undefined && value !== null) params[input.dataset.param] = value;
  }
  return params;
}

// What a job's settings are, for its card, named as the form names them.
function describeSettings(params) {
  const entries = Object.entries(params || {});
  if (!entries.length) return "Settings: the model's.";
  const named = (name) => {
    const input = document.querySelector(`[data-param="${name}"]`);
    return input ? labelOf(input) : name.replace(/_/g, " ");
  };
  return `Settings: ${entries.map(([name, value]) => `${named(name)} ${value}`).join(", ")}; the rest the model's.`;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// A few names of a list, for a notice: "a.wav, b.wav, c.wav and 12 more".
function someOf(names) {
  const shown = names.slice(0, 3).join(", ");
  return names.length > 3 ? `${shown} and ${names.length - 3} more` : shown;
}

// Shown while two or more cards are unfinished: a folder dropped by mistake was cancelled card by
// card, a question each.
function refreshCancelAll() {
  const button = $("#cancel-all");
  if (!button) return;
  const count = [...allCards].filter((card) => card.unfinished()).length;
  button.hidden = count < 2;
  button.textContent = `Cancel all ${count} unfinished`;
}

async function cancelAll() {
  const unfinished = [...allCards].filter((card) => card.unfinished());
  if (!unfinished.length) return;
  const sent = unfinished.reduce((total, card) => total + card.discardedIfCancelled(), 0);
  const lost = sent ? ` The ${formatBytes(sent)} already sent will be discarded.` : "";
  if (!window.confirm(`Cancel the jobs of all ${unfinished.length} recordings not finished?${lost} ` +
    "Their results will not be made; those finished stay.")) return;
  // Those waiting for their check first: a running check's end would start the next one.
  const waiting = unfinished.filter((card) => !card.jobId).reverse();
  await Promise.all([...waiting, ...unfinished.filter((card) => card.jobId)].map((card) => card.stop()));
  refreshCancelAll();
}

// `notice` ([text, kind]) replaces the previous one, as an empty one does; what the files'
// own checks find is added to it, file names gathered by what was found (a folder dropped
// twice said only its last file's "already being prepared", its count gone).
async function addFiles(files, notice = ["", "error"]) {
  if (!$("#api-key").value.trim()) {
    showNotice(NEEDS_KEY);
    $("#api-key").focus();
    return;
  }
  const unreadable = unreadableSetting();
  if (unreadable) {
    showNotice(`Detection settings: "${unreadable}" is not a number. Correct it or clear it, then add the files again.`);
    return;
  }
  showNotice(...notice);
  const params = detectionParams(); // as they are now, for every file of this drop
  const elsewhere = await uploadsElsewhere();
  const found = { preparing: [], elsewhere: [], sent: [], again: [], onPage: [] };
  const elsewhereJobs = new Set();
  for (const file of files) {
    const name = pathOf(file);
    if (preparing.has(cardKey(file))) {
      found.preparing.push(name);
      continue;
    }
    const pending = store.match(file);
    if (pending && elsewhere.has(pending.job_id)) {
      found.elsewhere.push(name);
      elsewhereJobs.add(pending.job_id);
      continue;
    }
    const sent = !pending && finishedFiles.get(cardKey(file));
    if (sent) {
      const status = cards.get(sent.jobId)?.node.dataset.jobStatus;
      if (sent.settings === JSON.stringify(params) && !ENDED_UNANALYSED.has(status)) {
        found.sent.push(name); // the API would answer with the same job
        continue;
      }
      found.again.push(name);
    }
    const card = pending && cards.get(pending.job_id);
    if (card) { // already on the page: pick it up there rather than start a second job
      if (card.upload && ["failed", "paused"].includes(card.upload.state)) card.togglePause();
      else found.onPage.push(name);
      continue;
    }
    new JobCard(file, name).start(pending, params);
  }
  const is = (names) => `${someOf(names)} ${names.length === 1 ? "is" : "are"}`;
  const said = [
    // Told apart by name, size and date only (reading both to compare would take as long as
    // hashing them): two recorders' same-named files of one size and date are possible.
    found.preparing.length && `${is(found.preparing)} already being prepared below (the same name, size and date; ` +
      "if another recording, rename it and add it again).",
    found.elsewhere.length && `${is(found.elsewhere)} being uploaded in another tab of this browser.`,
    found.sent.length && `${is(found.sent)} already sent from this page with these settings: see ` +
      `${found.sent.length === 1 ? "its card" : "their cards"} below.`,
    found.again.length && `${someOf(found.again)}: sent from this page before with other settings, or ` +
      `${found.again.length === 1 ? "its job" : "their jobs"} ended without results; analysed again as a new job.`,
    found.onPage.length && `${is(found.onPage)} already being uploaded below.`,
  ].filter(Boolean);
  if (said.length) {
    showNotice([notice[0], ...said].filter(Boolean).join(" "), notice[0] ? notice[1] : "info");
    if (elsewhereJobs.size) uploadingElsewhere = { jobIds: elsewhereJobs, text: $("#notice").textContent };
  }
  renderPending();
}

// The recordings found in folders, and files dropped beside them, under one notice saying
// how many recordings the folders held and what was left out.
function addFolders(names, found, beside = []) {
  const notice = describeFolders(names, found);
  const files = [...beside, ...found.files];
  if (files.length) addFiles(files, notice);
  else showNotice(...notice);
}

// Uploads interrupted by a reload or a closed tab: the same file resumes them.
let pendingShown = null;
// The notice that a file is being uploaded in another tab: it goes when that tab's upload ends
// or the tab closes (it stayed, telling the user not to do what the list below now offers).
let uploadingElsewhere = null;

async function renderPending() {
  const elsewhere = await uploadsElsewhere();
  if (uploadingElsewhere && ![...uploadingElsewhere.jobIds].some((jobId) => elsewhere.has(jobId))) {
    if ($("#notice").textContent === uploadingElsewhere.text) showNotice("");
    uploadingElsewhere = null;
  }
  const records = Object.values(store.all()).filter((r) => !cards.has(r.job_id));
  // Rebuilt only when it changes: it is checked every few seconds, and a rebuild would take
  // the keyboard focus off its buttons.
  const shown = JSON.stringify(records.map((r) => [r.job_id, elsewhere.has(r.job_id)]));
  if (shown === pendingShown) return;
  pendingShown = shown;
  const section = $("#pending");
  section.hidden = records.length === 0;
  $("#pending-list").replaceChildren(...records.map((r) => elsewhere.has(r.job_id)
    ? el("li", { "data-job-id": r.job_id, "data-live": "true" },
      el("strong", {}, r.name), ` (${formatBytes(r.size)}) — being uploaded in another tab of this browser.`)
    : el("li", { "data-job-id": r.job_id },
    el("strong", {}, r.name), ` (${formatBytes(r.size)}) — pick or drop the same file to resume. `,
    el("button", {
      type: "button", className: "danger", "aria-label": `Discard the upload of ${r.name}`, onclick: async () => {
        if (!window.confirm(`Discard the interrupted upload of ${r.name}? Its job is cancelled and the parts sent are removed.`)) return;
        // Taken up meanwhile (here or in another tab, while the question was open): keep it.
        if (cards.has(r.job_id) || (await uploadsElsewhere()).has(r.job_id)) {
          renderPending();
          return;
        }
        store.remove(r.job_id);
        try {
          await api().cancelJob(r.job_id);
        } catch {
          // Already gone or cancelled: nothing left to clean up.
        }
        renderPending();
      },
    }, "Discard"))));
}

// How many earlier jobs the list shows; "Show more" adds a page. Only the API's first page
// used to be read, so after a batch of more than 20 files the oldest results were out of reach.
const RECENT_PAGE = 20;
let recentWanted = RECENT_PAGE;

async function loadRecentJobs() {
  const list = $("#recent-list");
  if (!$("#api-key").value.trim()) return;
  try {
    // Those on the page have a card; interrupted uploads are resumed by picking the file.
    const saved = store.all();
    const jobs = [];
    let token = null;
    let more = false;
    do {
      const answer = await api().listJobs(token);
      const page = Array.isArray(answer) ? answer : answer.jobs || answer.items || [];
      jobs.push(...page.filter((job) => !cards.has(job.job_id) && !(job.job_id in saved)));
      token = answer.next_token || null;
      more = Boolean(token) || jobs.length > recentWanted;
    } while (token && jobs.length <= recentWanted);
    const when = (iso) => (iso ? `${iso.replace("T", " ").slice(0, 16)} UTC` : "");
    $("#recent-more").hidden = !more;
    list.replaceChildren(...jobs.slice(0, recentWanted).map((job) => el("li", { "data-job-id": job.job_id },
      el("span", { className: `badge status-${String(job.status).toLowerCase()}` }, job.status), " ",
      el("strong", {}, job.filename || job.job_id), " ",
      el("span", { className: "muted" }, when(job.created_at)), " ",
      el("button", {
        type: "button", onclick: () => {
          if (cards.has(job.job_id)) return;
          const card = new JobCard(null, job.filename || job.job_id);
          card.setJobId(job.job_id);
          card.uploadDone();
          card.follow();
          loadRecentJobs();
        },
        // Two recorders' same-named files are told apart by the job id.
        "aria-label": `Show ${job.filename || "the job"} (job ${job.job_id})`,
      }, "Show"))));
    $("#recent").hidden = jobs.length === 0;
  } catch (err) {
    if (err instanceof ApiError && err.kind === "auth") setKeyStatus(describeError(err), "error");
  }
}

async function checkKey() {
  const client = api();
  if (!client.apiKey) {
    setKeyStatus("No key yet.", "");
    return false;
  }
  try {
    await client.listJobs();
    setKeyStatus("Key accepted.", "ok");
    loadRecentJobs();
    return true;
  } catch (err) {
    setKeyStatus(describeError(err), "error");
    return !(err instanceof ApiError && err.kind === "auth"); // a refused key is not kept
  }
}

function setup() {
  $("#api-base").textContent = apiBaseUrl || window.location.origin;
  if (refusedApi !== null) {
    showNotice(`This link named another API (${refusedApi}), which this console does not send keys or recordings ` +
      `to: it uses its own, ${apiBaseUrl || window.location.origin}. (A deployment lists other APIs it trusts in ` +
      "config.js, otherApis.)", "warning");
  }
  const keyInput = $("#api-key");
  if (apiBaseUrl === configuredApi && window.localStorage.getItem(LEGACY_KEY_STORAGE) !== null) {
    window.localStorage.setItem(KEY_STORAGE, window.localStorage.getItem(LEGACY_KEY_STORAGE));
    window.localStorage.removeItem(LEGACY_KEY_STORAGE);
  }
  keyInput.value = window.localStorage.getItem(KEY_STORAGE) || "";
  $("#key-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = keyInput.value.trim();
    // Kept unless refused, and unless Forget (or another key) came while it was being checked.
    if (await checkKey() && keyInput.value.trim() === key) {
      window.localStorage.setItem(KEY_STORAGE, key);
      if ($("#notice").textContent === NEEDS_KEY) showNotice(""); // said before the key was there
    }
  });
  $("#forget-key").addEventListener("click", () => {
    window.localStorage.removeItem(KEY_STORAGE);
    keyInput.value = "";
    setKeyStatus("Key forgotten.");
  });

  $("#cancel-all").addEventListener("click", cancelAll);
  $("#recent-more").addEventListener("click", () => {
    recentWanted += RECENT_PAGE;
    loadRecentJobs();
  });

  const input = $("#file-input");
  input.accept = ["audio/*", ...AUDIO_SUFFIXES].join(",");
  input.addEventListener("change", () => {
    addFiles([...input.files]);
    input.value = "";
  });
  const folderInput = $("#folder-input");
  folderInput.addEventListener("change", () => {
    const files = [...folderInput.files];
    folderInput.value = "";
    const names = [...new Set(files.map((file) => file.webkitRelativePath.split("/")[0]))];
    addFolders(names, recordingsOfPicked(files));
  });
  const drop = $("#drop");
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const name of ["dragleave", "drop"]) drop.addEventListener(name, () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (event) => {
    event.preventDefault();
    // A folder arrives as a File that cannot be read (it got an error card once): its
    // recordings are found by walking its entries, which must be taken before the handler
    // returns. Files dropped beside it go up as they are.
    const items = [...(event.dataTransfer.items || [])].filter((item) => item.kind === "file");
    const entries = items.map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null));
    const folders = entries.filter((entry) => entry && entry.isDirectory);
    const files = items.length
      ? items.filter((_, i) => !(entries[i] && entries[i].isDirectory)).map((item) => item.getAsFile()).filter(Boolean)
      : [...event.dataTransfer.files];
    if (!folders.length) {
      addFiles(files);
      return;
    }
    addFolders(folders.map((folder) => folder.name), await recordingsOfDropped(folders), files);
  });
  // A file dropped beside the zone would otherwise open in the tab and leave the console.
  for (const name of ["dragover", "drop"]) window.addEventListener(name, (event) => event.preventDefault());

  // Losing the connection pauses uploads instead of burning their retries; it coming back
  // resumes the ones it paused or that failed on the lost connection first.
  window.addEventListener("offline", () => {
    for (const card of cards.values()) {
      if (card.upload && card.upload.state === "uploading") {
        card.upload.pause("Network failure: the browser is offline. The upload resumes when the connection returns.");
        card.upload.resumeWhenOnline = true;
      }
    }
  });
  window.addEventListener("online", () => {
    for (const card of cards.values()) {
      if (card.upload && card.upload.resumeWhenOnline && card.upload.state === "paused") {
        card.upload.resume();
      }
    }
  });
  window.addEventListener("beforeunload", (event) => {
    // Uploading, or assembling/hashing its last part: leaving would cost a resume (and a re-hash).
    const busy = [...cards.values()].some((c) => c.upload && ["uploading", "completing"].includes(c.upload.state));
    if (busy) {
      event.preventDefault();
      event.returnValue = ""; // older browsers ask only when this is set
    }
  });

  // Other tabs' uploads come and go: their records (storage events) and their locks (asked
  // again every few seconds; a freed lock sends no event) change this tab's list.
  window.setInterval(() => renderPending(), PENDING_REFRESH_MS);
  window.addEventListener("storage", (event) => {
    if (event.key === null || event.key.startsWith("anemonefish.console.upload:")) renderPending();
  });

  renderPending();
  if (keyInput.value) checkKey();
  document.body.dataset.ready = "true";
}

setup();
