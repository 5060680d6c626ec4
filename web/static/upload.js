// Upload page: every file is sent on its own and gets its own row and progress bar, which
// follows the upload and then the worker's real progress until "indexed" or the reason it failed.
"use strict";

const POLL_MS = 700;

function uploadRow(name) {
  const bar = el("progress", { max: 1, value: 0, ariaLabel: `Progress of ${name}` });
  const status = el("span", { className: "status", textContent: "uploading" });
  const detail = el("div", { className: "meta" });
  const row = el("li", { className: "upload" }, [
    el("span", { className: "filename", textContent: name }), status, bar, detail,
  ]);
  row.dataset.status = "uploading";
  $("uploads").prepend(row);
  const view = {
    row,
    duplicate: false,  // the same bytes were already in this collection: nothing new is indexed
    show(doc) {
      row.dataset.status = doc.status;
      row.dataset.documentId = doc.id;
      status.className = `status status-${doc.status}`;
      status.textContent = doc.status;
      bar.value = doc.status === "indexed" || doc.status === "failed" ? 1 : doc.progress;
      if (doc.status === "processing") status.textContent = `processing ${Math.round(doc.progress * 100)}%`;
      const parts = view.duplicate
        ? [el("strong", { className: "duplicate", textContent: "Already in this collection" }),
          ` as “${doc.filename}”: nothing new to index. `] : [];
      detail.className = "meta";
      if (doc.status === "indexed") {
        parts.push(`${documentSize(doc)}, ${plural(doc.chunks || 0, "passage")} · `,
          el("a", { href: `/chat?document=${encodeURIComponent(doc.id)}`, textContent: "ask about it" }));
        if (doc.empty_pages && doc.empty_pages.length) {
          parts.push(el("div", { className: "warning",
            textContent: `No text found on pages ${doc.empty_pages.join(", ")}.` }));
        }
      }
      if (doc.error) {
        detail.className = "error";
        parts.push(refusalText(doc.error));
      }
      detail.replaceChildren(...parts);
    },
    fail(err) {
      row.dataset.status = "failed";
      status.className = "status status-failed";
      status.textContent = "failed";
      bar.value = 1;
      detail.className = "error";
      detail.textContent = refusalText(err);
    },
    uploading(fraction) {
      bar.value = fraction * 0.05;  // the upload itself is the first sliver of the work
      status.textContent = `uploading ${Math.round(fraction * 100)}%`;
    },
  };
  return view;
}

// POST one file with upload progress (fetch cannot report it; XMLHttpRequest can).
function send(file, collection, onProgress) {
  return new Promise((resolve) => {
    const form = new FormData();
    form.append("file", file);
    form.append("collection", collection);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/documents");
    xhr.setRequestHeader("X-CSRF-Token", CSRF_TOKEN);
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => resolve({ status: xhr.status, body: xhr.response });
    xhr.onerror = () => resolve({ status: 0, body: null });
    xhr.send(form);
  });
}

async function follow(documentId, view) {
  for (;;) {
    let doc;
    try {
      doc = await api(`/api/documents/${encodeURIComponent(documentId)}`);
    } catch (err) {
      view.fail(err);
      return;
    }
    view.show(doc);
    if (doc.status === "indexed" || doc.status === "failed") return;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function uploadFile(file, collection) {
  const view = uploadRow(file.name);
  const { status, body } = await send(file, collection, (f) => view.uploading(f));
  if (status === 0) {
    view.fail({ message: "The upload did not reach docchat. Check your connection and try again.",
      code: "unreachable" });
    return;
  }
  if (status >= 400) {
    view.fail(body && body.error ? body.error : { message: `Upload refused (HTTP ${status}).`, code: `http_${status}` });
    return;
  }
  const views = [view, ...body.documents.slice(1).map((doc) => uploadRow(doc.filename))];
  await Promise.all(body.documents.map((doc, i) => {
    views[i].duplicate = Boolean(doc.duplicate);
    return follow(doc.id, views[i]);
  }));
}

// The same rule as the server's (retrieval/storage/store.py), said before anything is sent.
const COLLECTION_NAME = /^[\p{L}\p{N}\p{M}_][\p{L}\p{N}\p{M}_ .\-]{0,63}$/u;

function checkedCollection() {
  const input = $("collection");
  const name = input.value.trim() || "default";
  const message = COLLECTION_NAME.test(name) ? ""
    : refusalText({ code: "bad_collection", message: `“${name}” cannot name a collection. A collection name `
      + "is 1-64 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit: "
      + "change it, then choose the files again." });
  $("collection-error").textContent = message;
  $("collection-error").hidden = !message;
  input.setAttribute("aria-invalid", message ? "true" : "false");
  if (message) { input.focus(); return null; }
  return name;
}

function uploadAll(files) {
  const collection = checkedCollection();
  if (collection === null) return;
  // The largest first, as the server queues the files of one request (web/api.py, which also
  // puts scans first): a large file left to the end keeps one worker busy after the others
  // have finished.
  for (const file of [...files].sort((a, b) => b.size - a.size)) uploadFile(file, collection);
}

const zone = $("drop-zone");
zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", (e) => {
  e.preventDefault();
  zone.classList.remove("over");
  uploadAll([...e.dataTransfer.files]);
});
zone.addEventListener("keydown", (e) => {
  if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("file-input").click(); }
});
$("file-input").addEventListener("change", (e) => {
  uploadAll([...e.target.files]);
  e.target.value = "";
});
$("upload-form").addEventListener("submit", (e) => e.preventDefault());
$("collection").addEventListener("input", () => {
  if (!$("collection-error").hidden) checkedCollection();
});
fillCollections($("collections"));
