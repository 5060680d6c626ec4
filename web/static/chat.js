// Chat page: answers stream in token by token; [n] markers link to the passage view; the
// conversation (and its scope and temperature) survives reloads in this browser's storage.
"use strict";

const STORE = "docchat.chat.v1";
const HISTORY_TURNS = 6;

const saved = JSON.parse(localStorage.getItem(STORE) || "null") || {};
let turns = Array.isArray(saved.turns) ? saved.turns : [];
let busy = false;

function save() {
  localStorage.setItem(STORE, JSON.stringify({
    turns,
    collection: $("scope-collection").value,
    documents: selectedDocuments(),
    temperature: $("temperature").value,
  }));
}

function selectedDocuments() {
  return [...document.querySelectorAll("#scope-documents input:checked")].map((i) => i.value);
}

function scope() {
  const body = {};
  const documents = selectedDocuments();
  if (documents.length) body.document_ids = documents;
  else if ($("scope-collection").value) body.collection = $("scope-collection").value;
  return body;
}

function renderCitations(list, citations) {
  list.replaceChildren(...citations.map((c) => {
    const where = whereLabel(c);
    return el("li", { value: c.n, className: "citation" }, [
      el("a", { href: c.href, className: "cite", textContent: `[${c.n}] ${c.filename}${where ? ", " + where : ""}` }),
      el("blockquote", { textContent: c.quote }),
    ]);
  }));
}

function renderAnswer(node, citations, data) {
  node.classList.remove("streaming", "error");
  node.innerHTML = data.html;  // sanitized on the server: Markdown without raw HTML or images
  if (!data.grounded) node.classList.add("declined");
  renderCitations(citations, data.citations);
}

function turnView(turn, index) {
  const answer = el("div", { className: "answer markdown" });
  const citations = el("ol", { className: "citations" });
  const view = el("article", { className: "turn" }, [
    el("div", { className: "question", textContent: turn.question }), answer, citations,
  ]);
  if (turn.answer) renderAnswer(answer, citations, turn.answer);
  if (turn.error) { answer.classList.add("error"); answer.textContent = turn.error; }
  if (index === turns.length - 1 && (turn.answer || turn.error)) {
    const again = el("button", { type: "button", className: "secondary regenerate", textContent: "Regenerate" });
    again.addEventListener("click", () => regenerate(index));
    view.append(el("div", { className: "turn-actions" }, [again]));
  }
  return { view, answer, citations };
}

function renderConversation() {
  $("conversation").replaceChildren(...turns.map((t, i) => turnView(t, i).view));
}

function history(upTo) {
  return turns.slice(0, upTo).filter((t) => t.answer).slice(-HISTORY_TURNS).flatMap((t) => [
    { role: "user", content: t.question },
    { role: "assistant", content: t.answer.answer },
  ]);
}

async function ask(index, extra = {}) {
  busy = true;
  $("ask-button").disabled = true;
  const turn = turns[index];
  turn.answer = null; turn.error = null;
  renderConversation();
  const { answer, citations } = (() => {
    const nodes = $("conversation").children[index];
    return { answer: nodes.querySelector(".answer"), citations: nodes.querySelector(".citations") };
  })();
  answer.classList.add("streaming");
  const body = { question: turn.question, stream: true, history: history(index),
    temperature: Number($("temperature").value), ...scope(), ...extra };
  try {
    const response = await fetch("/api/ask", {
      method: "POST", headers: withToken({ "Content-Type": "application/json" }), body: JSON.stringify(body) });
    if (!response.ok) {
      turn.error = await errorMessage(response);
    } else {
      await readEvents(response, (name, data) => {
        if (name === "token") answer.textContent += data.text;
        else if (name === "answer") turn.answer = data;
        else if (name === "error") turn.error = data.error.message;
      });
      if (!turn.answer && !turn.error) turn.error = "The answer stopped before it was complete. Try again.";
    }
  } catch (err) {
    turn.error = `The answer could not be fetched: ${err.message}`;
  } finally {
    busy = false;
    $("ask-button").disabled = false;
    save();
    renderConversation();
  }
}

function regenerate(index) {
  if (busy) return;
  const previous = turns[index].answer;
  // The same passages, read again: a new wording of the answer, not a new search.
  const extra = previous && previous.context && previous.context.length ? { context: previous.context } : {};
  ask(index, extra);
}

$("ask-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question || busy) return;
  turns.push({ question, answer: null, error: null });
  $("question").value = "";
  ask(turns.length - 1);
});

$("new-conversation").addEventListener("click", () => {
  turns = [];
  save();
  renderConversation();
});

$("temperature").addEventListener("input", () => {
  $("temperature-value").textContent = $("temperature").value;
  save();
});

async function loadDocuments() {
  const fieldset = $("scope-documents");
  const params = new URLSearchParams({ status: "indexed", limit: 200 });
  if ($("scope-collection").value) params.set("collection", $("scope-collection").value);
  let docs = [];
  try {
    docs = (await api(`/api/documents?${params}`)).documents;
  } catch (_) { /* asking still works across everything */ }
  const ticked = new Set(saved.documents || []);
  fieldset.replaceChildren(fieldset.firstElementChild, ...docs.map((doc) => {
    const box = el("input", { type: "checkbox", value: doc.id, checked: ticked.has(doc.id) });
    box.addEventListener("change", save);
    return el("label", { className: "document-choice" }, [box, ` ${doc.filename}`]);
  }));
}

$("scope-collection").addEventListener("change", () => { saved.documents = []; save(); loadDocuments(); });

if (saved.temperature) $("temperature").value = saved.temperature;
$("temperature-value").textContent = $("temperature").value;
// A turn interrupted by a reload shows as such rather than as a question without an answer.
for (const t of turns) if (!t.answer && !t.error) t.error = "Interrupted before the answer arrived. Regenerate it.";
renderConversation();
fillCollections($("scope-collection"), saved.collection || "").then(loadDocuments);
