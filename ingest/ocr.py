"""Text for the PDF pages that have none (scans), read by Tesseract through OCRmyPDF.

It runs in the parse sandbox's child (ingest.sandbox), like the rest of the parse: the memory
ceiling covers OCRmyPDF and its page rasterizer (pypdfium2, in the same process) and is
inherited by Tesseract, its child process; the time limit grows by `seconds_per_page` for each
page read, and a page Tesseract cannot finish in that time is given up (left empty).
"""

from __future__ import annotations

import importlib.util
import logging
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pypdf import PdfReader

log = logging.getLogger(__name__)

# Tesseract's language codes, joined by "+": pages may mix them.
DEFAULT_LANGUAGES = "eng+rus"
_LANGUAGE_CODE = re.compile(r"^[A-Za-z0-9_]+$")
# Pages are drawn for Tesseract at this resolution at least (what it is trained for): a scan
# whose text sits in a 300 dpi layer over a 150 dpi background is otherwise drawn at 150 dpi.
OCR_DPI = 300
# Tesseract's page segmentation mode 1: its own layout analysis, after finding which way up
# the page is, so that a landscape scan fed in sideways reads as text. OCRmyPDF's
# rotate_pages does the same with a separate Tesseract run per page: twice the time.
_AUTOMATIC_WITH_ORIENTATION = 1


@dataclass(frozen=True)
class OcrOptions:
    """How the parse reads pages without a text layer (None in its place: it does not)."""

    languages: str = DEFAULT_LANGUAGES
    seconds_per_page: float = 60.0
    # Told how many pages are about to be read, before OCR starts (the sandbox then extends
    # the parse's time limit by seconds_per_page for each).
    before: Callable[[int], None] | None = None

    @property
    def language_codes(self) -> list[str]:
        return [code.strip() for code in self.languages.split("+") if code.strip()]


@dataclass(frozen=True)
class OcrPage:
    text: str  # as Tesseract reads it, lines and paragraphs kept
    confidence: float  # Tesseract's mean word confidence, 0..1 (0 when it found no word)


class OcrFailed(Exception):
    """OCRmyPDF or Tesseract failed on a file; the text is for the log, not for users."""


def missing_for_ocr(languages: Sequence[str]) -> list[str]:
    """What must be installed before OCR in these languages can run here, each said with how
    to install it; empty when everything is."""
    missing = []
    if importlib.util.find_spec("ocrmypdf") is None:
        missing.append("the Python package ocrmypdf (pip install ocrmypdf)")
    tesseract = shutil.which("tesseract")
    if tesseract is None:
        missing.append("Tesseract (Debian package tesseract-ocr)")
        installed: set[str] = set()
    else:
        installed = installed_languages(tesseract)
    for code in languages:
        if code not in installed:
            missing.append(f"Tesseract's language data for {code} "
                           f"(Debian package {language_package(code)})")
    return missing


def language_package(code: str) -> str:
    """The Debian package of Tesseract's data for a language code (chi_sim: -chi-sim)."""
    return "tesseract-ocr-" + code.lower().replace("_", "-")


def installed_languages(tesseract: str) -> set[str]:
    """The language codes `tesseract --list-langs` names (none when it fails)."""
    try:
        listed = subprocess.run([tesseract, "--list-langs"], capture_output=True, text=True,
                                timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("tesseract --list-langs failed: %s", exc)
        return set()
    # The first line says where the data is ("List of available languages in ...:").
    return {line.strip() for line in listed.splitlines()[1:]
            if _LANGUAGE_CODE.match(line.strip())}


def read_pages(reader: PdfReader, indexes: list[int], options: OcrOptions) -> dict[int, OcrPage]:
    """OCR of the pages at these 0-based indexes of `reader`, by index.

    The pages are copied into a PDF of their own, so that OCRmyPDF inspects and draws only them
    (at 300 dpi at least) and hands each to Tesseract, which finds which way up it is first (a
    landscape scan fed in sideways reads as text); its text and hOCR (word confidences) are
    read back. Raises OcrFailed when OCRmyPDF or Tesseract fails on the file.
    """
    if not indexes:
        return {}
    if options.before is not None:
        options.before(len(indexes))
    # OCRmyPDF and its parts are imported here, in the parse's child, only for files that
    # need them: a second of CPU that text PDFs never pay.
    from ocrmypdf.api import _pdf_to_hocr  # the "PDF to hOCR" half of OCRmyPDF's pipeline
    from ocrmypdf.exceptions import ExitCodeException
    from pikepdf import PdfError
    from PIL.Image import DecompressionBombError
    from pypdf import PdfWriter

    # Its per-page notes ("too few characters" on a picture) are noise here; failures raise.
    logging.getLogger("ocrmypdf").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="docchat-ocr-") as folder:
        source, work = Path(folder) / "pages.pdf", Path(folder) / "work"
        work.mkdir()
        writer = PdfWriter()
        for index in indexes:
            writer.add_page(reader.pages[index])
        with open(source, "wb") as out:
            writer.write(out)
        try:
            _pdf_to_hocr(
                source, work, language=options.language_codes, jobs=1, mode="force",
                oversample=OCR_DPI, tesseract_pagesegmode=_AUTOMATIC_WITH_ORIENTATION,
                progress_bar=False, tesseract_timeout=options.seconds_per_page,
            )
        except (ExitCodeException, PdfError, DecompressionBombError, OSError) as exc:
            # OCRmyPDF's own failures (Tesseract's included), and what its PDF and image
            # libraries raise on a page they cannot take.
            raise OcrFailed(f"{type(exc).__name__}: {exc}") from exc
        return {index: page_read(work, number)
                for number, index in enumerate(indexes, start=1)}


