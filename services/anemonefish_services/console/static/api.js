// Thin client of the jobs HTTP API (v1). Every failure becomes an ApiError whose `kind`
// says what the user should be told: a refused key, a request the API rejected, a file
// that is too large, a network failure, or a server error.

export class ApiError extends Error {
  constructor({ kind, status = 0, code = "", message, details = null, field = null }) {
    super(message);
    this.name = "ApiError";
    this.kind = kind; // "auth" | "too_large" | "invalid" | "not_found" | "network" | "server"
    this.status = status;
    this.code = code;
    this.details = details;
    this.field = field;
  }
}

// The field a 400 points at, from the error's details in whichever shape the API uses
// (a field name, a list of pydantic-style errors with `loc`, or an object keyed by field).
function fieldOf(details) {
  if (!details) return null;
  if (typeof details === "string") return details;
  if (typeof details.field === "string") return details.field;
  if (Array.isArray(details) && details.length) {
    const first = details[0];
    if (first && Array.isArray(first.loc)) return first.loc.join(".");
    if (first && typeof first.field === "string") return first.field;
  }
  if (typeof details === "object" && !Array.isArray(details)) {
    const keys = Object.keys(details);
    if (keys.length === 1) return keys[0];
  }
  return null;
}

function classify(status, code, field) {
  if (status === 401 || status === 403) return "auth";
  if (status === 404) return "not_found";
  const tooLarge = status === 413 || /too_large|too_big|max_upload|size/.test(code) ||
    field === "size_bytes" || (field && field.endsWith(".size_bytes"));
  if (tooLarge && status < 500) return "too_large";
  if (status >= 400 && status < 500) return "invalid";
  return "server";
}

export class ApiClient {
  constructor({ baseUrl, apiKey }) {
    this.baseUrl = (baseUrl || "").replace(/\/+$/, "");
    this.apiKey = apiKey;
  }

  get baseLabel() {
    return this.baseUrl || window.location.origin;
  }

  // onStatus(status) hears the HTTP status of an answer (POST /jobs: 201 made, 200 made before).
  async request(method, path, { body, headers = {}, signal, onStatus = null } = {}) {
    const init = {
      method,
      headers: { "x-api-key": this.apiKey, Accept: "application/json", ...headers },
      signal,
      // A redirect would carry the key to wherever it points (fetch keeps custom headers).
      redirect: "error",
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(this.baseUrl + path, init);
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new ApiError({
        kind: "network",
        message: `Network failure: could not reach the API at ${this.baseLabel}. ` +
          "Check your connection; nothing uploaded so far is lost.",
      });
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (onStatus) onStatus(response.status);
    if (!response.ok) {
      const error = (data && data.error) || {};
      const code = error.code || (data && data.message ? "gateway" : "");
      const details = error.details ?? null;
      const field = fieldOf(details);
      const kind = classify(response.status, code, field);
      const serverMessage = error.message || (data && data.message) || response.statusText ||
        `HTTP ${response.status}`;
      throw new ApiError({ kind, status: response.status, code, message: serverMessage, details, field });
    }
    return data;
  }

  health() {
    return this.request("GET", "/health");
  }

  // -> { job, created }: with an idempotencyKey the API answers a key it has seen with the job
  // that key made before (200), not a new one (201).
  async createJob({ filename, sizeBytes, contentType, params, sha256, idempotencyKey = null }) {
    const body = { filename, size_bytes: sizeBytes };
    if (contentType) body.content_type = contentType;
    if (sha256) body.sha256 = sha256;
    if (params && Object.keys(params).length) body.params = params;
    let status = 0;
    const job = await this.request("POST", "/jobs", {
      body,
      headers: idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {},
      onStatus: (answered) => { status = answered; },
    });
    return { job, created: status !== 200 };
  }

  getJob(jobId) {
    return this.request("GET", `/jobs/${encodeURIComponent(jobId)}`);
  }

  listJobs(nextToken = null) {
    return this.request("GET", nextToken ? `/jobs?next_token=${encodeURIComponent(nextToken)}` : "/jobs");
  }

  cancelJob(jobId) {
    return this.request("DELETE", `/jobs/${encodeURIComponent(jobId)}`);
  }

  partUrls(jobId, partNumbers) {
    return this.request("POST", `/jobs/${encodeURIComponent(jobId)}/upload/parts`, {
      body: { part_numbers: partNumbers },
    });
  }

  uploadedParts(jobId) {
    return this.request("GET", `/jobs/${encodeURIComponent(jobId)}/upload/parts`);
  }

  completeUpload(jobId, parts, sha256 = null) {
    return this.request("POST", `/jobs/${encodeURIComponent(jobId)}/upload/complete`, {
      body: sha256 ? { parts, sha256 } : { parts },
    });
  }
}

// What to tell the user about an ApiError, in one sentence or two.
export function describeError(err, { filename, sizeLabel } = {}) {
  if (!(err instanceof ApiError)) return String(err && err.message ? err.message : err);
  switch (err.kind) {
    case "auth":
      return `The API key was refused (HTTP ${err.status}): ${err.message}. ` +
        "Check the key in the field at the top of the page.";
    case "too_large":
      return `${filename || "The file"}${sizeLabel ? ` (${sizeLabel})` : ""} is too large ` +
        `to upload: ${err.message}`;
    case "invalid":
      return `The API rejected the request${err.field ? ` (field: ${err.field})` : ""}: ${err.message}`;
    case "not_found":
      return `Not found: ${err.message}. The job may belong to another API key or have expired.`;
    case "network":
      return err.message;
    default:
      return `The API failed (HTTP ${err.status}): ${err.message}. Try again in a moment.`;
  }
}
