// The Idempotency-Key of a file's job: the same file sent with the same settings names the
// same job, so the API answers with the job it made before (docs/api.md, Idempotency). A
// folder dropped again after a reload then shows its finished recordings' jobs, where each
// went up again, multi-GB files included, as a new job.

import { sha256 } from "./vendor/noble-hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "./vendor/noble-hashes/utils.js";

// Jobs that ended without results (cancelled, expired, failed) are not what a file added again
// asks for: the next key of its line makes a new job. Past this many, a key of its own.
export const MAX_KEYED_ATTEMPTS = 20;

const sorted = (params) => Object.fromEntries(Object.entries(params || {}).sort(([a], [b]) => (a < b ? -1 : 1)));

// `request` is the body POST /jobs gets (its fields, as createJob takes them): the API refuses a
// key sent again with another body, so everything in the body is in the key. The file's date
// stands for its content when the digest is not known yet (a large file is hashed while it
// goes up); `attempt` counts the earlier jobs of this file that ended without results.
export function jobKey({ filename, sizeBytes, contentType, params, sha256: digest }, lastModified, attempt = 0) {
  const material = JSON.stringify([filename, sizeBytes, lastModified, contentType || null, sorted(params),
    digest || null, attempt]);
  return `console-${bytesToHex(sha256(utf8ToBytes(material))).slice(0, 40)}`;
}
