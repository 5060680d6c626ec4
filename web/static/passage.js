// Passage view: bring the cited turns or text into sight. On a PDF, pdf.js (served by docchat,
// web/vendor.py) draws the cited page with its text layer and the cited text is marked on the
// page; when pdf.js cannot load the file or the text is not found on the page, the browser's
// own viewer is shown beside the cited text instead. "Back" returns to the chat when the reader
// came from there.
"use strict";

const NOT_MARKED = "The cited sentence could not be marked on this page; it is shown beside it.";
const NOT_DRAWN = "This page could not be drawn here; the browser's PDF viewer shows it instead.";
const CSS_PER_PDF_UNIT = 96 / 72;  // pdf.js draws 1 PDF unit as 1 px; "100%" is print size
const ZOOM_STEP = 1.25;
const MIN_ZOOM = 0.25;
const MAX_ZOOM = 4;
const MAX_CANVAS_PIXELS = 16 * 1024 * 1024;  // past this, a sharper canvas costs too much memory
const MIN_PIECE = 12;  // folded characters: a shorter sentence or line could match by chance

// ---- finding the cited text in the page's text --------------------------------------------
// The stored chunk and pdf.js read the same page differently: spaces, line breaks, hyphens at
// line ends, ligatures, quotes. Both are compared as their letters and digits only, folded to
// lower case without accents.

function foldedChars(ch) {
  let out = "";
  for (const c of ch.normalize("NFKD").toLowerCase()) if (/[\p{L}\p{N}]/u.test(c)) out += c;
  return out;
}

function fold(text) {
  let out = "";
  for (const ch of text) out += foldedChars(ch);
  return out;
}

// The text layer's items folded into one string; where[k] is the item and the offsets within
// it of the character that folded character k came from.
function foldItems(items) {
  let text = "";
  const where = [];
  items.forEach((str, item) => {
    let offset = 0;
    for (const ch of str) {
      for (const c of foldedChars(ch)) {
        text += c;
        where.push({ item, start: offset, end: offset + ch.length });
      }
      offset += ch.length;
    }
  });
  return { text, where };
}

// The pieces to look for, largest first: the whole text, else its sentences, else the lines of
// a sentence not found whole (a PDF's reading order may differ from the stored one).
function pieces(text) {
  const sentences = text.split(/(?<=[.!?])\s+/u);
  return sentences.map((sentence) => [sentence, ...sentence.split(/\n+/u)]);
}

// Ranges of the folded page text that hold `texts`: [start, end, tail] with `end` exclusive
// and `tail` the punctuation the piece ends with (its full stop), possibly none.
function findCited(page, texts) {
  const found = [];
  const locate = (piece, shortest) => {
    const needle = fold(piece);
    const at = needle.length >= shortest ? page.indexOf(needle) : -1;
    const tail = piece.trimEnd().match(/[^\p{L}\p{N}\s]*$/u)[0];
    if (at >= 0) found.push([at, at + needle.length, tail]);
    return at >= 0;
  };
  for (const text of texts) {
    if (locate(text, 1)) continue;  // a short cited text (a figure, a name) is still looked for
    for (const [sentence, ...lines] of pieces(text)) {
      if (!locate(sentence, MIN_PIECE)) lines.forEach((line) => locate(line, MIN_PIECE));
    }
  }
  return found;
}

// Wraps the characters of each range in <mark class="cited-mark"> inside the text layer's
// spans; returns the marks in page order.
function markRanges(textDivs, items, where, ranges) {
  const perItem = new Map();  // item -> [[start, end], ...] in the item's own offsets
  for (const [start, end, tail] of ranges) {
    const first = where[start], last = where[end - 1];
    const through = last.end + (items[last.item].startsWith(tail, last.end) ? tail.length : 0);
    for (let item = first.item; item <= last.item; item++) {
      const from = item === first.item ? first.start : 0;
      const to = item === last.item ? through : items[item].length;
      if (!perItem.has(item)) perItem.set(item, []);
      perItem.get(item).push([from, to]);
    }
  }
  const marks = [];
  for (const item of [...perItem.keys()].sort((a, b) => a - b)) {
    const spans = merged(perItem.get(item));
    const text = items[item], div = textDivs[item];
    div.textContent = "";
    let at = 0;
    for (const [from, to] of spans) {
      if (from > at) div.append(text.slice(at, from));
      const mark = el("mark", { className: "cited-mark", textContent: text.slice(from, to) });
      div.append(mark);
      marks.push(mark);
      at = to;
    }
    if (at < text.length) div.append(text.slice(at));
  }
  return marks;
}