def page_read(work: Path, number: int) -> OcrPage:
    """Page `number` (1-based) of OCRmyPDF's work folder; empty when Tesseract found no word
    on it, or OCRmyPDF skipped it, or Tesseract gave up on it (OCRmyPDF then writes an empty
    hOCR and "[skipped page]" as its text)."""
    text_path = work / f"{number:06d}_ocr_hocr.txt"
    hocr_path = work / f"{number:06d}_ocr_hocr.hocr"
    if not text_path.is_file() or not hocr_path.is_file():
        return OcrPage("", 0.0)
    hocr = hocr_path.read_text(encoding="utf-8", errors="replace")
    if not _WORD_CONFIDENCE.search(hocr):
        return OcrPage("", 0.0)
    text = text_path.read_text(encoding="utf-8", errors="replace")
    return OcrPage(one_alphabet_per_word(text), word_confidence(hocr))


# Letters that look the same in Cyrillic and Latin print, in pairs: reading English and Russian
# at once, Tesseract now and then reads "BP" as Cyrillic "ВР", or "Hepatitis C" with a
# Cyrillic "С", which no search for the word finds. Ѕ, І and Ј are not Russian: only to Latin.
_CYRILLIC_TWINS, _LATIN_TWINS = "АВЕКМНОРСТХУаеорсух", "ABEKMHOPCTXYaeopcyx"
_TO_LATIN = str.maketrans(_CYRILLIC_TWINS + "ЅІЈѕіј", _LATIN_TWINS + "SIJsij")
_TO_CYRILLIC = str.maketrans(_LATIN_TWINS, _CYRILLIC_TWINS)
_LETTERS = re.compile(r"[^\W\d_]+")
_LATIN = re.compile(r"[A-Za-z]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def one_alphabet_per_word(text: str) -> str:
    """OCR text with each word in one alphabet: a word mixing Latin and Cyrillic letters goes
    into the alphabet of most of its letters (on a tie, the page's), and a word wholly in the
    page's minority alphabet into the page's when nine in ten of the page's letters are in it.
    A word changes only when every letter to change has a look-alike in the other alphabet."""
    latin, cyrillic = len(_LATIN.findall(text)), len(_CYRILLIC.findall(text))
    if not latin or not cyrillic:
        return text
    page_latin = latin >= cyrillic
    one_sided = max(latin, cyrillic) >= 0.9 * (latin + cyrillic)

    def in_one_alphabet(match: re.Match[str]) -> str:
        word = match.group()
        word_latin, word_cyrillic = len(_LATIN.findall(word)), len(_CYRILLIC.findall(word))
        if word_latin and word_cyrillic:
            to_latin = word_latin > word_cyrillic or (word_latin == word_cyrillic and page_latin)
        elif one_sided and bool(word_latin) != page_latin and (word_latin or word_cyrillic):
            to_latin = page_latin
        else:
            return word
        moved = word.translate(_TO_LATIN if to_latin else _TO_CYRILLIC)
        left = _CYRILLIC if to_latin else _LATIN
        return word if left.search(moved) else moved

    return _LETTERS.sub(in_one_alphabet, text)


# A word in Tesseract's hOCR: <span class='ocrx_word' id=... title='bbox ...; x_wconf 93'>
_WORD_CONFIDENCE = re.compile(r"""class=['"]ocrx_word['"][^>]*?x_wconf (\d+(?:\.\d+)?)""")


def word_confidence(hocr: str) -> float:
    """The mean of Tesseract's word confidences in an hOCR page, 0..1; 0 without words."""
    found = [float(value) for value in _WORD_CONFIDENCE.findall(hocr)]
    return round(min(sum(found) / len(found) / 100, 1.0), 3) if found else 0.0
