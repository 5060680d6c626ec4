// Search page: knowledge search across collections with filters; each result shows the
// snippet with the query's words highlighted (whole words, and their plurals) and links to its
// passage view. The query and filters live in the address, so Back returns to the same search.
"use strict";

const KINDS = ["pdf", "text", "meeting"];

function filters() {
  const body = {};
  if ($("search-collection").value) body.collection = $("search-collection").value;
  const kinds = [...document.querySelectorAll("input[name=kind]:checked")].map((i) => i.value);
  if (kinds.length && kinds.length < KINDS.length) body.kinds = kinds;
  const speakers = $("speakers").value.split(",").map((s) => s.trim()).filter(Boolean);
  if (speakers.length) body.speakers = speakers;
  if ($("date-from").value) body.date_from = $("date-from").value;
  if ($("date-to").value) body.date_to = $("date-to").value;
  return body;
}

// The search as address parameters: q, collection, kinds, speakers, from, to.
function searchParams(query, body) {
  const params = new URLSearchParams({ q: query });
  if (body.collection) params.set("collection", body.collection);
  if (body.kinds) params.set("kinds", body.kinds.join(","));
  if (body.speakers) params.set("speakers", body.speakers.join(", "));
  if (body.date_from) params.set("from", body.date_from);
  if (body.date_to) params.set("to", body.date_to);
  return params;
}

function restoreFilters(params) {
  const collection = params.get("collection") || "";
  const select = $("search-collection");
  if (collection && ![...select.options].some((o) => o.value === collection)) {
    select.append(el("option", { value: collection, textContent: collection }));
  }
  select.value = collection;
  const kinds = params.get("kinds") ? params.get("kinds").split(",") : KINDS;
  for (const box of document.querySelectorAll("input[name=kind]")) box.checked = kinds.includes(box.value);
  $("speakers").value = params.get("speakers") || "";
  $("date-from").value = params.get("from") || "";
  $("date-to").value = params.get("to") || "";
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

function showNothingMatches(query, body) {
  const narrowed = Object.keys(body).length > 0;
  $("nothing-matches").replaceChildren(
    el("strong", { textContent: `Nothing matches “${query}”.` }),
    ` No passage ${narrowed ? "within these filters " : ""}is about it. Check the spelling or `
      + `try other words${narrowed ? " or fewer filters" : ""}.`);
  $("nothing-matches").hidden = false;
}

$("search-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const query = $("query").value.trim();
  if (!query) return;
  const error = $("search-error");
  error.hidden = true;
  const body = filters();
  history.replaceState(null, "", `?${searchParams(query, body)}`);
  $("search-status").textContent = "Searching…";
  $("nothing-matches").hidden = true;
  $("results").setAttribute("aria-busy", "true");
  try {
    const answer = await api("/api/search", { json: { query, k: 20, relevant_only: true, ...body } });
    const words = queryWords(query);
    $("results").replaceChildren(...answer.hits.map((hit) => result(hit, words)));
    $("nothing-matches").hidden = true;
    if (!answer.hits.length) showNothingMatches(query, body);
    $("search-status").textContent = answer.hits.length ? `${plural(answer.hits.length, "passage")} found.` : "";
  } catch (err) {
    $("search-status").textContent = "";
    error.textContent = refusalText(err);
    error.hidden = false;
  } finally {
    $("results").removeAttribute("aria-busy");
  }
});

fillCollections($("search-collection")).then(() => {
  const params = new URLSearchParams(location.search);
  const q = params.get("q");
  if (q) {
    $("query").value = q;
    restoreFilters(params);
    $("search-form").requestSubmit();
  }
});
