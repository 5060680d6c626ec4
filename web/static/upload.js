// Upload page: every file is sent on its own and gets its own row and progress bar, which
// follows the upload and then the worker's real progress until "indexed" or the reason it failed.
"use strict";

const POLL_MS = 700;

function uploadRow(name) {
  const bar = el("progress", { max: 1, value: 0 });
  const status = el("span", { className: "status", textContent: "uploading" });
  const detail = el("div", { className: "meta" });
  const row = el("li", { className: "upload" }, [
    el("span", { className: "filename", textContent: name }), status, bar, detail,
  ]);
  row.dataset.status = "uploading";
  $("uploads").prepend(row);
  return {
    row,
    show(doc) {
      row.dataset.status = doc.status;
      row.dataset.documentId = doc.id;
      status.className = `status status-${doc.status}`;
      status.textContent = doc.status;
      bar.value = doc.status === "indexed" || doc.status === "failed" ? 1 : doc.progress;
      if (doc.status === "processing") status.textContent = `processing ${Math.round(doc.progress * 100)}%`;
      if (doc.status === "indexed") {
        detail.replaceChildren(`${documentSize(doc)}, ${plural(doc.chunks, "passage")} · `,
          el("a", { href: "/chat", textContent: "ask about it" }));
        if (doc.empty_pages.length) {
          detail.append(el("div", { className: "warning",
            textContent: `No text on pages ${doc.empty_pages.join(", ")}: they need OCR.` }));
        }
      }
      if (doc.error) {
        detail.className = "error";
        detail.textContent = doc.error.message;
      }
    },
    fail(message) {
      row.dataset.status = "failed";
      status.className = "status status-failed";
      status.textContent = "failed";
      bar.value = 1;
      detail.className = "error";
      detail.textContent = message;
    },
    uploading(fraction) {
      bar.value = fraction * 0.05;  // the upload itself is the first sliver of the work
      status.textContent = `uploading ${Math.round(fraction * 100)}%`;
    },
  };
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
      view.fail(err.message);
      return;
    }
    view.show(doc);
    if (doc.status === "indexed" || doc.status === "failed") return;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function uploadFile(file) {
  const collection = $("collection").value.trim() || "default";
  const view = uploadRow(file.name);
  const { status, body } = await send(file, collection, (f) => view.uploading(f));
  if (status === 0) {
    view.fail("The upload did not reach docchat. Check your connection and try again.");
    return;
  }
  if (status >= 400) {
    view.fail(body && body.error ? body.error.message : `Upload refused (${status}).`);
    return;
  }
  const [first, ...more] = body.documents;
  const views = [view, ...more.map((doc) => uploadRow(doc.filename))];
  await Promise.all(body.documents.map((doc, i) => {
    if (doc.duplicate) {
      views[i].show(doc);
      views[i].row.querySelector(".meta").prepend("Already in this collection. ");
    }
    return follow(doc.id, views[i]);
  }));
  return first;
}

function uploadAll(files) {
  if (!$("upload-form").reportValidity()) return;
  for (const file of files) uploadFile(file);
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
fillCollections($("collections"));
