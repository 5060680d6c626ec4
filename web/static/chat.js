// Chat page: answers stream in token by token, under a status line the server drives
// (searching, reading N passages, writing) and with a Stop button; [n] markers link to the
// passage view; Regenerate keeps the earlier versions of an answer, to flip between; the
// conversation (and its scope and temperature) survives reloads in this browser's storage.
// The scope in use is always spelled out, and a saved scope that no longer exists is reported
// rather than quietly widened to everything.
"use strict";

const STORE = "docchat.chat.v1";
const HISTORY_TURNS = 6;

const saved = JSON.parse(localStorage.getItem(STORE) || "null") || {};
let turns = Array.isArray(saved.turns) ? saved.turns : [];
let busy = false;
let stopper = null;  // the AbortController of the answer being streamed
// The scope: a collection ("" for all) and the documents ticked in it (none: all of them).
let collection = typeof saved.collection === "string" ? saved.collection : "";
let ticked = new Set(Array.isArray(saved.documents) ? saved.documents : []);
let tickedNames = saved.documentNames && typeof saved.documentNames === "object" ? saved.documentNames : {};
let library = null;  // the indexed documents, newest first, once loaded
let collectionNames = null;
// What is wrong with the saved scope: { text, action, onAction, blocking }; null when nothing.
let scopeProblem = null;

function save() {
  localStorage.setItem(STORE, JSON.stringify({
    turns, collection, documents: [...ticked], documentNames: tickedNames,
    temperature: $("temperature").value,
  }));
}

function scope() {
  if (ticked.size) return { document_ids: [...ticked] };
  return collection ? { collection } : {};
}

// ---- the scope: what is asked, said in words ----

function quoted(name) {
  return `“${name}”`;
}

function inScope() {
  if (!library) return [];
  if (ticked.size) return library.filter((doc) => ticked.has(doc.id));
  return collection ? library.filter((doc) => doc.collection === collection) : library;
}

function scopeText() {
  if (scopeProblem && scopeProblem.blocking) return "Asking: nothing until you choose what to ask about (see above)";
  if (ticked.size) {
    const docs = inScope();
    const where = [...new Set(docs.map((doc) => doc.collection))];
    const place = where.length === 1 ? `in collection ${quoted(where[0])}` : `in ${where.length} collections`;
    if (docs.length === 1) return `Asking: ${quoted(docs[0].filename)} ${place}`;
    return `Asking: ${plural(ticked.size, "document")}${docs.length ? " " + place : ""}`;
  }
  if (collection) {
    const count = inScope().length;
    return library ? `Asking: ${count === 1 ? "the one document" : `all ${count} documents`} in collection ${quoted(collection)}`
      : `Asking: all documents in collection ${quoted(collection)}`;
  }
  if (!library) return "Asking: all documents";
  if (!library.length) return "Asking: all documents (none is indexed yet)";
  const groups = new Set(library.map((doc) => doc.collection)).size;
  return `Asking: all documents (${library.length}, in ${plural(groups, "collection")})`;
}

function showScope() {
  $("scope-text").textContent = scopeText();
  const problem = $("scope-problem");
  problem.hidden = !scopeProblem;
  if (scopeProblem) {
    $("scope-problem-text").textContent = scopeProblem.text;
    $("accept-scope").textContent = scopeProblem.action;
    $("accept-scope").hidden = false;
  }
  const total = library ? library.filter((doc) => !collection || doc.collection === collection).length : 0;
  const picked = ticked.size ? inScope().length : 0;
  $("document-summary").textContent = picked ? `Documents: ${picked} of ${total} ticked`
    : total ? `Documents: all ${total}` : "Documents: none";
  $("clear-documents").hidden = !picked;
  showExamples();
  showAskState();
}

function showAskState() {
  const reason = busy ? "An answer is still being written. Type your next question; send it when the answer is done."
    : scopeProblem && scopeProblem.blocking ? "Choose what to ask about first (see the message above)." : "";
  $("ask-button").disabled = Boolean(reason);
  $("ask-blocked").textContent = reason;
  $("ask-blocked").hidden = !reason;
}

// Drops ticked documents the library no longer holds (only ever narrows the scope).
function forgetMissing() {
  if (!library) return;
  const present = new Set(library.map((doc) => doc.id));
  for (const id of [...ticked]) if (!present.has(id)) { ticked.delete(id); delete tickedNames[id]; }
}

function changeScope(change) {
  change();
  forgetMissing();
  scopeProblem = null;
  save();
  renderPicker();
  showScope();
}

