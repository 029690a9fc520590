// A job's result: the events as a table and as a timeline over the recording, with links
// to every result document. Everything from the network goes in through textContent.

import { formatDuration, formatTimestamp } from "./format.js";

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "className") node.className = value;
    else if (name === "style") Object.assign(node.style, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const LINK_LABELS = [
  ["json", "JSON"],
  ["csv", "CSV"],
  ["raven", "Raven selection table"],
  ["audacity", "Audacity labels"],
  ["scores", "window scores"],
];

// The result document (events.json) through its presigned link.
export async function fetchResultDocument(job) {
  const url = job.result && job.result.links && job.result.links.json;
  if (!url) throw new Error("The job has no link to its result document.");
  let response;
  try {
    response = await fetch(url);
  } catch {
    throw new Error("Could not download the result document (network failure, or the " +
      "output bucket's CORS does not allow this page). The links below still work.");
  }
  if (!response.ok) throw new Error(`Could not download the result document (HTTP ${response.status}).`);
  return response.json();
}

// The links to the result documents. ``stale`` (optional) says when the presigned links may
// have expired; a click on one then goes to ``openFresh(format)`` instead.
export function renderLinks(job, { stale = () => false, openFresh = null } = {}) {
  const links = (job.result && job.result.links) || {};
  const items = LINK_LABELS.filter(([key]) => links[key]).map(([key, label]) =>
    el("li", {}, el("a", {
      href: links[key], target: "_blank", rel: "noopener", "data-format": key,
      // Read out of context ("JSON, JSON, JSON" for three cards), a link names its recording.
      "aria-label": `${label} of ${job.filename || job.job_id}`,
      onclick: (event) => {
        if (openFresh && stale()) {
          event.preventDefault();
          openFresh(key);
        }
      },
    }, label)));
  return el("ul", { className: "links", "data-testid": "result-links" }, items);
}

function timelineTicks(duration) {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
  const step = steps.find((s) => duration / s <= 8) || Math.ceil(duration / 8 / 3600) * 3600;
  const ticks = [];
  for (let t = 0; t <= duration + 1e-9; t += step) ticks.push(t);
  return ticks;
}

export function renderTimeline(events, duration, onPick) {
  const track = el("div", { className: "timeline-track" });
  events.forEach((event, index) => {
    const left = (event.start / duration) * 100;
    const width = Math.max(((event.end - event.start) / duration) * 100, 0.15);
    const confidence = Number(event.confidence ?? event.peak_confidence ?? 1);
    track.append(el("button", {
      type: "button",
      className: `timeline-event label-${String(event.label).replace(/[^a-z0-9_-]/gi, "")}`,
      style: { left: `${left}%`, width: `${width}%`, opacity: String(0.45 + 0.55 * Math.min(1, confidence)) },
      title: `${event.label} ${formatTimestamp(event.start)}–${formatTimestamp(event.end)} ` +
        `(confidence ${confidence.toFixed(2)})`,
      "data-index": index,
      // Not a tab stop each (hundreds in a long recording, all before the download links):
      // the table below holds every event for the keyboard and for screen readers.
      tabindex: -1,
      "aria-hidden": "true",
      onclick: () => onPick(index),
    }));
  });
  const axis = el("div", { className: "timeline-axis" }, timelineTicks(duration).map((t) =>
    el("span", { className: "tick", style: { left: `${(t / duration) * 100}%` } }, formatTimestamp(t).replace(/\.00$/, ""))));
  return el("div", { className: "timeline", "data-testid": "timeline", role: "group", "aria-label": "events over the recording" }, track, axis);
}

export function renderEventsTable(events) {
  const rows = events.map((event, index) => el("tr", { "data-index": index },
    el("td", { className: "num" }, index + 1),
    el("td", { className: "num", "data-field": "start", "data-value": event.start }, formatTimestamp(event.start)),
    el("td", { className: "num", "data-field": "end", "data-value": event.end }, formatTimestamp(event.end)),
    el("td", { className: "num" }, (event.end - event.start).toFixed(2)),
    el("td", { "data-field": "label" }, event.label),
    el("td", { className: "num", "data-field": "confidence", "data-value": event.confidence },
      Number(event.confidence).toFixed(2)),
  ));
  return el("table", { className: "events", "data-testid": "events-table" },
    el("thead", {}, el("tr", {},
      el("th", { className: "num" }, "#"), el("th", { className: "num" }, "start"),
      el("th", { className: "num" }, "end"), el("th", { className: "num" }, "length (s)"),
      el("th", {}, "label"), el("th", { className: "num" }, "confidence"))),
    el("tbody", {}, rows));
}

export function renderResults(job, doc) {
  const events = Array.isArray(doc.events) ? doc.events : [];
  const duration = Number((doc.audio && doc.audio.duration_s) || (job.result && job.result.audio_duration_s) || 0);
  const summary = el("p", { className: "summary" },
    `${events.length} event${events.length === 1 ? "" : "s"} in ${formatDuration(duration)} of audio`,
    doc.processing_time_s !== undefined ? `, found in ${Number(doc.processing_time_s).toFixed(1)} s` : "",
    doc.model && doc.model.name ? ` by ${doc.model.name} ${doc.model.version || ""}` : "", ".");
  const table = renderEventsTable(events);
  const pick = (index) => {
    for (const row of table.querySelectorAll("tr.picked")) row.classList.remove("picked");
    const row = table.querySelector(`tbody tr[data-index="${index}"]`);
    if (row) {
      row.classList.add("picked");
      row.scrollIntoView({ block: "nearest" });
    }
  };
  const parts = [summary];
  // The detection's warnings (a file cut short, a sample rate below the model's band): the
  // events stand, but the user must know what they do not cover.
  for (const warning of (job.result && job.result.warnings) || []) {
    parts.push(el("p", { className: "warning", role: "note", "data-testid": "result-warning" }, `Warning: ${warning}`));
  }
  if (duration > 0) parts.push(renderTimeline(events, duration, pick));
  parts.push(events.length
    ? el("div", { className: "table-wrap" }, table)
    : el("p", { className: "muted", "data-testid": "no-events" }, "No calls found in this recording."));
  return el("div", { className: "results", "data-testid": "results" }, parts);
}
