// Tables page: pick documents, a collection or pasted text; name the columns (or let the model
// propose them); the table is made as a background job whose progress line says what it reads.
// Every filled cell opens the quote it was read from (and its page in the passage view); a value
// that could not be checked against the text is left empty and says why. The finished table
// exports as CSV, XLSX or SQLite, and every finished table can be queried with read-only SQL.
"use strict";

const JOB_POLL_MS = 500;
const MAX_COLUMNS = 30;
const MAX_NAME = 64;
const PASTED = "pasted";  // the source id of pasted text
const TYPES = [["text", "Text"], ["number", "Number"], ["date", "Date"], ["enum", "One of a list"],
  ["boolean", "Yes or no"]];

let library = [];  // indexed documents, newest first
let busy = false;
let clock = null;  // the elapsed-time ticker while a job runs
let columnKeys = 0;  // a fresh key per column row, for its fields' ids
let scopeChosen = false;  // the reader picked what to read before the library had loaded

// ---- busy state, progress and errors ---------------------------------------------------------

function setBusy(value) {
  busy = value;
  $("run-table").disabled = value;
  $("propose-columns").disabled = value;
  $("table-progress-bar").hidden = !value;
  clearInterval(clock);
  $("table-elapsed").textContent = "";
  if (!value) return;
  const started = Date.now();
  clock = setInterval(() => {
    $("table-elapsed").textContent = `${Math.round((Date.now() - started) / 1000)} s`;
  }, 1000);
}

// The bar, and the line a screen reader hears (polite): only when its words change.
function progress(fraction, label) {
  $("table-progress-bar").value = fraction;
  if ($("table-status").textContent !== label) $("table-status").textContent = label;
}

