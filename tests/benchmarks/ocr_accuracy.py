"""OCR of scanned pages: character accuracy where the text is known, and pages per second.

Pages whose text is known are drawn as images (pdftoppm, 300 dpi, grey) and put together into
one image-only PDF per language, which docchat then reads the way it reads an uploaded scan:
`parse_isolated` with OCR (the parse sandbox, OCRmyPDF, Tesseract). English: a spread of the
pages of the eval PDFs (../shared/eval/pdfs, NIH protocols and NTSB reports) with at least 800
characters in their text layer; the truth is that text layer as docchat reads it (pypdf, tidied).
Russian: pages made here from Russian text written for this benchmark (fpdf2 with DejaVu Sans),
the truth being that text.

Character accuracy = 1 - Levenshtein distance / characters of the truth, on whitespace-folded
text (below 0 counts as 0). The page order OCR reads a form or a table in may differ from the
text layer's, which counts against it. Pages/s: pages over the wall time of the parse.

    python -m tests.benchmarks.ocr_accuracy [--pages 10] [--languages eng+rus eng]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from pypdf import PdfReader

from ingest.documents import Document
from ingest.ocr import OcrOptions
from ingest.pdf import remove_repeated_margins, tidy_text
from ingest.sandbox import parse_isolated
from tests.benchmarks.common import EVAL, header

DPI = 300
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
LATIN = re.compile(r"[A-Za-z]")
SCANNED = "NCT06155240_Prot_SAP_000.pdf"  # a scan already: it has no text layer to compare
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # Debian's fonts-dejavu-core

# Written for this benchmark: prose, a list, figures and dates, names, a few Latin words, as in
# the Russian documents docchat is asked about (protocols, reports, meeting notes).
RUSSIAN = [
    """Протокол заседания рабочей группы по внедрению системы поиска документов

Дата: 14 марта 2024 года. Место: Москва, ул. Тверская, д. 12, переговорная № 3.
Присутствовали: Иванов П. С. (председатель), Смирнова Е. А., Кузнецов Д. В., Орлова М. Н.

1. О ходе работ. Иванов сообщил, что загрузка архива договоров завершена на 85 процентов: из
4 200 документов обработано 3 570, остальные ожидают распознавания текста, так как являются
сканированными копиями без текстового слоя. Смирнова отметила, что качество сканов
неоднородно: часть страниц повёрнута, на некоторых есть печати и подписи поверх текста.

2. О сроках. Решили завершить обработку архива до 29 марта. Кузнецов подготовит отчёт о
точности распознавания к следующему заседанию; Орлова проверит выборку из 50 документов
вручную и сообщит о найденных ошибках.

3. Разное. Обсудили перенос сервера в новый центр обработки данных. Решение отложено до
получения коммерческого предложения от поставщика.""",
    """Методика оценки качества распознавания

Для каждой страницы известен исходный текст. Страница переводится в изображение с
разрешением 300 точек на дюйм, затем распознаётся, а полученный текст сравнивается с
исходным. Точность по символам равна единице минус отношение редакционного расстояния
к длине исходного текста. Пробелы и переводы строк перед сравнением приводятся к одному
пробелу, поэтому различия в разбиении на строки не учитываются.

Типичные ошибки распознавания: смешение похожих букв (например, «З» и «3», «О» и «0»),
потеря знаков препинания, слияние соседних слов и ошибки в редких фамилиях. Длинные
числа вида 1 234 567,89 и даты вида 01.02.2024 проверяются отдельно, потому что ошибка в
одной цифре меняет смысл документа.

Результаты заносятся в таблицу: номер страницы, число символов, расстояние, точность и
время распознавания в секундах. Итоговая оценка — среднее по всем страницам.""",
    """Пояснительная записка к годовому отчёту

В отчётном году компания открыла два новых филиала — в Казани и Новосибирске — и увеличила
численность персонала до 1 480 человек. Выручка составила 12,7 млрд рублей, что на 18 %
больше, чем годом ранее. Основной рост пришёлся на направление облачных сервисов.

Существенных нарушений требований охраны труда не выявлено. Проведено 36 плановых
проверок, по итогам которых устранено 214 замечаний. Средний срок устранения замечания
сократился с 21 до 9 рабочих дней.

В следующем году планируется завершить переход на электронный документооборот, сократить
расходы на печать на 40 % и обучить не менее 300 сотрудников работе с новой системой.
Ответственный за исполнение — заместитель генерального директора Белов А. Г.""",
]


@dataclass
class Read:
    name: str
    truth: str
    text: str
    confidence: float

    @property
    def accuracy(self) -> float:
        truth, text = folded(self.truth), folded(self.text)
        return max(0.0, 1 - levenshtein(truth, text) / max(len(truth), 1))


def folded(text: str) -> str:
    return " ".join(text.split())


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions), one numpy row at a time."""
    if not a or not b:
        return max(len(a), len(b))
    codes_b = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    columns = np.arange(len(b) + 1, dtype=np.int64)
    row = columns.copy()
    for i, char in enumerate(a, start=1):
        cost = (codes_b != ord(char)).astype(np.int64)
        best = np.empty_like(row)
        best[0] = i
        best[1:] = np.minimum(row[1:] + 1, row[:-1] + cost)  # deletion, substitution
        # insertion: best[j] = min over k <= j of best[k] + (j - k)
        row = np.minimum.accumulate(best - columns) + columns
    return int(row[-1])