// A saved scope may name documents deleted since, or a collection now empty: say so, and
// ask before widening to more than the person chose.
function checkSavedScope() {
  const present = new Set(library.map((doc) => doc.id));
  const gone = [...ticked].filter((id) => !present.has(id));
  const collectionGone = Boolean(collection) && !collectionNames.includes(collection);
  if (!gone.length && !collectionGone) return;
  const names = gone.map((id) => quoted(tickedNames[id] || "a document"));
  const goneText = gone.length === 1 ? `The document you picked, ${names[0]}, is no longer in the library`
    : `${gone.length} documents you picked (${names.join(", ")}) are no longer in the library`;
  const widerScope = collectionGone || !collection ? "all documents" : `all of collection ${quoted(collection)}`;
  if (gone.length && gone.length < ticked.size) {
    forgetMissing();
    scopeProblem = { text: `${goneText} (deleted, or being re-indexed), so this conversation now asks only the other ${plural(ticked.size, "document")}.`,
      action: "OK", blocking: false, onAction: () => {} };
  } else {
    const emptied = collectionGone ? ` Collection ${quoted(collection)} has no documents left.` : "";
    const text = gone.length ? `${goneText} (deleted, or being re-indexed).${emptied}`
      : `Collection ${quoted(collection)} has no documents left (they were deleted).`;
    scopeProblem = { text: `${text} Pick what to ask about, or ask ${widerScope}.`,
      action: `Ask ${widerScope} instead`, blocking: true,
      onAction: () => {
        ticked = new Set();
        tickedNames = {};
        if (collectionGone) collection = "";
      } };
  }
}

// ---- the document picker: grouped by collection, searchable ----

function documentChoice(doc) {
  const box = el("input", { type: "checkbox", value: doc.id, checked: ticked.has(doc.id) });
  box.addEventListener("change", () => changeScope(() => {
    if (box.checked) { ticked.add(doc.id); tickedNames[doc.id] = doc.filename; }
    else { ticked.delete(doc.id); delete tickedNames[doc.id]; }
  }));
  return el("label", { className: "document-choice" }, [
    box, el("span", { className: "choice-text" }, [
      el("span", { className: "filename", textContent: doc.filename }),
      el("span", { className: "doc-collection", textContent: doc.collection }),
    ]),
  ]);
}

function renderPicker() {
  if (!library) return;
  const words = $("document-filter").value.trim().toLowerCase();
  const shown = library.filter((doc) => (!collection || doc.collection === collection)
    && (!words || doc.filename.toLowerCase().includes(words)
      || doc.collection.toLowerCase().includes(words) || ticked.has(doc.id)));
  const groups = new Map();
  for (const doc of shown) {
    if (!groups.has(doc.collection)) groups.set(doc.collection, []);
    groups.get(doc.collection).push(doc);
  }
  $("scope-documents").replaceChildren(...[...groups.keys()].sort().map((name) =>
    el("fieldset", { className: "collection-group" }, [
      el("legend", { textContent: name }), ...groups.get(name).map(documentChoice)])));
  $("no-matching-documents").hidden = Boolean(shown.length) || !words;
}

async function loadScope() {
  try {
    [library, collectionNames] = await Promise.all([indexedDocuments(),
      api("/api/collections").then((body) => body.collections.map((c) => c.name))]);
  } catch (err) {
    $("scope-text").textContent = `Asking: ${collection ? `collection ${quoted(collection)}` : "all documents"} (the list of documents could not be loaded: ${err.message})`;
    return;
  }
  const select = $("scope-collection");
  for (const name of collectionNames) select.append(el("option", { value: name, textContent: name }));
  checkSavedScope();
  if (collection && !collectionNames.includes(collection)) {
    select.append(el("option", { value: collection, textContent: `${collection} (no documents left)`, disabled: true }));
  }
  select.value = collection;
  renderPicker();
  showScope();
  $("no-documents").hidden = library.length > 0;
}

// ---- the empty state: example questions from the documents in scope ----

const EXAMPLES = [
  (title) => `What is ${title} about?`,
  (title) => `What are the main points of ${title}?`,
  (title) => `Which dates or deadlines does ${title} mention?`,
];

function title(filename) {
  const bare = filename.replace(/\.[A-Za-z0-9]{1,5}$/, "").replace(/[_-]+/g, " ").replace(/\s+/g, " ").trim();
  return quoted(bare || filename);
}

function showExamples() {
  $("empty-state").hidden = turns.length > 0;
  // Newest first, each title once: copies of one file in two collections read the same.
  const titles = [...new Set(inScope().map((doc) => title(doc.filename)))];
  const blocked = scopeProblem && scopeProblem.blocking;
  $("examples").hidden = !titles.length || Boolean(blocked);
  $("example-questions").replaceChildren(...(titles.length ? EXAMPLES : []).map((make, i) => {
    const question = make(titles[i % titles.length]);
    const button = el("button", { type: "button", className: "example", textContent: question });
    button.addEventListener("click", () => {
      $("question").value = question;
      $("ask-form").requestSubmit();
    });
    return el("li", {}, [button]);
  }));
}

