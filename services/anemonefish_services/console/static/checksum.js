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
let hashing = 0;
// Checks a job waits for go before those of uploads already under way ("background"), which
// need their digest only when their last part is up.
const waiting = { first: [], background: [] };
// Workers kept between checks: starting a module worker costs ~150 ms, which a folder of
// small files paid once a file.
const idle = [];

function nextInLine() {
  const next = waiting.first.shift() || waiting.background.shift();
  if (next) next();
  else hashing -= 1;
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
      nextInLine();
    }
    return true;
  };
  const run = () => {
    try {
      worker = idle.pop() || new Worker(new URL("./checksum-worker.js", import.meta.url), { type: "module" });
    } catch (err) {
      nextInLine();
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
  const line = background ? waiting.background : waiting.first;
  if (hashing < HASHES_AT_ONCE) {
    hashing += 1;
    run();
  } else {
    line.push(run);
    onWaiting();
  }
  return {
    promise,
    cancel() {
      const queued = line.indexOf(run);
      if (queued >= 0) line.splice(queued, 1);
      if (end()) settle.reject(new ChecksumError("cancelled"));
    },
  };
}
