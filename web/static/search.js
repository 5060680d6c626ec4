// Search page: knowledge search across collections with filters; each result shows the
// snippet with the query's words highlighted and links to its passage view.
"use strict";

function filters() {
  const body = {};
  if ($("search-collection").value) body.collection = $("search-collection").value;
  const kinds = [...document.querySelectorAll("input[name=kind]:checked")].map((i) => i.value);
  if (kinds.length && kinds.length < 3) body.kinds = kinds;
  const speakers = $("speakers").value.split(",").map((s) => s.trim()).filter(Boolean);
  if (speakers.length) body.speakers = speakers;
  if ($("date-from").value) body.date_from = $("date-from").value;
  if ($("date-to").value) body.date_to = $("date-to").value;
  return body;
}

function result(hit, words) {
  const where = whereLabel(hit);
  const snippet = el("p", { className: "snippet" });
  appendHighlighted(snippet, hit.text, words);
  return el("li", { className: "result" }, [
    el("a", { href: hit.href, className: "result-title", textContent: hit.filename + (where ? `, ${where}` : "") }),
    snippet,
  ]);
}

$("search-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const query = $("query").value.trim();
  if (!query) return;
  const error = $("search-error");
  error.hidden = true;
  const params = new URLSearchParams({ q: query });
  history.replaceState(null, "", `?${params}`);
  try {
    const body = await api("/api/search", { json: { query, k: 20, ...filters() } });
    const words = queryWords(query);
    $("results").replaceChildren(...body.hits.map((hit) => result(hit, words)));
    if (!body.hits.length) {
      $("results").replaceChildren(el("li", { className: "empty", textContent: "Nothing matches. Try other words or fewer filters." }));
    }
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
  }
});

fillCollections($("search-collection")).then(() => {
  const q = new URLSearchParams(location.search).get("q");
  if (q) { $("query").value = q; $("search-form").requestSubmit(); }
});
