// docchat page: uploads with live status, and streamed answers with citations.
// Every piece of user or model text is inserted with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    return body.error ? body.error.message : response.statusText;
  } catch (_) {
    return `${response.status} ${response.statusText}`;
  }
}

// ---- documents ----
function renderDocuments(documents) {
  const list = $("documents");
  list.replaceChildren(...documents.map((doc) => {
    const item = el("li", { id: `doc-${doc.id}` }, [
      el("span", { className: "filename", textContent: doc.filename }),
      el("span", { className: `status status-${doc.status}`, textContent: doc.status }),
    ]);
    item.dataset.status = doc.status;
    if (doc.status === "queued" || doc.status === "processing") {
      item.append(el("progress", { max: 1, value: doc.progress }));
    }
    if (doc.status === "indexed") {
      const size = doc.kind === "meeting" ? `${doc.turns} turns` : doc.pages ? `${doc.pages} pages` : "text";
      let meta = `${size}, ${doc.chunks} passages`;
      if (doc.empty_pages.length) meta += ` (no text on pages ${doc.empty_pages.join(", ")}: OCR needed)`;
      item.append(el("div", { className: "meta", textContent: meta }));
    }
    if (doc.error) item.append(el("div", { className: "error", textContent: doc.error.message }));
    return item;
  }));
  return documents.some((d) => d.status === "queued" || d.status === "processing");
}

let pollTimer = null;
async function refreshDocuments() {
  clearTimeout(pollTimer);
  const response = await fetch("/api/documents");
  if (!response.ok) return;
  const busy = renderDocuments((await response.json()).documents);
  pollTimer = setTimeout(refreshDocuments, busy ? 700 : 5000);
}

$("upload-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("file-input");
  const errorBox = $("upload-error");
  errorBox.hidden = true;
  if (!input.files.length) return;
  const form = new FormData();
  for (const file of input.files) form.append("file", file);
  $("upload-button").disabled = true;
  try {
    const response = await fetch("/api/documents", { method: "POST", body: form });
    if (!response.ok) {
      errorBox.textContent = await errorMessage(response);
      errorBox.hidden = false;
    } else {
      input.value = "";
    }
  } finally {
    $("upload-button").disabled = false;
    refreshDocuments();
  }
});

// ---- chat ----
function renderCitations(list, citations) {
  const where = (c) => c.turn_start !== null
    ? `turns ${c.turn_start}–${c.turn_end} (${c.speakers.join(", ")})`
    : c.page !== null ? `page ${c.page}` : "";
  list.replaceChildren(...citations.map((c) => el("li", { value: c.n, className: "citation" }, [
    el("span", { textContent: `[${c.n}] ${c.filename}${where(c) ? ", " + where(c) : ""}` }),
    el("blockquote", { textContent: c.quote }),
  ])));
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
      onEvent(name, JSON.parse(data));
    }
  }
}

$("ask-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  const answer = el("div", { className: "answer" });
  const citations = el("ol", { className: "citations" });
  const turn = el("div", { className: "turn" }, [
    el("div", { className: "question", textContent: question }), answer, citations,
  ]);
  $("conversation").append(turn);
  $("question").value = "";
  $("ask-button").disabled = true;
  try {
    const response = await fetch("/api/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question, stream: true }),
    });
    if (!response.ok) {
      answer.classList.add("error");
      answer.textContent = await errorMessage(response);
      return;
    }
    await readEvents(response, (name, data) => {
      if (name === "token") answer.textContent += data.text;
      else if (name === "answer") {
        answer.textContent = data.answer;
        renderCitations(citations, data.citations);
      } else if (name === "error") {
        answer.classList.add("error");
        answer.textContent = data.error.message;
      }
    });
  } catch (err) {
    answer.classList.add("error");
    answer.textContent = `The answer could not be fetched: ${err}`;
  } finally {
    $("ask-button").disabled = false;
  }
});

refreshDocuments();