function merged(spans) {
  const out = [];
  for (const [from, to] of spans.sort((a, b) => a[0] - b[0])) {
    const last = out[out.length - 1];
    if (last && from <= last[1]) last[1] = Math.max(last[1], to);
    else out.push([from, to]);
  }
  return out;
}

// ---- the viewer -----------------------------------------------------------------------------

class PdfView {
  constructor(root, pdfjs, pdf) {
    this.root = root;
    this.pdfjs = pdfjs;
    this.pdf = pdf;
    this.cited = Number(root.dataset.page) || 1;
    this.number = Math.min(Math.max(this.cited, 1), pdf.numPages);
    this.zoom = null;  // null: fit the page to the box's width
    this.drawn = 0;  // counts draws, so that a slower earlier one is dropped
    this.task = null;
  }

  // The texts to mark on the cited page: the quote if the link carried one, else the cited
  // chunks of that page.
  citedTexts() {
    const blocks = [...document.querySelectorAll("#cited-text blockquote.cited")]
      .filter((b) => b.dataset.page === String(this.cited));
    const quote = blocks.filter((b) => b.classList.contains("quote"));
    return (quote.length ? quote : blocks).map((b) => b.textContent).filter((t) => t.trim());
  }

  wire() {
    const go = (step) => () => this.redraw(this.number + step);
    $("pdf-prev").addEventListener("click", go(-1));
    $("pdf-next").addEventListener("click", go(1));
    $("pdf-zoom-in").addEventListener("click", () => this.zoomBy(ZOOM_STEP));
    $("pdf-zoom-out").addEventListener("click", () => this.zoomBy(1 / ZOOM_STEP));
    let pending = null;
    window.addEventListener("resize", () => {
      // Only a new width changes the fit (a phone's address bar coming and going does not).
      if (this.zoom !== null || $("pdf-stage")?.clientWidth === this.width) return;
      clearTimeout(pending);
      pending = setTimeout(() => this.redraw(this.number), 200);
    });
  }

