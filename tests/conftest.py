"""Fixtures for the tests. `bare_app` is the Flask app alone, in this process. `app` has the
real parts behind it, started once per session: Redis (must already answer), the
llama-cpp-python server with the bundled model, and a Celery worker process. Each test is
marked with what it needs, read from the fixtures it uses (needs_worker, needs_llm,
needs_redis); `make test-fast` leaves out those needing the worker or the LLM server."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import io
import os
import socket
import subprocess
import time
import uuid
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from retrieval.core.settings import Settings
from retrieval.llm.server import start_llm_server, wait_for_llm
from retrieval.storage.store import ChunkFilter

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
EVAL = SHARED / "eval"
EVAL_PDFS = EVAL / "pdfs"
PDF_SAMPLES = EVAL / "pdf-samples"
TEST_DATA = Path(__file__).resolve().parent / "data"
REDIS_URL = os.environ.get("DOCCHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SLACK_SIGNING_SECRET = "docchat-test-signing-secret"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Under pytest-xdist (`make test-fast`), each worker process gets its share of the cores for
# torch (read when torch is first imported): one process's threads per core would only fight.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    os.environ.setdefault("OMP_NUM_THREADS", str(max(
        1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))

# The session fixture each marker stands for. A test needs it when it asks for it, directly or
# through another fixture (`client` -> `app` -> `worker`, `settings` -> `llm_url`).
NEEDS = {"worker": "needs_worker", "llm_url": "needs_llm", "redis_url": "needs_redis"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in NEEDS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


def slack_signed(body: bytes, timestamp: int | None = None,
                 secret: str = SLACK_SIGNING_SECRET) -> dict[str, str]:
    """The headers Slack signs a request with: the timestamp and the v0 HMAC-SHA256."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    mac = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + mac.hexdigest()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not answering at {REDIS_URL} ({exc}); .ci/run starts one")
    return REDIS_URL


@pytest.fixture(scope="session")
def llm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The bundled SmolLM2 behind llama-cpp-python's OpenAI-compatible server."""
    settings = Settings(llm_port=free_port())
    log = tmp_path_factory.mktemp("llm") / "llm.log"
    process = start_llm_server(settings, log)
    try:
        wait_for_llm(settings.llm_url, 180, process)
        yield settings.llm_url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="session")
def bare_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for the app alone: the embedded broker, which no worker reads, and an LLM
    address where nothing listens, so a test that needs the model fails at once."""
    return Settings(
        data_dir=tmp_path_factory.mktemp("bare"),
        llm_base_url=f"http://127.0.0.1:{free_port()}/v1",
        # Slack's side is played by a receiver on this machine (tests/e2e/test_slack.py).
        slack_signing_secret=SLACK_SIGNING_SECRET,
        slack_allowed_hosts="127.0.0.1",
        # Tests ask far more often than people do; tests/web/test_auth.py checks the limit.
        rate_limit_per_minute=0,
    )


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory, bare_settings: Settings, redis_url: str,
             llm_url: str) -> Settings:
    """Production-shaped settings: Redis broker, an external OpenAI-compatible LLM server."""
    return dataclasses.replace(
        bare_settings,
        data_dir=tmp_path_factory.mktemp("data"),
        redis_url=redis_url,
        queue=f"docchat-test-{uuid.uuid4().hex[:8]}",
        llm_base_url=llm_url,
        llm_max_tokens=160,
        parse_time_limit=120,
    )


@pytest.fixture(scope="session")
def worker(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    """One real Celery worker process consuming the test queue."""
    from workers import create_celery, worker_command

    env = {**os.environ, **settings.to_env()}
    log_path = settings.data_dir / "worker.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            worker_command(settings, "--loglevel", "INFO",
                           "--hostname", f"test-{uuid.uuid4().hex[:6]}@%h"),
            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )
    celery = create_celery(settings)
    try:
        wait_until(lambda: process.poll() is not None or celery.control.ping(timeout=0.5),
                   90, what="the Celery worker to answer a ping")
        if process.poll() is not None:
            pytest.fail(f"the worker exited: {log_path.read_text()[-3000:]}")
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def app(settings: Settings, worker: subprocess.Popen[bytes]):
    """The app with the real worker and LLM server behind it: uploads get indexed, questions
    answered."""
    from web import create_app

    return create_app(settings)


@pytest.fixture()
def client(app):
    return app.test_client()


# Apps that no worker serves: waiting for one of their uploads to be indexed would never end.
WORKERLESS: weakref.WeakSet = weakref.WeakSet()


@pytest.fixture(scope="session")
def bare_app(bare_settings: Settings):
    """The app alone, in this process (no worker, no LLM server): for what a request does
    before anything is queued or asked of the model. Starts in a second. A test module that
    needs no more makes it its `app` (tests/web/test_auth.py), and `client` follows."""
    from web import create_app

    bare = create_app(bare_settings)
    WORKERLESS.add(bare)
    return bare


@pytest.fixture(scope="session")
def ntsb_pdf() -> Path:
    return EVAL_PDFS / "ntsb" / "20080104X00020.pdf"


@pytest.fixture(scope="session")
def embedder():
    from retrieval.search.embeddings import Embedder

    return Embedder(device="cpu")


@pytest.fixture()
def runtime(tmp_path: Path, embedder):
    """A Runtime over a fresh data directory, sharing the session's loaded model."""
    from retrieval.runtime import Runtime

    return Runtime(Settings(data_dir=tmp_path / "data"), embedder=embedder)


