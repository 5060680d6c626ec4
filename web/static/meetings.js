// Meetings page: paste notes, upload a file or pick an uploaded meeting; the summary runs as
// a background job whose progress line says what it is doing ("Summarizing part 2 of 5…"),
// then shows decisions and a commitments table to export as CSV or Markdown, or to copy as a
// Slack message. Pasted notes and files are kept in the library (unless the reader says not
// to), so that every quote links to its turn in the transcript.
"use strict";

const JOB_POLL_MS = 1000;
const KEEP_COLLECTION = "meetings";
let current = null;  // { jobId, documentId, document, result }
let clock = null;  // the elapsed-time ticker while a summary runs

function setBusy(busy) {
  $("summarize-button").disabled = busy;
  $("meeting-progress-bar").hidden = !busy;
  clearInterval(clock);
  $("meeting-elapsed").textContent = "";
  if (!busy) return;
  // Seconds tick even while one long request to the model runs: the page is not stuck.
  const started = Date.now();
  clock = setInterval(() => {
    $("meeting-elapsed").textContent = `${Math.round((Date.now() - started) / 1000)} s`;
  }, 1000);
}

// The bar, and the line a screen reader hears (polite): only when its words change.
function progress(fraction, label) {
  $("meeting-progress-bar").value = fraction;
  if ($("meeting-status").textContent !== label) $("meeting-status").textContent = label;
}

function showError(message) {
  $("meeting-error").textContent = message;
  $("meeting-error").hidden = !message;
}

