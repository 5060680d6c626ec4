// Library page: every document with its status, size, collection and date; delete, re-index,
// filter by collection and status. Refreshes itself while anything is being processed.
"use strict";

const PAGE = 50;
let offset = 0;
let refreshTimer = null;

function actions(doc) {
  const ready = doc.status === "indexed";
  // A meeting opens as its transcript; anything else as the file itself.
  const open = !ready ? null : doc.kind === "meeting"
    ? el("a", { href: `/passage/${doc.id}`, textContent: "Open" })
    : el("a", { href: `/api/documents/${doc.id}/file`, textContent: "Open", target: "_blank", rel: "noopener" });
  const summarize = ready && doc.kind === "meeting"
    ? el("a", { href: `/meetings?document=${doc.id}`, textContent: "Summarize" })
    : null;
  const reindex = el("button", { type: "button", className: "secondary reindex", textContent: "Re-index",
    disabled: doc.status === "queued" || doc.status === "processing" });
  reindex.addEventListener("click", () => act(() => api(`/api/documents/${doc.id}/reindex`, { method: "POST" })));
  const remove = el("button", { type: "button", className: "danger delete", textContent: "Delete" });
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

function row(doc) {
  const status = el("td", {}, [el("span", { className: `status status-${doc.status}`, textContent: doc.status })]);
  if (doc.status === "processing" || doc.status === "queued") {
    status.append(el("progress", { max: 1, value: doc.progress }));
  }
  if (doc.error) status.append(el("div", { className: "error reason", textContent: doc.error.message }));
  const tr = el("tr", { id: `doc-${doc.id}` }, [
    el("td", { className: "filename", textContent: doc.filename }),
    el("td", { textContent: doc.collection }),
    status,
    el("td", { textContent: doc.status === "indexed" ? `${documentSize(doc)}, ${plural(doc.chunks, "passage")}` : documentSize(doc) }),
    el("td", { textContent: formatDate(doc.created_at) }),
    actions(doc),
  ]);
  tr.dataset.status = doc.status;
  return tr;
}

async function act(request) {
  try {
    await request();
  } catch (err) {
    showError(err.message);
  }
  refresh();
}

function showError(message) {
  $("library-error").textContent = message;
  $("library-error").hidden = !message;
}

let latest = 0;  // a slow answer to an older refresh must not overwrite a newer one

async function refresh() {
  clearTimeout(refreshTimer);
  const mine = ++latest;
  const params = new URLSearchParams({ limit: PAGE, offset });
  if ($("filter-collection").value) params.set("collection", $("filter-collection").value);
  if ($("filter-status").value) params.set("status", $("filter-status").value);
  let body;
  try {
    body = await api(`/api/documents?${params}`);
  } catch (err) {
    if (mine !== latest) return;
    showError(err.message);
    refreshTimer = setTimeout(refresh, 5000);
    return;
  }
  if (mine !== latest) return;
  showError("");
  const docs = body.documents;
  document.querySelector("#documents tbody").replaceChildren(...docs.map(row));
  $("library-empty").hidden = docs.length > 0;
  $("next-page").hidden = !body.next;
  $("previous-page").hidden = offset === 0;
  $("page-info").textContent = body.total > PAGE
    ? `${offset + 1}–${offset + docs.length} of ${body.total}` : "";
  const busy = docs.some((d) => d.status === "queued" || d.status === "processing");
  refreshTimer = setTimeout(refresh, busy ? 1000 : 10000);
}

$("next-page").addEventListener("click", () => { offset += PAGE; refresh(); });
$("previous-page").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); refresh(); });
$("filter-collection").addEventListener("change", () => { offset = 0; refresh(); });
$("filter-status").addEventListener("change", () => { offset = 0; refresh(); });
fillCollections($("filter-collection")).then(refresh);