// ---- the conversation ----

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

// ---- versions: each Regenerate adds one; the turn's answer, error and stopped fields are
// the version shown (what follow-up questions send as history) ----

function versionsOf(turn) {
  if (!Array.isArray(turn.versions) || !turn.versions.length) {
    turn.versions = [{ answer: turn.answer || null, error: turn.error || null, stopped: turn.stopped || null }];
    turn.shown = 0;
  }
  return turn.versions;
}

function showVersion(turn, i) {
  const version = versionsOf(turn)[i];
  turn.shown = i;
  turn.answer = version.answer; turn.error = version.error; turn.stopped = version.stopped;
}

function versionSwitcher(turn, index) {
  const count = versionsOf(turn).length;
  const shown = turn.shown || 0;
  const flip = (step, name) => {
    const button = el("button", { type: "button", className: `secondary version-${name}`,
      textContent: step < 0 ? "‹" : "›", disabled: busy || shown + step < 0 || shown + step >= count });
    button.setAttribute("aria-label", step < 0 ? "Previous version of this answer" : "Next version of this answer");
    button.addEventListener("click", () => {
      showVersion(turn, shown + step);
      save();
      const built = renderTurn(index);
      // Focus stays on the switcher (on the other arrow once this one runs out).
      const next = built.view.querySelector(`.version-${name}`);
      (next && !next.disabled ? next : built.view.querySelector(".versions button:not(:disabled)"))?.focus();
    });
    return button;
  };
  const group = el("div", { className: "versions" }, [
    flip(-1, "previous"),
    el("span", { className: "version-count", textContent: `${shown + 1}/${count}` }),
    flip(1, "next"),
  ]);
  group.setAttribute("role", "group");
  group.setAttribute("aria-label", `Answer version ${shown + 1} of ${count}`);
  return group;
}

function turnView(turn, index) {
  const answer = el("div", { className: "answer markdown" });
  const citations = el("ol", { className: "citations" });
  const view = el("article", { className: "turn" }, [
    el("div", { className: "question", textContent: turn.question }), answer, citations,
  ]);
  if (turn.answer) renderAnswer(answer, citations, turn.answer);
  if (turn.error) { answer.classList.add("error"); answer.textContent = turn.error; }
  if (turn.stopped) {
    answer.classList.add("stopped");
    answer.textContent = turn.stopped.text;
    answer.after(el("p", { className: "stopped-note", textContent: "Stopped" }));
  }
  const actions = [];
  if (versionsOf(turn).length > 1) actions.push(versionSwitcher(turn, index));
  if (index === turns.length - 1 && (turn.answer || turn.error || turn.stopped)) {
    const again = el("button", { type: "button", className: "secondary regenerate", textContent: "Regenerate" });
    again.addEventListener("click", () => regenerate(index));
    actions.push(again);
  }
  if (actions.length) view.append(el("div", { className: "turn-actions" }, actions));
  return { view, answer, citations };
}

function renderConversation() {
  $("conversation").replaceChildren(...turns.map((t, i) => turnView(t, i).view));
  showExamples();
}

// Replaces one turn only, so the live region announces that turn and not the whole log.
function renderTurn(index) {
  const built = turnView(turns[index], index);
  const old = $("conversation").children[index];
  if (old) old.replaceWith(built.view); else $("conversation").append(built.view);
  return built;
}

// The earlier questions and answers a follow-up sends along. (Not named `history`: a
// script's top-level function would replace window.history on this page.)
function earlierMessages(upTo) {
  return turns.slice(0, upTo).filter((t) => t.answer).slice(-HISTORY_TURNS).flatMap((t) => [
    { role: "user", content: t.question },
    { role: "assistant", content: t.answer.answer },
  ]);
}

function setBusy(value) {
  busy = value;
  $("conversation").setAttribute("aria-busy", String(value));
  $("stop-button").hidden = !value;
  showAskState();
}

// What the server says the answer is doing, until it is done.
function statusText(data) {
  if (data.stage === "searching") return "Searching your documents…";
  if (data.stage === "reading") return `Reading ${plural(data.passages, "passage")} from ${plural(data.documents, "document")}…`;
  if (data.stage === "writing") return "Writing…";
  if (data.stage === "rereading") return `Reading the ${plural(data.passages, "best passage")} again…`;
  return "";
}

