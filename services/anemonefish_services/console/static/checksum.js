// The SHA-256 of a file being uploaded, computed in a worker (checksum-worker.js) while the
// parts go up; the API checks the upload against it (POST /jobs, or upload/complete).

export function hashFile(file, onProgress = () => {}) {
  const worker = new Worker(new URL("./checksum-worker.js", import.meta.url), { type: "module" });
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
      else reject(new Error(`Could not read the file to check it: ${data.error}`));
    };
    worker.onerror = (event) => {
      reject(new Error(`The checksum could not be computed: ${event.message || "worker failed"}`));
      worker.terminate();
    };
  });
  worker.postMessage({ file });
  return {
    promise,
    cancel() {
      worker.terminate();
      promise.catch(() => {}); // nobody waits for a cancelled checksum
      settle.reject(new Error("cancelled"));
    },
  };
}