function showError(message) {
  $("table-error").textContent = message;
  $("table-error").hidden = !message;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Polls a job until it ends: its result, or an Error with the job's own plain-language reason.
async function waitFor(jobUrl, working) {
  for (;;) {
    const job = await api(jobUrl);
    if (job.status === "done") return job.result;
    if (job.status === "failed") {
      throw Object.assign(new Error(job.error ? job.error.message : "The job failed."),
        { code: job.error && job.error.code });
    }
    progress(job.progress || 0, job.status === "queued" ? "Waiting for a worker…"
      : job.progress_label || working);
    await sleep(JOB_POLL_MS);
  }
}

// A problem in the form: its message, and the field to put the cursor in.
class FormProblem extends Error {
  constructor(message, field) {
    super(message);
    this.field = field;
  }
}

// ---- scope: documents, a collection, or pasted text ------------------------------------------

function scopeKind() {
  return document.querySelector('input[name="scope-kind"]:checked').value;
}

function rowMode() {
  return document.querySelector('input[name="row-mode"]:checked').value;
}

function showScopePanel() {
  const kind = scopeKind();
  $("scope-documents-panel").hidden = kind !== "documents";
  $("scope-collection-panel").hidden = kind !== "collection";
  $("scope-text-panel").hidden = kind !== "text";
}

function tickedIds() {
  return [...document.querySelectorAll('#table-documents input[type="checkbox"]:checked')].map((box) => box.value);
}

function readScope() {
  const kind = scopeKind();
  if (kind === "documents") {
    const ids = tickedIds();
    if (!ids.length) {
      const first = document.querySelector('#table-documents input[type="checkbox"]');
      throw new FormProblem(library.length ? "Tick at least one document to read."
        : "There are no indexed documents yet: upload some, or paste text instead.", first || $("document-filter"));
    }
    return { document_ids: ids };
  }
  if (kind === "collection") {
    const name = $("table-collection").value;
    if (!name) throw new FormProblem("Choose the collection to read.", $("table-collection"));
    return { collection: name };
  }
  const text = $("table-text").value;
  if (!text.trim()) throw new FormProblem("Paste the text to read.", $("table-text"));
  return { text };
}

function documentChoice(doc) {
  const id = `document-${doc.id}`;
  const box = el("input", { type: "checkbox", id, value: doc.id });
  const size = documentSize(doc);
  return el("div", { className: "document-choice" }, [box,
    el("label", { htmlFor: id }, [
      el("span", { className: "filename", textContent: doc.filename }),
      el("span", { className: "meta", textContent: [doc.collection, size].filter(Boolean).join(" · ") }),
    ])]);
}

// Hides the documents the filter does not match (ticked ones stay: they are read all the same).
function filterDocuments() {
  const words = $("document-filter").value.trim().toLowerCase();
  let shown = 0;
  for (const choice of document.querySelectorAll("#table-documents .document-choice")) {
    const box = choice.querySelector("input");
    const doc = library.find((d) => d.id === box.value);
    const match = !words || box.checked || doc.filename.toLowerCase().includes(words)
      || doc.collection.toLowerCase().includes(words);
    choice.hidden = !match;
    if (match) shown += 1;
  }
  $("documents-note").textContent = !library.length ? "No indexed documents yet: upload some, or paste text."
    : !shown ? "No document or collection has that in its name." : "";
}

async function loadScope() {
  try {
    library = await indexedDocuments();
  } catch (err) {
    $("documents-note").textContent = `The list of documents could not be loaded: ${err.message}`;
    return;
  }
  $("table-documents").replaceChildren(...library.map(documentChoice));
  filterDocuments();
  // Nothing indexed yet: pasting is what is left (unless the reader already chose).
  if (!library.length && !scopeChosen) {
    document.querySelector('input[name="scope-kind"][value="text"]').checked = true;
    showScopePanel();
  }
  await fillCollections($("table-collection"));
}

// ---- the column editor -----------------------------------------------------------------------

function labelled(id, text, control) {
  return el("span", { className: "column-field" }, [el("label", { htmlFor: id, textContent: text }), control]);
}

function columnRow(column = {}) {
  columnKeys += 1;
  const key = `column-${columnKeys}`;
  const name = el("input", { id: `${key}-name`, className: "column-name", type: "text", maxLength: MAX_NAME,
    autocomplete: "off", value: column.name || "" });
  const type = el("select", { id: `${key}-type`, className: "column-type" },
    TYPES.map(([value, text]) => el("option", { value, textContent: text })));
  type.value = TYPES.some(([value]) => value === column.type) ? column.type : "text";
  const description = el("input", { id: `${key}-description`, className: "column-description", type: "text",
    maxLength: 300, autocomplete: "off", value: column.description || "" });
  const values = el("input", { id: `${key}-values`, className: "column-values", type: "text", autocomplete: "off",
    value: (column.values || []).join(", "), placeholder: "paid, unpaid, overdue" });
  const valuesField = labelled(values.id, "Allowed values (comma separated)", values);
  valuesField.classList.add("values-field");
  valuesField.hidden = type.value !== "enum";
  type.addEventListener("change", () => { valuesField.hidden = type.value !== "enum"; });
  const legend = el("legend", { className: "column-legend" });
  const remove = el("button", { type: "button", className: "secondary remove-column", textContent: "Remove" });
  const row = el("li", { className: "column" }, [el("fieldset", {}, [legend,
    labelled(name.id, "Name", name), labelled(type.id, "Type", type),
    labelled(description.id, "What goes in it", description), valuesField, remove])]);
  remove.addEventListener("click", () => removeColumn(row));
  return row;
}

// Legends and Remove buttons say which column they belong to: "Column 2", "Remove column 2".
function renumberColumns() {
  const rows = [...$("columns").children];
  rows.forEach((row, i) => {
    row.querySelector(".column-legend").textContent = `Column ${i + 1}`;
    row.querySelector(".remove-column").setAttribute("aria-label", `Remove column ${i + 1}`);
    row.querySelector(".remove-column").disabled = rows.length === 1;
  });
  $("add-column").disabled = rows.length >= MAX_COLUMNS;
}

function addColumn(column) {
  const row = columnRow(column);
  $("columns").append(row);
  renumberColumns();
  return row;
}

function removeColumn(row) {
  const next = row.nextElementSibling || row.previousElementSibling;
  row.remove();
  renumberColumns();
  // The cursor goes to the column that took its place, not back to the top of the page.
  (next ? next.querySelector(".column-name") : $("add-column")).focus();
}

function setColumns(columns) {
  $("columns").replaceChildren();
  for (const column of columns.slice(0, MAX_COLUMNS)) addColumn(column);
  if (!columns.length) addColumn();
}

// The editor's columns as the API takes them; a FormProblem names the first field to fix.
function readColumns() {
  const seen = new Set();
  const columns = [];
  for (const [i, row] of [...$("columns").children].entries()) {
    const nameField = row.querySelector(".column-name");
    const name = nameField.value.trim();
    const type = row.querySelector(".column-type").value;
    const description = row.querySelector(".column-description").value.trim();
    const valuesField = row.querySelector(".column-values");
    const values = type === "enum" ? [...new Set(valuesField.value.split(",").map((v) => v.trim()).filter(Boolean))] : [];
    if (!name) {
      if (!description && $("columns").children.length > 1) continue;  // an empty row left over
      throw new FormProblem(`Column ${i + 1} needs a name.`, nameField);
    }
    if (seen.has(name.toLowerCase())) throw new FormProblem(`Two columns are named “${name}”: give each its own name.`, nameField);
    if (type === "enum" && !values.length) {
      throw new FormProblem(`Column “${name}” is one of a list: write the allowed values, separated by commas.`, valuesField);
    }
    seen.add(name.toLowerCase());
    columns.push({ name, type, description, values });
  }
  if (!columns.length) throw new FormProblem("Name at least one column.", $("columns").querySelector(".column-name"));
  return columns;
}

// ---- running: propose columns, make the table ------------------------------------------------

function failed(err) {
  progress(0, "");
  if (err instanceof FormProblem) {
    showError(err.message);
    if (err.field) err.field.focus();
  } else {
    showError(refusalText(err));
  }
}

$("propose-columns").addEventListener("click", async () => {
  if (busy) return;
  showError("");
  try {
    const scope = readScope();
    setBusy(true);
    progress(0, "Asking for columns…");
    const job = await api("/api/tables/columns", { json: { scope, rows: rowMode() } });
    const result = await waitFor(job.job_url, "Reading to propose columns…");
    setColumns(result.columns || []);
    const count = (result.columns || []).length;
    progress(1, count ? `${plural(count, "column")} proposed: edit them, then make the table.`
      : "No columns could be proposed from this text: name them yourself.");
  } catch (err) {
    failed(err);
  } finally {
    setBusy(false);
  }
});

$("table-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (busy) return;
  showError("");
  try {
    const body = { scope: readScope(), columns: readColumns(), rows: rowMode() };
    const title = $("table-title").value.trim();
    if (title) body.title = title;
    setBusy(true);
    progress(0, "Sending…");
    const job = await api("/api/tables", { json: body });
    const result = await waitFor(job.job_url, "Reading…");
    render(result.table);
    progress(1, `Done: ${plural(result.table.stats.rows, "row")}.`);
    loadTables();
  } catch (err) {
    failed(err);
  } finally {
    setBusy(false);
  }
});