def upload_bytes(client, data: bytes, name: str, collection: str = "default",
                 headers: dict[str, str] | None = None) -> str:
    """Upload through the API (a Flask test client); the document's id."""
    response = client.post("/api/documents", headers=headers or {},
                           data={"file": (io.BytesIO(data), name), "collection": collection},
                           content_type="multipart/form-data")
    assert response.status_code in (200, 202), response.get_json()
    return str(response.get_json()["documents"][0]["id"])


def asked_the_model(body: dict) -> bool:
    """Whether an /api/ask answer passed the relevance gate and the model read passages.
    What a real model then says may still be withdrawn (retrieval.answers.grounding: figures no
    passage holds), which also reads `grounded: false`."""
    from retrieval.answers.answer import NOT_RELEVANT

    return bool(body["context"]) and body["answer"] not in NOT_RELEVANT.values()


def wait_indexed(client, document_id: str, headers: dict[str, str] | None = None) -> dict:
    """The document once the worker is done with it; it must have ended indexed."""
    if client.application in WORKERLESS:
        pytest.fail("no worker serves bare_app: a test that waits for indexing needs `app`")

    def finished():
        doc = client.get(f"/api/documents/{document_id}", headers=headers or {}).get_json()
        return doc if doc["status"] in ("indexed", "failed") else None

    doc = wait_until(finished, 180, 0.3, what=f"document {document_id}")
    assert doc["status"] == "indexed", doc
    return dict(doc)


# Every chunk of the default workspace: what retrieval tests search when nothing narrows it.
EVERYTHING = ChunkFilter(workspace="default")


def store_upload(runtime, source: Path, filename: str | None = None,
                 collection: str = "default", workspace: str = "default"):
    """Put a file where the upload endpoint would, and record it as queued."""
    from ingest.formats import sniff

    data = source.read_bytes()
    kind = sniff(data, source.name)
    document_id = uuid.uuid4().hex
    target = runtime.settings.uploads_dir / f"{document_id}.{kind}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return runtime.store.add_document(document_id, filename or source.name, target, len(data),
                                      workspace=workspace, stored_kind=kind,
                                      collection=collection)


def pdf_file(objects: list[bytes], version: bytes) -> bytes:
    """A PDF of these objects (numbered from 1, the first the catalog), with its xref table."""
    out = bytearray(b"%PDF-" + version + b"\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def flate_bomb_pdf(expanded_mb: int = 1024) -> bytes:
    """A one-page PDF whose content stream inflates to `expanded_mb` megabytes of spaces."""
    import zlib

    packer = zlib.compressobj(9)
    block = b" " * (1024 * 1024)
    stream = b"".join(packer.compress(block) for _ in range(expanded_mb)) + packer.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream
        + b"\nendstream",
    ]
    return pdf_file(objects, b"1.7")


def pdf_escape(text: str) -> bytes:
    """A string for a PDF text operator, in Helvetica's Latin encoding."""
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")


def helvetica_pdf(contents: list[bytes]) -> bytes:
    """A PDF of one letter-size page per content stream, with Helvetica as /F1."""
    count = len(contents)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
            b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(count)), count),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, content in enumerate(contents):
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
                       b"<< /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * i))
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    return pdf_file(objects, b"1.4")


def text_pdf(pages: list[list[str]]) -> bytes:
    """A PDF with one page per list of lines, in Helvetica (Latin text only)."""
    return helvetica_pdf([b"BT /F1 11 Tf 14 TL 60 740 Td " + b" ".join(
        b"(%s) '" % pdf_escape(line) for line in lines) + b" ET" for lines in pages])


DEJAVU_SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # fonts-dejavu-core


def scanned_pdf(pages: list[list[str]], sideways: bool = False) -> bytes:
    """An image-only PDF, as a scanner hands one over: each page its lines drawn in DejaVu Sans
    (Cyrillic too) on a letter-size page at 300 dpi; `sideways` turns each page a quarter turn
    (a landscape scan). No text layer: only OCR can read it."""
    from PIL import Image, ImageDraw, ImageFont

    if not DEJAVU_SANS.exists():
        pytest.fail(f"{DEJAVU_SANS} is missing: `make test` installs fonts-dejavu-core")
    font = ImageFont.truetype(str(DEJAVU_SANS), 42)
    images = []
    for lines in pages:
        image = Image.new("L", (2550, 3300), 255)
        draw = ImageDraw.Draw(image)
        for row, line in enumerate(lines):
            draw.text((300, 300 + row * 90), line, font=font, fill=0)
        images.append(image.rotate(90, expand=True) if sideways else image)
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=300, save_all=True, append_images=images[1:])
    return out.getvalue()


def joined_pdf(*parts: bytes) -> bytes:
    """One PDF of the pages of these PDFs, in order (a typed page and a scanned one, say)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for part in parts:
        for page in PdfReader(io.BytesIO(part)).pages:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
