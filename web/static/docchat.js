// Shared by every page: DOM helpers, API calls, Server-Sent Events, highlighting.
// User and model text goes in with textContent; the only HTML inserted is the server's
// sanitized rendering of model Markdown (fields named *html).
"use strict";

const $ = (id) => document.getElementById(id);

// Sent with every request that changes something: docchat refuses such requests from other
// sites, and with logins on, without the session's token.
const CSRF_TOKEN = document.querySelector('meta[name="csrf-token"]').content;

function withToken(headers = {}) {
  return { "X-CSRF-Token": CSRF_TOKEN, ...headers };
}

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else node[key] = value;
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

// The API's refusal as an Error: its plain-language message, and its stable `code`.
async function refusal(response) {
  try {
    const body = await response.json();
    if (body.error) return Object.assign(new Error(body.error.message), { code: body.error.code });
  } catch (_) { /* not JSON: say what HTTP said */ }
  return Object.assign(new Error(`${response.status} ${response.statusText}`), { code: `http_${response.status}` });
}

async function errorMessage(response) {
  return (await refusal(response)).message;
}

// A refusal as a page shows it: what happened and what to do, then its code for a report.
function refusalText(err) {
  return err.code ? `${err.message} (code: ${err.code})` : err.message;
}

// fetch JSON; throws an Error whose message is the API's own explanation.
async function api(path, options = {}) {
  const init = { ...options, headers: withToken(options.headers) };
  if (init.json !== undefined) {
    init.method = init.method || "POST";
    init.headers = { "Content-Type": "application/json", ...init.headers };
    init.body = JSON.stringify(init.json);
    delete init.json;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw Object.assign(new Error(`docchat did not answer (${err.message}). Check that it is running.`),
      { code: "unreachable" });
  }
  if (!response.ok) throw await refusal(response);
  return response.status === 204 ? null : response.json();
}

// Every indexed document of the library, following the API's pages (the scope pickers of the
// chat and tables pages).
async function indexedDocuments() {
  const documents = [];
  let next = `/api/documents?${new URLSearchParams({ status: "indexed", limit: 200 })}`;
  while (next) {
    const body = await api(next);
    documents.push(...body.documents);
    next = body.next;
  }
  return documents;
}

// Reads a text/event-stream body and calls onEvent(name, data) for each event.
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) onEvent(name, JSON.parse(data));
    }
  }
}

// Where a hit or citation is, as a reader would say it.
function whereLabel(item) {
  if (item.turn_start !== null && item.turn_start !== undefined) {
    const turns = item.turn_start === item.turn_end ? `turn ${item.turn_start}`
      : `turns ${item.turn_start}–${item.turn_end}`;
    return item.speakers && item.speakers.length ? `${turns} (${item.speakers.join(", ")})` : turns;
  }
  return item.page !== null && item.page !== undefined ? `page ${item.page}` : "";
}

// A word cut to what its plural and possessive share: "engines" -> "engine",
// "warranties" -> "warranty", "boxes" -> "box", "claim's" -> "claim". Never a prefix match, so
// "engine" does not find "engineering".
function wordStem(word) {
  let w = word.toLowerCase().replace(/['’]s$/u, "");
  if (w.length > 4 && w.endsWith("ies")) return w.slice(0, -3) + "y";
  if (w.length > 4 && /(?:ch|sh|[sxz])es$/u.test(w)) return w.slice(0, -2);
  if (w.length > 3 && w.endsWith("s") && !w.endsWith("ss")) return w.slice(0, -1);
  return w;
}

const WORD = /([\p{L}\p{N}]+(?:['’][\p{L}]+)?)/u;

// Appends `text` to `node` with every whole word that shares a stem with one of `words`
// wrapped in <mark>.
function appendHighlighted(node, text, words) {
  const stems = new Set(words.filter((w) => w.length > 1).map(wordStem));
  if (!stems.size) { node.append(text); return; }
  let plain = "";
  text.split(WORD).forEach((piece, i) => {
    if (i % 2 && stems.has(wordStem(piece))) {
      if (plain) node.append(plain);
      plain = "";
      node.append(el("mark", { textContent: piece }));
    } else {
      plain += piece;
    }
  });
  if (plain) node.append(plain);
}

function queryWords(query) {
  return query.toLowerCase().match(/[\p{L}\p{N}]+/gu) || [];
}

// Collections for a <select> or <datalist>; quietly empty if the list cannot be had.
async function fillCollections(select, selected = "") {
  let names = [];
  try {
    const body = await api("/api/collections");
    names = body.collections.map((c) => c.name);
  } catch (_) { /* the page still works without the list */ }
  for (const name of names) {
    const option = el("option", { value: name, textContent: name });
    if (name === selected) option.selected = true;
    select.append(option);
  }
}

function formatDate(seconds) {
  return new Date(seconds * 1000).toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

// How big a document is, as a reader counts it: turns of a meeting, pages of a PDF, else
// the file's size.
function documentSize(doc) {
  if (doc.kind === "meeting" && doc.turns !== null) return plural(doc.turns, "turn");
  if (doc.pages) {
    // "12 pages, 3 read by OCR": pages without a text layer whose text OCR read.
    const byOcr = (doc.ocr_pages || []).length;
    return plural(doc.pages, "page") + (byOcr ? `, ${byOcr} read by OCR` : "");
  }
  return typeof doc.size_bytes === "number" ? fileSize(doc.size_bytes) : "";
}

function fileSize(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