// The name pasted notes are kept under: their first line when it reads as a title
// ("# Sprint 14 planning", "Weekly sync, 2026-03-09"), else "meeting notes" and the date.
function notesName(text, date) {
  const first = (text.split("\n").map((line) => line.trim()).find(Boolean) || "")
    .replace(/^#{1,6}\s+/, "").replace(/^[*_\s]+|[*_\s]+$/g, "");
  const turn = /^[-*•\s]*\**\p{L}[\p{L}\p{N} .'’-]{0,40}\**\s*:\s/u;
  const title = first && first.length <= 80 && !turn.test(first) && !/^(WEBVTT|[{[\d])/.test(first);
  const name = title ? first : `meeting notes ${date || new Date().toISOString().slice(0, 10)}`;
  return `${name.replace(/[\\/:*?"<>|]+/g, " ").trim()}.txt`;
}

// Stores the notes or file as a document in the library; its id (that of an identical copy
// kept earlier, when there is one).
async function keep(file) {
  const form = new FormData();
  form.append("file", file);
  form.append("collection", KEEP_COLLECTION);
  const body = await api("/api/documents", { method: "POST", body: form });
  return body.documents[0].id;
}

// Sends the request; { job, documentId } where documentId names the meeting in the library,
// or is null when the notes were sent inline (their quotes then link nowhere).
async function start() {
  const picked = $("meeting-document").value;
  const file = $("meeting-file").files[0];
  const text = $("meeting-text").value;
  const date = $("meeting-date").value;
  const dated = date ? { meeting_date: date } : {};
  const summarize = (body) => api("/api/meetings/summarize", body);
  if (picked) {
    return { documentId: picked, job: await summarize({ json: { document_id: picked, mode: "background", ...dated } }) };
  }
  if (!file && !text.trim()) throw new Error("Paste the meeting notes, choose a file, or pick an uploaded meeting.");
  if ($("meeting-keep").checked) {
    progress(0, "Saving to the library…");
    const documentId = await keep(file || new File([text], notesName(text, date), { type: "text/plain" }));
    return { documentId, job: await summarize({ json: { document_id: documentId, mode: "background", ...dated } }) };
  }
  if (file) {
    const form = new FormData();
    form.append("file", file);
    form.append("mode", "background");
    if (date) form.append("meeting_date", date);
    return { documentId: null, job: await summarize({ method: "POST", body: form }) };
  }
  return { documentId: null, job: await summarize({ json: { text, mode: "background", ...dated } }) };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(jobId) {
  for (;;) {
    const job = await api(`/api/jobs/${jobId}`);
    if (job.status === "done") return job.result;
    if (job.status === "failed") {
      throw Object.assign(new Error(job.error ? job.error.message : "The summary failed."),
        { code: job.error && job.error.code });
    }
    progress(job.progress, job.status === "queued" ? "Waiting for a worker…"
      : job.progress_label || "Reading the meeting…");
    await sleep(JOB_POLL_MS);
  }
}

// The kept document once the worker has read it (its kind and turns are known), or null
// when it cannot be read: its quotes are then shown without links.
async function documentRead(documentId) {
  if (!documentId) return null;
  for (;;) {
    let doc;
    try {
      doc = await api(`/api/documents/${documentId}`);
    } catch (_) {
      return null;
    }
    if (doc.kind || doc.status === "indexed" || doc.status === "failed") return doc;
    await sleep(JOB_POLL_MS);
  }
}

// The passage view at the item's turns (or PDF page); null when the meeting is not a document
// the passage view can show, or the turns are not the document's: no link beats a broken one.
function whereHref(item) {
  const doc = current && current.document;
  if (!doc) return null;
  const base = `/passage/${encodeURIComponent(doc.id)}`;
  const turn = (n) => Number.isInteger(n) && n >= 0 && n < (doc.turns || 0);
  if (doc.kind === "meeting" && turn(item.turn_start) && turn(item.turn_end)) {
    return `${base}?turns=${item.turn_start}-${item.turn_end}`;
  }
  if (doc.kind === "pdf" && Number.isInteger(item.page) && item.page >= 1 && item.page <= (doc.pages || 0)) {
    return `${base}?page=${item.page}`;
  }
  return null;
}

function whereNode(item, text) {
  const href = whereHref(item);
  return href ? el("a", { href, textContent: text }) : el("span", { className: "meta", textContent: text });
}

function point(item) {
  const label = whereLabel(item);
  return el("li", {}, [item.text, label ? " " : null, label ? whereNode(item, `(${label})`) : null]);
}

// A cell named by its column, for the cards a phone shows instead of the table.
function cell(label, className, children) {
  return el("td", { className, dataset: { label } }, children);
}

function commitmentRow(c) {
  const href = whereHref(c);
  const words = `“${c.quote}”`;
  const quote = href ? el("a", { href, className: "quote", textContent: words })
    : el("span", { className: "quote", textContent: words });
  const due = cell("Due", "due", [c.due || c.due_text || "—"]);
  due.title = c.due_text || "";
  return el("tr", {}, [
    cell("Who", "who", [c.who]), cell("What", "what", [c.what]),
    cell("To whom", "to-whom", [c.to_whom || "—"]), due,
    cell("Quote", "quote-cell", [quote, el("div", { className: "meta", textContent: whereLabel(c) })]),
  ]);
}

function slackMessage(result) {
  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const lines = [`*${esc(result.title)}*`, esc(result.summary)];
  if (result.decisions.length) lines.push("", "*Decisions*", ...result.decisions.map((d) => `• ${esc(d.text)}`));
  if (result.commitments.length) {
    lines.push("", "*Commitments*", ...result.commitments.map((c) => {
      const to = c.to_whom ? ` → ${esc(c.to_whom)}` : "";
      const due = c.due || c.due_text ? ` (due ${esc(c.due || c.due_text)})` : "";
      return `• *${esc(c.who)}*${to}: ${esc(c.what)}${due}\n  > ${esc(c.quote)}`;
    }));
  }
  if (result.open_questions.length) lines.push("", "*Open questions*", ...result.open_questions.map((q) => `• ${esc(q.text)}`));
  return lines.join("\n");
}

function savedNote(kept) {
  const doc = current.document;
  if (!kept || !doc) return "";
  return `Kept in the library as “${doc.filename}”, collection “${doc.collection}”.`;
}

function render(result, kept) {
  $("meeting-result").hidden = false;
  $("meeting-title").textContent = result.title;
  $("meeting-summary").innerHTML = result.summary_html;  // sanitized on the server
  const none = () => el("li", { className: "meta", textContent: "None recorded." });
  $("meeting-decisions").replaceChildren(...(result.decisions.length ? result.decisions.map(point) : [none()]));
  $("meeting-questions").replaceChildren(...(result.open_questions.length ? result.open_questions.map(point) : [none()]));
  document.querySelector("#commitments tbody").replaceChildren(...result.commitments.map(commitmentRow));
  $("commitments").hidden = !result.commitments.length;
  $("no-commitments").hidden = result.commitments.length > 0;
  $("saved-note").textContent = savedNote(kept);
  $("saved-note").hidden = !$("saved-note").textContent;
  $("export-csv").href = `/api/jobs/${current.jobId}?format=csv`;
  $("export-md").href = `/api/jobs/${current.jobId}?format=md`;
  $("slack-text").value = slackMessage(result);
  $("post-slack").hidden = !current.documentId;
  $("copy-status").textContent = "";
  for (const warning of result.warnings || []) {
    $("meeting-summary").append(el("p", { className: "warning", textContent: warning }));
  }
}

$("meeting-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  setBusy(true);
  progress(0, "Sending…");
  const kept = !$("meeting-document").value && $("meeting-keep").checked;
  try {
    const { job, documentId } = await start();
    current = { jobId: job.job_id, documentId, document: null, result: null };
    const [result, doc] = await Promise.all([waitFor(job.job_id), documentRead(documentId)]);
    Object.assign(current, { result, document: doc });
    render(result, kept);
    const count = result.commitments.length;
    progress(1, `Done: ${count} commitment${count === 1 ? "" : "s"} found.`);
  } catch (err) {
    progress(0, "");
    showError(refusalText(err));
  } finally {
    setBusy(false);
  }
});

$("copy-slack").addEventListener("click", async () => {
  const text = $("slack-text").value;
  try {
    await navigator.clipboard.writeText(text);
    $("copy-status").textContent = "Copied: paste it into Slack.";
  } catch (_) {
    // No clipboard permission (e.g. plain http on another host): select it for Ctrl+C instead.
    const box = $("slack-text");
    box.hidden = false;
    box.select();
    $("copy-status").textContent = "Press Ctrl+C to copy the selected text.";
  }
});

// Summarizes the uploaded meeting again in the background and posts it through the
// incoming webhook set for its collection (PUT /api/collections/<name>/slack-webhook).
$("post-slack").addEventListener("click", async () => {
  try {
    await api(`/api/documents/${current.documentId}/slack`, { method: "POST" });
    $("copy-status").textContent = "Posting to Slack: the summary goes to the channel when it is ready.";
  } catch (err) {
    $("copy-status").textContent = refusalText(err);
  }
});

(async () => {
  try {
    const body = await api("/api/documents?status=indexed&limit=200");
    for (const doc of body.documents.filter((d) => d.kind === "meeting")) {
      $("meeting-document").append(el("option", { value: doc.id, textContent: `${doc.filename} (${doc.collection})` }));
    }
  } catch (_) { /* pasting still works */ }
  const preset = new URLSearchParams(location.search).get("document");
  if (preset) $("meeting-document").value = preset;
})();