// ---- the finished table ----------------------------------------------------------------------

// A cell's value as the table shows it: normalized (ISO dates, plain numbers with their unit,
// yes or no), so that every row reads alike.
function shownValue(cell) {
  if (typeof cell.value === "boolean") return cell.value ? "yes" : "no";
  if (typeof cell.value === "number") return cell.unit ? `${cell.value} ${cell.unit}` : String(cell.value);
  if (cell.value === null || cell.value === undefined) return cell.text || "";
  return String(cell.value);
}

function whereText(cell) {
  if (Number.isInteger(cell.page)) return `page ${cell.page}`;
  if (Number.isInteger(cell.line)) return `line ${cell.line}`;
  return "";
}

// Where a cell's quote can be read in its document: a PDF's page with the quote marked, a
// meeting's turn (lines of a meeting are its turns, counted from 1), or a text file's quote
// beside the file; null for pasted text, which is kept nowhere to open.
function passageHref(source, cell) {
  if (!source.id || source.id === PASTED) return null;
  const base = `/passage/${encodeURIComponent(source.id)}`;
  const quote = cell.quote ? { quote: cell.quote } : {};
  if (Number.isInteger(cell.page)) return `${base}?${new URLSearchParams({ page: cell.page, ...quote })}`;
  const doc = library.find((d) => d.id === source.id);
  if (Number.isInteger(cell.line) && cell.line >= 1 && doc && doc.kind === "meeting") {
    return `${base}?turns=${cell.line - 1}-${cell.line - 1}`;
  }
  return cell.quote ? `${base}?${new URLSearchParams(quote)}` : base;
}

