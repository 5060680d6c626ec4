// Library page: every document with its status, size, collection and date; delete, re-index,
// filter by collection and status. Refreshes itself (faster while anything is being processed)
// without taking keyboard focus away from the control a reader is on.
"use strict";

const PAGE = 50;
let offset = 0;
let refreshTimer = null;

function actions(doc) {
  const ready = doc.status === "indexed";
  // A meeting opens as its transcript; anything else as the file itself.
  const open = !ready ? null : doc.kind === "meeting"
    ? el("a", { href: `/passage/${doc.id}`, textContent: "Open", dataset: { action: "open" } })
    : el("a", { href: `/api/documents/${doc.id}/file`, textContent: "Open", target: "_blank", rel: "noopener",
      dataset: { action: "open" } });
  const summarize = ready && doc.kind === "meeting"
    ? el("a", { href: `/meetings?document=${doc.id}`, textContent: "Summarize", dataset: { action: "summarize" } })
    : null;
  const reindex = el("button", { type: "button", className: "secondary reindex", textContent: "Re-index",
    disabled: doc.status === "queued" || doc.status === "processing", dataset: { action: "reindex" } });
  reindex.addEventListener("click", () => act(() => api(`/api/documents/${doc.id}/reindex`, { method: "POST" })));
  const remove = el("button", { type: "button", className: "danger delete", textContent: "Delete",
    dataset: { action: "delete" } });
  // Two clicks: the first asks, the second deletes (its passages leave the index for good).
  remove.addEventListener("click", () => {
    if (remove.dataset.armed) {
      remove.disabled = true;
      remove.textContent = "Deleting…";
      act(() => api(`/api/documents/${doc.id}`, { method: "DELETE" }));
      return;
    }
    remove.dataset.armed = "1";
    remove.textContent = "Really delete?";
    clearTimeout(refreshTimer);  // keep the question on screen while the reader decides
    setTimeout(() => {
      if (remove.disabled) return;  // deleting already
      delete remove.dataset.armed;
      remove.textContent = "Delete";
      refresh();
    }, 5000);
  });
  return el("td", { className: "actions" }, [open, summarize, reindex, remove]);
}

function cell(label, props = {}, children = []) {
  return el("td", { ...props, dataset: { label } }, children);
}

function row(doc) {
  const status = cell("Status", {}, [el("span", { className: `status status-${doc.status}`, textContent: doc.status })]);
  if (doc.status === "processing" || doc.status === "queued") {
    status.append(el("progress", { max: 1, value: doc.progress, ariaLabel: `Progress of ${doc.filename}` }));
  }
  if (doc.error) status.append(el("div", { className: "error reason", textContent: refusalText(doc.error) }));
  const size = [documentSize(doc), doc.status === "indexed" ? plural(doc.chunks || 0, "passage") : ""];
  const tr = el("tr", { id: `doc-${doc.id}` }, [
    cell("Document", { className: "filename", textContent: doc.filename }),
    cell("Collection", { textContent: doc.collection }),
    status,
    cell("Size", { className: "size", textContent: size.filter(Boolean).join(" · ") }),
    cell("Uploaded", { textContent: formatDate(doc.created_at) }),
    actions(doc),
  ]);
  tr.dataset.status = doc.status;
  return tr;
}

async function act(request) {
  try {
    await request();
  } catch (err) {
    showError(refusalText(err));
  }
  refresh();
}

function showError(message) {
  $("library-error").textContent = message;
  $("library-error").hidden = !message;
}

function showNotice(message) {
  $("library-notice").textContent = message;
  $("library-notice").hidden = !message;
}

// The collection filter lists the collections that hold documents now: one emptied by a
// delete leaves it (and a filter set to it goes back to all, saying so).
function syncCollections(names) {
  const select = $("filter-collection");
  const chosen = select.value;
  const shown = [...select.options].slice(1).map((o) => o.value);
  if (shown.join("\n") !== names.join("\n")) {
    select.replaceChildren(select.options[0], ...names.map((name) => el("option", { value: name, textContent: name })));
  }
  if (chosen && !names.includes(chosen)) {
    select.value = "";
    offset = 0;
    showNotice(`Collection “${chosen}” has no documents left, so all collections are shown.`);
    return false;
  }
  select.value = chosen;
  return true;
}

// Which control in the table has focus, by its row and action, so that a refresh (which
// draws the rows again) can give focus back to the same control.
function focusedControl() {
  const active = document.activeElement;
  const tr = active && active.closest ? active.closest("#documents tbody tr") : null;
  return tr ? { row: tr.id, action: active.dataset.action } : null;
}

function restoreFocus(where) {
  const tr = where && document.getElementById(where.row);
  if (!tr) return;
  const same = tr.querySelector(`[data-action="${where.action}"]`);
  const target = same && !same.disabled ? same : tr.querySelector("a, button:not(:disabled)");
  if (target) target.focus({ preventScroll: true });
}

let latest = 0;  // a slow answer to an older refresh must not overwrite a newer one

async function refresh() {
  clearTimeout(refreshTimer);
  const mine = ++latest;
  let body;
  try {
    const collections = await api("/api/collections");
    if (mine !== latest) return;
    if (!syncCollections(collections.collections.map((c) => c.name))) { refresh(); return; }
    const params = new URLSearchParams({ limit: PAGE, offset });
    if ($("filter-collection").value) params.set("collection", $("filter-collection").value);
    if ($("filter-status").value) params.set("status", $("filter-status").value);
    body = await api(`/api/documents?${params}`);
  } catch (err) {
    if (mine !== latest) return;
    showError(refusalText(err));
    refreshTimer = setTimeout(refresh, 5000);
    return;
  }
  if (mine !== latest) return;
  showError("");
  const docs = body.documents;
  const focus = focusedControl();
  document.querySelector("#documents tbody").replaceChildren(...docs.map(row));
  restoreFocus(focus);
  const filtered = Boolean($("filter-collection").value || $("filter-status").value);
  $("documents").hidden = docs.length === 0;
  $("library-empty").hidden = docs.length > 0 || filtered;
  $("library-no-match").hidden = docs.length > 0 || !filtered;
  $("next-page").hidden = !body.next;
  $("previous-page").hidden = offset === 0;
  $("page-info").textContent = body.total > PAGE
    ? `${offset + 1}–${offset + docs.length} of ${body.total}` : "";
  const busy = docs.some((d) => d.status === "queued" || d.status === "processing");
  refreshTimer = setTimeout(refresh, busy ? 1000 : 10000);
}

function filtersChanged() {
  offset = 0;
  showNotice("");
  refresh();
}

$("next-page").addEventListener("click", () => { offset += PAGE; refresh(); });
$("previous-page").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); refresh(); });
$("filter-collection").addEventListener("change", filtersChanged);
$("filter-status").addEventListener("change", filtersChanged);
$("clear-filters").addEventListener("click", () => {
  $("filter-collection").value = "";
  $("filter-status").value = "";
  filtersChanged();
  $("filter-collection").focus();
});
refresh();