  zoomBy(factor) {
    const current = this.zoom ?? this.fitted ?? 1;
    this.zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, current * factor));
    this.redraw(this.number);
  }

  // Draws again after a click or a resize, saying where the cited text is.
  redraw(number) {
    this.draw(number).then((marks) => {
      if (marks) $("pdf-status").textContent = this.said(number, marks);
    }).catch((err) => {
      console.warn("pdf.js could not draw the page:", err);
      fallBack(this.root, err instanceof NotFound ? NOT_MARKED : NOT_DRAWN);
    });
  }

  said(number, marks) {
    if (number !== this.cited) return `The cited text is on page ${this.cited}.`;
    return marks.length ? "The cited text is marked on the page." : "";
  }

  // Draws page `number` (canvas and text layer) and, on the cited page, marks the cited text.
  // Resolves to the marks, or null when a later draw replaced this one.
  async draw(number) {
    if (!this.root.isConnected) return null;  // replaced by the fallback
    const draw = ++this.drawn;
    this.number = number;
    this.task?.cancel();
    const page = await this.pdf.getPage(number);
    if (draw !== this.drawn) return null;
    const stage = $("pdf-stage");
    const natural = page.getViewport({ scale: 1 });
    this.width = stage.clientWidth;
    this.fitted = Math.max(MIN_ZOOM, this.width / (natural.width * CSS_PER_PDF_UNIT));
    const zoom = this.zoom ?? this.fitted;
    const viewport = page.getViewport({ scale: zoom * CSS_PER_PDF_UNIT });
    const width = Math.floor(viewport.width), height = Math.floor(viewport.height);
    const ratio = Math.min(window.devicePixelRatio || 1,
                           Math.sqrt(MAX_CANVAS_PIXELS / (width * height)));
    const canvas = el("canvas", { width: Math.floor(width * ratio),
                                  height: Math.floor(height * ratio) });
    canvas.setAttribute("aria-hidden", "true");  // the text layer carries the page's text
    const layer = el("div", { className: "textLayer" });
    const sheet = el("div", { className: "pdf-page" }, [canvas, layer]);
    sheet.style.width = `${width}px`;
    sheet.style.height = `${height}px`;
    sheet.style.setProperty("--total-scale-factor", String(viewport.scale));
    this.task = page.render({ canvas, viewport,
                              transform: ratio === 1 ? null : [ratio, 0, 0, ratio, 0, 0] });
    const text = new this.pdfjs.TextLayer({ textContentSource: page.streamTextContent(),
                                            container: layer, viewport });
    try {
      await Promise.all([this.task.promise, text.render()]);
    } catch (err) {
      if (err instanceof this.pdfjs.RenderingCancelledException) return null;
      throw err;
    }
    if (draw !== this.drawn) return null;
    $("pdf-page").replaceWith(Object.assign(sheet, { id: "pdf-page" }));
    this.label(number, zoom);
    if (number !== this.cited) return [];
    const texts = this.citedTexts();
    const { text: folded, where } = foldItems(text.textContentItemsStr);
    const marks = markRanges(text.textDivs, text.textContentItemsStr, where,
                             findCited(folded, texts));
    if (texts.length && !marks.length) throw new NotFound();
    if (marks.length) marks[0].scrollIntoView({ block: "center", inline: "nearest" });
    return marks;
  }

  label(number, zoom) {
    const pages = this.pdf.numPages;
    $("pdf-page-label").textContent = `Page ${number} of ${pages}`;
    $("pdf-stage").setAttribute("aria-label", `Page ${number} of ${pages}`);
    $("pdf-zoom-label").textContent = `${Math.round(zoom * 100)}%`;
    $("pdf-prev").disabled = number <= 1;
    $("pdf-next").disabled = number >= pages;
    $("pdf-zoom-out").disabled = zoom <= MIN_ZOOM;
    $("pdf-zoom-in").disabled = zoom >= MAX_ZOOM;
  }
}

class NotFound extends Error {}

// The browser's own viewer in place of pdf.js's, with `message` above it.
function fallBack(viewer, message) {
  const frame = $("pdf-fallback").content.cloneNode(true);
  const note = el("p", { className: "notice", id: "pdf-fallback-note", textContent: message });
  viewer.replaceWith(el("div", { id: "pdf-fallback-view" }, [note, frame]));
}

async function showPdf(viewer) {
  try {
    const pdfjs = await import(viewer.dataset.pdfjs);
    pdfjs.GlobalWorkerOptions.workerSrc = viewer.dataset.worker;
    // pdf.js 6 runs no eval (its old isEvalSupported option is gone); the page's CSP has
    // neither 'unsafe-eval' nor 'unsafe-inline'.
    const pdf = await pdfjs.getDocument({ url: viewer.dataset.file, enableXfa: false }).promise;
    const view = new PdfView(viewer, pdfjs, pdf);
    view.wire();
    const marks = await view.draw(view.number);
    if (marks) $("pdf-status").textContent = view.said(view.number, marks);
  } catch (err) {
    if (!(err instanceof NotFound)) console.warn("pdf.js could not show the page:", err);
    fallBack(viewer, err instanceof NotFound ? NOT_MARKED : NOT_DRAWN);
  }
}

const back = $("back-link");
if (document.referrer.startsWith(location.origin)) {
  back.addEventListener("click", (e) => { e.preventDefault(); history.back(); });
}
const pdfViewer = $("pdf-viewer");
if (pdfViewer) {
  showPdf(pdfViewer);
} else {
  const cited = document.querySelector(".cited");
  if (cited) cited.scrollIntoView({ block: "center" });
}
