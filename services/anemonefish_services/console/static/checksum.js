// The SHA-256 of a file being uploaded, computed in a worker (checksum-worker.js) while the
// parts go up; the API checks the upload against it (POST /jobs, or upload/complete).
// hashFile never throws: a browser that cannot start the worker gets a rejected promise.

export class ChecksumError extends Error {
  constructor(message, name = "ChecksumError") {
    super(message);
    this.name = name; // NotReadableError / NotFoundError: the file itself cannot be read
  }
}

// Files hashed at once. Each check is a Web Worker, with its own heap and 8 MiB slices,
// reading at the speed of one core: a dropped folder of a season's recordings started one
// for every file, hundreds at once, all finishing together. The rest wait their turn.
export const HASHES_AT_ONCE = Math.max(1, Math.min(4, (navigator.hardwareConcurrency || 2) - 1));
// Checks of uploads already under way ("background"; they need their digest only when their
// last part is up) take turns one at a time beside those: a multi-GB one held every turn, and
// the files behind it waited for it before their jobs could be made.
const AT_ONCE = { first: HASHES_AT_ONCE, background: 1 };
const running = { first: 0, background: 0 };
const waiting = { first: [], background: [] };
// Workers kept between checks: a new module worker a file cost a folder of small files about
// 0.15 s each (100 files of 100 bytes: 14.8 s, against 0.23 s with one worker; headless
// Chromium on this machine, seen in a review, not a benchmark).
const idle = [];

function nextInLine(line) {
  const next = waiting[line].shift();
  if (next) next();
  else running[line] -= 1;
}

// `onWaiting` is called if the file must wait for others' checks, `onStart` when its own begins.
export function hashFile(file, onProgress = () => {}, { onWaiting = () => {}, onStart = () => {}, background = false } = {}) {
  let settle;
  const promise = new Promise((resolve, reject) => {
    settle = { resolve, reject };
  });
  promise.catch(() => {}); // an early failure is reported when the promise is awaited, not before
  let worker = null;
  let ended = false;
  // Once, whichever of success, failure or cancel comes first; a worker that finished its
  // file goes back to the idle ones, any other is stopped.
  const end = (reusable = false) => {
    if (ended) return false;
    ended = true;
    if (worker) {
      worker.onmessage = null;
      worker.onerror = null;
      if (reusable) idle.push(worker);
      else worker.terminate();
      nextInLine(line);
    }
    return true;
  };
  const run = () => {
    try {
      worker = idle.pop() || new Worker(new URL("./checksum-worker.js", import.meta.url), { type: "module" });
    } catch (err) {
      nextInLine(line);
      ended = true;
      settle.reject(new ChecksumError(`The checksum could not be computed: ${err.message || err}`));
      return;
    }
    onStart();
    worker.onmessage = ({ data }) => {
      if (data.hashed !== undefined) {
        onProgress(data.hashed);
        return;
      }
      if (!end(true)) return;
      if (data.sha256) settle.resolve(data.sha256);
      else settle.reject(new ChecksumError(`Could not read the file to check it: ${data.error}`, data.name || undefined));
    };
    worker.onerror = (event) => {
      if (end()) settle.reject(new ChecksumError(`The checksum could not be computed: ${event.message || "worker failed"}`));
    };
    worker.postMessage({ file });
  };
  const line = background ? "background" : "first";
  if (running[line] < AT_ONCE[line]) {
    running[line] += 1;
    run();
  } else {
    waiting[line].push(run);
    onWaiting();
  }
  return {
    promise,
    cancel() {
      const queued = waiting[line].indexOf(run);
      if (queued >= 0) waiting[line].splice(queued, 1);
      if (end()) settle.reject(new ChecksumError("cancelled"));
    },
  };
}