function evidence(id, source, cell) {
  const shown = shownValue(cell);
  const where = whereText(cell);
  const href = passageHref(source, cell);
  return el("div", { id, className: "evidence", hidden: true }, [
    cell.text && cell.text !== shown ? el("p", { className: "meta", textContent: `Written as “${cell.text}”` }) : null,
    el("blockquote", { className: "cited", textContent: cell.quote }),
    el("p", { className: "meta where" }, [
      where ? `${source.title}, ${where}` : source.title,
      href ? " · " : null,
      href ? el("a", { href, textContent: "Open in the document" }) : null,
    ]),
  ]);
}

function toggle(button, panel) {
  const open = panel.hidden;
  panel.hidden = !open;
  button.setAttribute("aria-expanded", String(open));
}

function cellNode(column, source, cell, key) {
  const td = el("td", { dataset: { label: column.name, status: cell.status } });
  if (cell.status === "ok") {
    const id = `evidence-${key}`;
    const button = el("button", { type: "button", className: "cell-value", textContent: shownValue(cell) });
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", id);
    const panel = evidence(id, source, cell);
    button.addEventListener("click", () => toggle(button, panel));
    td.append(button, panel);
  } else if (cell.status === "unverified") {
    td.append(el("span", { className: "not-verified", textContent: "not verified" }),
      el("span", { className: "reason", textContent: cell.reason || "The value could not be found in the quoted text." }));
  } else {
    td.append(el("span", { className: "missing", textContent: "—", title: "Not found in the text" }));
  }
  return td;
}

function sourceCell(source) {
  return el("td", { className: "source", dataset: { label: "Source" }, textContent: source.title });
}

function summaryLine(stats) {
  return `${plural(stats.rows, "row")} · ${stats.filled} of ${plural(stats.cells, "cell")} filled · ${stats.verified} verified`;
}

function render(table) {
  $("table-result").hidden = false;
  $("result-title").textContent = table.title || "Table";
  $("table-summary").textContent = summaryLine(table.stats);
  const head = el("tr", {}, [...table.columns.map((column) => el("th", { scope: "col", textContent: column.name })),
    el("th", { scope: "col", textContent: "Source" })]);
  document.querySelector("#result-table thead").replaceChildren(head);
  document.querySelector("#result-table tbody").replaceChildren(...table.rows.map((row, r) =>
    el("tr", {}, [...table.columns.map((column, c) =>
      cellNode(column, row.source, row.cells[column.name] || { status: "missing" }, `${r}-${c}`)),
    sourceCell(row.source)])));
  $("no-rows").hidden = table.rows.length > 0;
  const warnings = table.warnings || [];
  $("table-warnings").replaceChildren(...warnings.map((text) => el("li", { textContent: text })));
  $("table-warnings").hidden = !warnings.length;
  for (const format of ["csv", "xlsx", "sqlite"]) {
    $(`export-${format}`).href = `/api/tables/${encodeURIComponent(table.id)}/export?format=${format}`;
  }
  $("sql-text").placeholder = `SELECT * FROM ${table.sql_name} LIMIT 20`;
}