async function ask(index, extra = {}, again = false) {
  const turn = turns[index];
  // A new version of the answer; the earlier ones stay, to flip back to.
  const kept = again ? versionsOf(turn).filter((v) => v.answer || v.error || v.stopped) : [];
  const version = { answer: null, error: null, stopped: null };
  turn.versions = [...kept, version];
  showVersion(turn, turn.versions.length - 1);
  stopper = new AbortController();
  setBusy(true);
  const { view, answer } = renderTurn(index);
  showExamples();
  view.scrollIntoView({ block: "nearest" });
  answer.classList.add("streaming");
  const body = { question: turn.question, stream: true, history: earlierMessages(index),
    temperature: Number($("temperature").value), ...scope(), ...extra };
  try {
    const response = await fetch("/api/ask", { method: "POST", signal: stopper.signal,
      headers: withToken({ "Content-Type": "application/json" }), body: JSON.stringify(body) });
    if (!response.ok) {
      version.error = await errorMessage(response);
    } else {
      await readEvents(response, (name, data) => {
        if (name === "status") {
          $("answer-status").textContent = statusText(data);
          // The first draft declined: the second one, from the best passages, replaces it.
          if (data.stage === "rereading") answer.textContent = "";
        }
        else if (name === "token") answer.textContent += data.text;
        else if (name === "answer") version.answer = data;
        else if (name === "error") version.error = data.error.message;
      });
      if (!version.answer && !version.error) version.error = "The answer stopped before it was complete. Try again.";
    }
  } catch (err) {
    // Stop: what was written so far stays, marked as stopped.
    if (stopper.signal.aborted) version.stopped = { text: answer.textContent };
    else version.error = `The answer could not be fetched: ${err.message}`;
  } finally {
    $("answer-status").textContent = "";
    stopper = null;
    showVersion(turn, turn.versions.length - 1);
    save();
    setBusy(false);
    renderTurn(index);
  }
}

function regenerate(index) {
  if (busy) return;
  // The passages of the latest version that has them (a stopped one has none).
  const previous = versionsOf(turns[index]).map((v) => v.answer).filter(Boolean).pop();
  // The same passages, read again: a new wording of the answer, not a new search.
  const extra = previous && previous.context && previous.context.length ? { context: previous.context } : {};
  ask(index, extra, true);
}

$("stop-button").addEventListener("click", () => {
  if (!stopper) return;
  stopper.abort();
  $("question").focus();  // the Stop button goes away; the next question is what comes next
});

$("ask-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const question = $("question").value.trim();
  // The Ask button is disabled with its reason shown while busy; the question stays typed.
  if (!question || busy || (scopeProblem && scopeProblem.blocking)) return;
  for (const again of $("conversation").querySelectorAll("button.regenerate")) again.remove();
  turns.push({ question, answer: null, error: null });
  $("question").value = "";
  ask(turns.length - 1);
});

$("new-conversation").addEventListener("click", () => {
  turns = [];
  save();
  renderConversation();
  $("question").focus();
});

$("temperature").addEventListener("input", () => {
  $("temperature-value").textContent = $("temperature").value;
  save();
});

$("scope-collection").addEventListener("change", () => changeScope(() => {
  collection = $("scope-collection").value;
  ticked = new Set();
  tickedNames = {};
}));

$("clear-documents").addEventListener("click", () => changeScope(() => {
  ticked = new Set();
  tickedNames = {};
}));

$("accept-scope").addEventListener("click", () => {
  const { onAction } = scopeProblem;
  changeScope(onAction);
  $("scope-collection").value = collection;
  $("question").focus();
});

$("document-filter").addEventListener("input", renderPicker);

$("change-scope").addEventListener("click", (event) => {
  event.preventDefault();
  $("chat-scope").scrollIntoView({ block: "start" });
  $("scope-collection").focus({ preventScroll: true });
});

if (saved.temperature) $("temperature").value = saved.temperature;
$("temperature-value").textContent = $("temperature").value;
// A link from another page (the upload page's "ask about it") names one document to ask
// about: taken when the link is followed, not again on a reload (the reader may have changed it).
const linked = new URLSearchParams(location.search).get("document");
const arrival = performance.getEntriesByType("navigation")[0];
if (linked && (!arrival || arrival.type === "navigate")) {
  collection = "";
  ticked = new Set([linked]);
  tickedNames = {};
  save();
}
// A turn interrupted by a reload shows as such rather than as a question without an answer.
for (const t of turns) {
  const versions = versionsOf(t);
  for (const v of versions) if (!v.answer && !v.error && !v.stopped) v.error = "Interrupted before the answer arrived. Regenerate it.";
  showVersion(t, Math.min(t.shown || 0, versions.length - 1));
}
renderConversation();
showScope();
loadScope();
