// The recordings inside a dropped or chosen folder: a season's card from a recorder is a
// folder, often with logs and settings files beside the audio, and sub-folders per day.

// The suffixes the detector decodes (anemonefish.audio.AUDIO_SUFFIXES; a test keeps the two
// equal). Only a folder's files are filtered by them, as `anemonefish detect FOLDER` does: a
// file chosen by itself is the user's choice, and the worker names what it cannot read.
export const AUDIO_SUFFIXES = [
  ".aif", ".aifc", ".aiff", ".au", ".caf", ".flac", ".mp3", ".oga", ".ogg", ".opus", ".rf64",
  ".snd", ".w64", ".wav",
];

// A path that starts with the folder dropped or chosen names a recording: an audio suffix,
// and nothing hidden below that folder (".git", macOS's "._name.wav" resource forks are not
// recordings; the folder itself may be hidden: the user chose it).
export function isRecordingPath(path) {
  const parts = path.split("/").filter(Boolean);
  if (!parts.length || isHiddenBelow(path)) return false;
  const name = parts[parts.length - 1];
  const dot = name.lastIndexOf(".");
  return dot > 0 && AUDIO_SUFFIXES.includes(name.slice(dot).toLowerCase());
}

const comparePaths = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

// A file's path below the folder it came in (the folder's name first), else its name: two
// recorders' sub-folders often hold the same file names.
export function pathOf(file) {
  return file.relativePath || file.webkitRelativePath || file.name;
}

// What a folder held: its recordings (Files, in path order), how many other files were left
// out (hidden ones not counted), and the paths that could not be read.
function isHiddenBelow(path) {
  const parts = path.split("/").filter(Boolean);
  return parts.slice(parts.length > 1 ? 1 : 0).some((part) => part.startsWith("."));
}

export function recordingsOfPicked(files) {
  const listed = files.map((file) => ({ path: file.webkitRelativePath || file.name, file }))
    .filter(({ path }) => !isHiddenBelow(path));
  const kept = listed.filter(({ path }) => isRecordingPath(path))
    .sort((a, b) => comparePaths(a.path, b.path));
  return { files: kept.map(({ file }) => file), others: listed.length - kept.length, unreadable: [] };
}

const readBatch = (reader) => new Promise((resolve, reject) => reader.readEntries(resolve, reject));
const fileOf = (entry) => new Promise((resolve, reject) => entry.file(resolve, reject));

// Every file entry below a dropped folder. readEntries answers in batches (100 at most in
// Chromium), so it is asked again until it answers none.
async function walk(dir, found, unreadable) {
  const reader = dir.createReader();
  for (;;) {
    let batch;
    try {
      batch = await readBatch(reader);
    } catch {
      unreadable.push(dir.fullPath);
      return;
    }
    if (!batch.length) return;
    for (const entry of batch) {
      if (entry.name.startsWith(".")) continue; // hidden: neither recordings nor worth a mention
      if (entry.isDirectory) await walk(entry, found, unreadable);
      else found.push(entry);
    }
  }
}

// The recordings below dropped folders (FileSystemDirectoryEntry, as webkitGetAsEntry gives).
export async function recordingsOfDropped(folders) {
  const found = [];
  const unreadable = [];
  for (const folder of folders) await walk(folder, found, unreadable);
  const wanted = found.filter((entry) => isRecordingPath(entry.fullPath))
    .sort((a, b) => comparePaths(a.fullPath, b.fullPath));
  const files = [];
  for (const entry of wanted) {
    try {
      const file = await fileOf(entry);
      file.relativePath = entry.fullPath.replace(/^\//, ""); // as a chosen folder's webkitRelativePath
      files.push(file);
    } catch {
      unreadable.push(entry.fullPath);
    }
  }
  return { files, others: found.length - wanted.length, unreadable };
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

// What the notice says of folders: [text, kind] for showNotice.
export function describeFolders(names, { files, others, unreadable }) {
  const folders = names.join(", ") || "The folder"; // a chosen empty folder lists no file to name it by
  const unread = unreadable.length ? `; could not read ${unreadable.join(", ")}` : "";
  if (!files.length) {
    return [`${folders}: no recordings in ${names.length > 1 ? "these folders" : "this folder"} ` +
      `(looked for ${AUDIO_SUFFIXES.join(" ")})${unread}.`, "error"];
  }
  const left = others ? `; ${plural(others, "other file", "other files")} left out (not audio by name)` : "";
  return [`${folders}: ${plural(files.length, "recording", "recordings")} added${left}${unread}.`,
    unread ? "error" : "info"];
}