// ---- SQL over the finished tables ------------------------------------------------------------

// The names to SELECT: the source, then each column's SQL name (its header made safe).
function columnNames(table) {
  const names = table.sql_columns || (table.columns || []).map((c) => c.name);
  return ["source", ...names];
}

function tableItem(table) {
  const use = el("button", { type: "button", className: "secondary use-table", textContent: "Query it",
    ariaLabel: `Query it: ${table.sql_name}` });
  use.addEventListener("click", () => {
    $("sql-text").value = `SELECT * FROM ${table.sql_name} LIMIT 20`;
    $("sql-text").focus();
  });
  return el("li", { dataset: { sqlName: table.sql_name } }, [
    el("code", { className: "sql-name", textContent: table.sql_name }), " ",
    el("span", { textContent: `${table.title || "Table"} (${plural(table.rows, "row")})` }), " ", use,
    el("div", { className: "meta sql-columns" }, [
      "Columns: ", ...columnNames(table).flatMap((name, i) => [i ? ", " : null, el("code", { textContent: name })]),
    ]),
  ]);
}

async function loadTables() {
  let tables;
  try {
    tables = (await api("/api/tables")).tables;
  } catch (err) {
    $("no-tables").textContent = `The list of tables could not be loaded: ${err.message}`;
    $("no-tables").hidden = false;
    return;
  }
  $("sql-tables").replaceChildren(...tables.map(tableItem));
  $("no-tables").hidden = tables.length > 0;
  if (tables.length && !$("sql-text").placeholder.includes(" t_")) {
    $("sql-text").placeholder = `SELECT * FROM ${tables[0].sql_name} LIMIT 20`;
  }
}

function sqlValue(value) {
  if (value === null || value === undefined) return el("span", { className: "meta", textContent: "NULL" });
  return String(value);
}

function renderQuery(result) {
  const head = el("tr", {}, result.columns.map((name) => el("th", { scope: "col", textContent: name })));
  document.querySelector("#sql-result thead").replaceChildren(head);
  document.querySelector("#sql-result tbody").replaceChildren(...result.rows.map((row) =>
    el("tr", {}, row.map((value, i) => el("td", { dataset: { label: result.columns[i] } }, [sqlValue(value)])))));
  $("sql-scroll").hidden = false;
  const count = plural(result.rows.length, "row");
  $("sql-status").textContent = result.truncated ? `The first ${count} are shown: add a LIMIT or a WHERE to see the rest.`
    : `${count}.`;
}

$("sql-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const sql = $("sql-text").value.trim();
  $("sql-error").hidden = true;
  if (!sql) {
    $("sql-error").textContent = "Write a SELECT query first.";
    $("sql-error").hidden = false;
    $("sql-text").focus();
    return;
  }
  $("run-sql").disabled = true;
  $("sql-status").textContent = "Running…";
  try {
    renderQuery(await api("/api/tables/sql", { json: { sql } }));
  } catch (err) {
    $("sql-status").textContent = "";
    $("sql-scroll").hidden = true;
    $("sql-error").textContent = refusalText(err);
    $("sql-error").hidden = false;
  } finally {
    $("run-sql").disabled = false;
  }
});

// ---- start -----------------------------------------------------------------------------------

for (const radio of document.querySelectorAll('input[name="scope-kind"]')) {
  radio.addEventListener("change", () => { scopeChosen = true; showScopePanel(); });
}
$("document-filter").addEventListener("input", filterDocuments);
$("add-column").addEventListener("click", () => addColumn().querySelector(".column-name").focus());
setColumns([]);
showScopePanel();
loadScope();
loadTables();