def english_pages(count: int) -> list[tuple[Path, int, str]]:
    """(file, 0-based page, text layer) for `count` pages spread over the eval PDFs."""
    found = []
    for path in sorted((EVAL / "pdfs").glob("*/*.pdf")):
        if path.name == SCANNED:
            continue
        for number, page in enumerate(PdfReader(path).pages):
            text = tidy_text(page.extract_text() or "")
            if len(text) >= 800:
                found.append((path, number, text))
    step = len(found) / count
    return [found[int(i * step)] for i in range(count)]


def russian_pdf(folder: Path) -> Path:
    from fpdf import FPDF  # fpdf2, which OCRmyPDF installs

    pdf = FPDF(format="A4")
    pdf.add_font("DejaVu", fname=str(DEJAVU))
    pdf.set_font("DejaVu", size=11)
    pdf.set_margins(20, 20, 20)
    for text in RUSSIAN:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    path = folder / "russian.pdf"
    pdf.output(str(path))
    return path


def drawn(path: Path, page: int, folder: Path) -> Image.Image:
    """Page `page` (0-based) of a PDF as a grey 300 dpi image, as pdftoppm draws it."""
    prefix = folder / f"{path.stem}-{page}"
    subprocess.run(["pdftoppm", "-r", str(DPI), "-gray", "-png", "-singlefile",
                    "-f", str(page + 1), "-l", str(page + 1), str(path), str(prefix)],
                   check=True)
    with Image.open(prefix.with_suffix(".png")) as image:
        return image.copy()


def scan_of(images: list[Image.Image], folder: Path, name: str) -> Path:
    """An image-only PDF of these pages, at 300 dpi: what a scanner hands over."""
    path = folder / f"{name}.pdf"
    images[0].save(path, "PDF", resolution=DPI, save_all=True, append_images=images[1:])
    assert not any((p.extract_text() or "").strip() for p in PdfReader(path).pages)
    return path


def ocr(path: Path, languages: str) -> tuple[Document, float]:
    """The parse of a scan as an upload gets it, and its wall time in seconds."""
    started = time.perf_counter()
    document = parse_isolated(path, "pdf", "bench", path.name, max_pages=2000,
                              time_limit=300, memory_mb=2048,
                              ocr=OcrOptions(languages=languages))
    return document, time.perf_counter() - started


def report(label: str, reads: list[Read], seconds: float) -> None:
    print(f"## {label}")
    for read in reads:
        print(f"  {read.name:<40} {len(folded(read.truth)):5d} chars  accuracy "
              f"{read.accuracy:.3f}  confidence {read.confidence:.2f}")
    accuracies = [read.accuracy for read in reads]
    total_truth = sum(len(folded(r.truth)) for r in reads)
    total_errors = sum(round((1 - r.accuracy) * len(folded(r.truth))) for r in reads)
    print(f"  mean accuracy {np.mean(accuracies):.3f} (median {np.median(accuracies):.3f}); "
          f"over all characters {1 - total_errors / total_truth:.3f}; "
          f"{len(reads)} pages in {seconds:.1f} s: {len(reads) / seconds:.2f} pages/s")
    # Reading two alphabets at once, a Latin word may come out in look-alike Cyrillic letters
    # ("BP" as "ВР") and the other way round.
    for script, letters in (("Cyrillic", CYRILLIC), ("Latin", LATIN)):
        read = sum(len(letters.findall(r.text)) for r in reads)
        truth = sum(len(letters.findall(r.truth)) for r in reads)
        print(f"  {script} letters: {read} read, {truth} in the truth")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=10, help="English pages (default 10)")
    parser.add_argument("--languages", nargs="+", default=["eng+rus"],
                        help="Tesseract languages to read with, each a run (default eng+rus)")
    args = parser.parse_args()
    header("OCR accuracy and speed (docchat's parse of image-only PDFs)")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        english = english_pages(args.pages)
        english_scan = scan_of([drawn(path, page, folder) for path, page, _ in english],
                               folder, "english")
        russian_source = russian_pdf(folder)
        russian_scan = scan_of([drawn(russian_source, i, folder) for i in range(len(RUSSIAN))],
                               folder, "russian")
        # The parse drops header and footer lines repeated on most pages; so does the truth.
        sets = [
            ("English", english_scan,
             list(zip([f"{path.parent.name}/{path.name} p{page + 1}" for path, page, _ in english],
                      remove_repeated_margins([text for _, _, text in english]), strict=True))),
            ("Russian", russian_scan,
             list(zip([f"russian p{i + 1}" for i in range(len(RUSSIAN))],
                      remove_repeated_margins([tidy_text(text) for text in RUSSIAN]),
                      strict=True))),
        ]
        for languages in args.languages:
            for label, scan, truths in sets:
                document, seconds = ocr(scan, languages)
                reads = [Read(name, truth, page.text, page.confidence or 0.0)
                         for (name, truth), page in zip(truths, document.pages, strict=True)]
                report(f"{label}, read with {languages}", reads, seconds)


if __name__ == "__main__":
    main()
