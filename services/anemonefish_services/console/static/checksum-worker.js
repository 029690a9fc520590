// Hashes one File off the page's thread: SHA-256 over 8 MiB slices, read one at a time, so
// a multi-GB recording is never held whole (WebCrypto's digest would need it in one buffer).

import { sha256 } from "./vendor/noble-hashes/sha2.js";
import { bytesToHex } from "./vendor/noble-hashes/utils.js";

const SLICE_BYTES = 8 * 1024 * 1024;

self.onmessage = async ({ data: { file } }) => {
  try {
    const hasher = sha256.create();
    for (let offset = 0; offset < file.size; offset += SLICE_BYTES) {
      const piece = new Uint8Array(await file.slice(offset, offset + SLICE_BYTES).arrayBuffer());
      hasher.update(piece);
      self.postMessage({ hashed: offset + piece.length });
    }
    self.postMessage({ sha256: bytesToHex(hasher.digest()) });
  } catch (err) {
    // The name tells a file that cannot be read (NotReadableError, NotFoundError) from the rest.
    self.postMessage({ error: String(err && err.message ? err.message : err), name: err && err.name });
  }
};
