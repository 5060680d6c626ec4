// Meetings page: paste notes, upload a file or pick an uploaded meeting; the summary runs as
// a background job with progress, then shows decisions and a commitments table to export as
// CSV or Markdown, or to copy as a Slack message.
"use strict";

const JOB_POLL_MS = 1000;
let current = null;  // { jobId, documentId, result }

function setBusy(busy) {
  $("summarize-button").disabled = busy;
  $("meeting-progress").hidden = !busy;
}

function progress(fraction, label) {
  const box = $("meeting-progress");
  box.querySelector("progress").value = fraction;
  box.querySelector("span").textContent = label;
}

function showError(message) {
  $("meeting-error").textContent = message;
  $("meeting-error").hidden = !message;
}

async function start() {
  const documentId = $("meeting-document").value;
  const file = $("meeting-file").files[0];
  const text = $("meeting-text").value;
  const date = $("meeting-date").value;
  if (documentId) {
    return api("/api/meetings/summarize", { json: { document_id: documentId, mode: "background", ...(date && { meeting_date: date }) } });
  }
  if (file) {
    const form = new FormData();
    form.append("file", file);
    form.append("mode", "background");
    if (date) form.append("meeting_date", date);
    return api("/api/meetings/summarize", { method: "POST", body: form });
  }
  if (!text.trim()) throw new Error("Paste the meeting notes, choose a file, or pick an uploaded meeting.");
  return api("/api/meetings/summarize", { json: { text, mode: "background", ...(date && { meeting_date: date }) } });
}

async function waitFor(jobId) {
  for (;;) {
    const job = await api(`/api/jobs/${jobId}`);
    if (job.status === "done") return job.result;
    if (job.status === "failed") throw new Error(job.error ? job.error.message : "The summary failed.");
    progress(job.progress, job.status === "queued" ? "Waiting for a worker…" : `Reading the meeting… ${Math.round(job.progress * 100)}%`);
    await new Promise((r) => setTimeout(r, JOB_POLL_MS));
  }
}

function turnsLabel(item) {
  if (item.turn_start === undefined || item.turn_start === null) return item.page ? `page ${item.page}` : "";
  return item.turn_start === item.turn_end ? `turn ${item.turn_start}` : `turns ${item.turn_start}–${item.turn_end}`;
}

function turnsHref(item) {
  if (!current.documentId || item.turn_start === undefined || item.turn_start === null) return null;
  return `/passage/${current.documentId}?turns=${item.turn_start}-${item.turn_end}`;
}

function point(item) {
  const label = turnsLabel(item);
  const href = turnsHref(item);
  return el("li", {}, [item.text, label ? " " : null,
    label ? (href ? el("a", { href, textContent: `(${label})` }) : el("span", { className: "meta", textContent: `(${label})` })) : null]);
}

function commitmentRow(c) {
  const href = turnsHref(c);
  const quote = href ? el("a", { href, className: "quote", textContent: `“${c.quote}”` })
    : el("span", { className: "quote", textContent: `“${c.quote}”` });
  return el("tr", {}, [
    el("td", { textContent: c.who }), el("td", { textContent: c.what }),
    el("td", { textContent: c.to_whom || "—" }),
    el("td", { textContent: c.due || c.due_text || "—", title: c.due_text || "" }),
    el("td", {}, [quote, el("div", { className: "meta", textContent: turnsLabel(c) })]),
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

function render(result) {
  $("meeting-result").hidden = false;
  $("meeting-title").textContent = result.title;
  $("meeting-summary").innerHTML = result.summary_html;  // sanitized on the server
  const none = () => el("li", { className: "meta", textContent: "None recorded." });
  $("meeting-decisions").replaceChildren(...(result.decisions.length ? result.decisions.map(point) : [none()]));
  $("meeting-questions").replaceChildren(...(result.open_questions.length ? result.open_questions.map(point) : [none()]));
  document.querySelector("#commitments tbody").replaceChildren(...result.commitments.map(commitmentRow));
  $("commitments").hidden = !result.commitments.length;
  $("no-commitments").hidden = result.commitments.length > 0;
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
  try {
    const job = await start();
    current = { jobId: job.job_id, documentId: $("meeting-document").value || null, result: null };
    current.result = await waitFor(job.job_id);
    render(current.result);
  } catch (err) {
    showError(err.message);
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
    $("copy-status").textContent = err.message;
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
