// The SHA-256 of a file being uploaded, computed in a worker (checksum-worker.js) while the
// parts go up; the API checks the upload against it (POST /jobs, or upload/complete).
// hashFile never throws: a browser that cannot start the worker gets a rejected promise.

export class ChecksumError extends Error {
  constructor(message, name = "ChecksumError") {
    super(message);
    this.name = name; // NotReadableError / NotFoundError: the file itself cannot be read
  }
}

export function hashFile(file, onProgress = () => {}) {
  let worker;
  try {
    worker = new Worker(new URL("./checksum-worker.js", import.meta.url), { type: "module" });
  } catch (err) {
    const promise = Promise.reject(new ChecksumError(`The checksum could not be computed: ${err.message || err}`));
    promise.catch(() => {}); // whoever awaits it still sees the rejection
    return { promise, cancel() {} };
  }
  let settle;
  const promise = new Promise((resolve, reject) => {
    settle = { resolve, reject };
    worker.onmessage = ({ data }) => {
      if (data.hashed !== undefined) {
        onProgress(data.hashed);
        return;
      }
      worker.terminate();
      if (data.sha256) resolve(data.sha256);
      else reject(new ChecksumError(`Could not read the file to check it: ${data.error}`, data.name || undefined));
    };
    worker.onerror = (event) => {
      reject(new ChecksumError(`The checksum could not be computed: ${event.message || "worker failed"}`));
      worker.terminate();
    };
  });
  promise.catch(() => {}); // an early failure is reported when the promise is awaited, not before
  worker.postMessage({ file });
  return {
    promise,
    cancel() {
      worker.terminate();
      settle.reject(new ChecksumError("cancelled"));
    },
  };
}
