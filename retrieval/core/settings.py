"""docchat's one configuration object, built once from DOCCHAT_* environment variables.

It lives in `retrieval` because that is the lowest package every consumer (web, workers,
retrieval itself) may import; `ingest` takes plain arguments instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ingest.ocr import OcrOptions


class SettingsError(ValueError):
    """A DOCCHAT_* variable holds a value docchat cannot use."""


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true/false, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    """Every knob docchat has. Field docs are the configuration reference in the README."""

    # Where documents, the index and the embedded broker live.
    data_dir: Path = Path("data")
    # HTTP address of the web app.
    host: str = "127.0.0.1"
    port: int = 8000
    # Broker: a redis:// URL switches Celery to Redis; empty means an embedded SQLite broker.
    redis_url: str = ""
    # Celery queue that uploads go to and workers consume.
    queue: str = "docchat"
    # Start a Celery worker from the serve command (default: only in embedded mode).
    embedded_worker: bool | None = None
    # LLM: an OpenAI-compatible server. Empty base URL starts the bundled model locally.
    llm_base_url: str = ""
    llm_model: str = "smollm2-135m-instruct"
    llm_api_key: str = "not-needed"
    llm_model_path: str = ""
    llm_port: int = 8011
    llm_context: int = 2048
    llm_temperature: float = 0.2
    llm_max_tokens: int = 384
    llm_timeout: float = 120.0
    # How to ask the server for JSON that follows a schema: auto (detect), json_schema (OpenAI,
    # vLLM), json_object (llama-cpp-python's server) or prompt (validate and repair only).
    llm_structured_output: str = "auto"
    # Embeddings: a sentence-transformers model path or name; empty means the bundled one.
    embedding_model: str = ""
    # auto: cuda when a test computation there works, else cpu; cuda: a worker refuses to start
    # without a working GPU instead of embedding slowly on its CPU.
    embedding_device: str = "auto"
    # auto (fp16 on a GPU, fp32 on the CPU), fp32, fp16 or bf16.
    embedding_precision: str = "auto"
    embedding_batch_size: int = 32
    # Vectors of chunk texts already embedded, kept in the SQLite file so that a re-upload, a
    # re-index or a repeated part is embedded once: about this many MiB; 0 turns it off.
    embedding_cache_mb: int = 512
    # Chunking, in tokens of the embedding model's tokenizer.
    chunk_tokens: int = 128
    chunk_overlap_tokens: int = 16
    # Meeting chunks are runs of whole turns: smaller runs rank turns more precisely.
    meeting_chunk_tokens: int = 48
    # Retrieval.
    top_k: int = 5
    # The most characters of retrieved passages given to the LLM with a question; below it,
    # the budget is what the model's context window leaves after the prompt and the reply.
    answer_context_chars: int = 48000
    # Hybrid search: reciprocal-rank fusion of dense (FAISS) and lexical (BM25) rankings.
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    rrf_k: int = 60
    search_candidates: int = 50
    # FAISS index: auto, flat (exact), ivfflat, hnsw or ivfpq; searches use a GPU when faiss
    # sees one. auto: flat until the index holds approximate_from vectors, then a worker
    # rebuilds it as ivfflat in the background (searches use the flat one until the switch).
    # Flat's p95 on 2 CPU cores passes 10 ms between 50,000 (6 ms) and 100,000 (15 ms).
    index_type: str = "auto"
    approximate_from: int = 50_000
    faiss_gpu: bool = True
    # Scratch memory each process's faiss reserves on the GPU, in MiB; 0 leaves it to faiss
    # (up to 1.5 GiB on a GPU with more than 8 GiB).
    faiss_gpu_temp_mb: int = 0
    # What search filters allowed, kept per change of each workspace's chunks (the chunk ids
    # and their places in the loaded index): about this many MiB per web process; the least
    # recently used go first.
    filter_cache_mb: int = 256
    # An uncited answer sentence is attributed to a passage only this similar (cosine) or more.
    min_citation_similarity: float = 0.5
    # A question is answered only when its best passage is at least this relevant (0..1: the
    # larger of the embedding cosine and the share of the question's words it contains).
    min_relevance: float = 0.25
    # Meeting summaries and commitments: tokens the model may write per request, and tokens of
    # transcript per part of a map-reduce (0: as many as the context window leaves room for).
    summary_max_tokens: int = 512
    summary_part_tokens: int = 0
    # Tables (POST /api/tables): the most characters of pasted text, documents in one table,
    # and seconds one query of the SQL box may run.
    table_max_text_chars: int = 200_000
    table_max_documents: int = 200
    table_sql_seconds: float = 2.0
    # Uploads and parsing.
    max_upload_mb: int = 100
    max_pages: int = 2000
    parse_time_limit: int = 300
    # A whole ingest task (parse, chunk, embed, index): a backstop against a hung task, far
    # above what the largest allowed document takes to embed on a CPU.
    task_time_limit: int = 3600
    parse_memory_mb: int = 2048
    # OCR: PDF pages without a text layer (scans) are read by Tesseract through OCRmyPDF, in
    # these languages (Tesseract's codes joined by "+"), in the parse's child process. A page
    # may take ocr_seconds_per_page; the parse's time limit grows by that much per page read.
    ocr: bool = True
    ocr_languages: str = "eng+rus"
    ocr_seconds_per_page: float = 60.0
    web_threads: int = 8
    # Processes of the worker `docchat serve` starts: one embeds while another parses.
    worker_concurrency: int = 2
    # Slack: the app's signing secret (empty turns the slash command off), and the hosts that
    # results and summaries may be posted to (comma-separated; never a URL a request names).
    slack_signing_secret: str = ""
    slack_allowed_hosts: str = "hooks.slack.com"
    # Logs: "text" lines for a console, or "json" (one object a line, with document and task
    # ids as fields) for a log pipeline.
    log_format: str = "text"
    # Workers send task events (for Flower); off by default: every task then publishes several
    # extra messages to the broker. Needs Redis (the embedded broker cannot broadcast).
    task_events: bool = False
    # The workspace whose documents slash commands read (one Slack app serves one team).
    slack_workspace: str = "default"
    # Access. "local": one user, no login, and docchat listens on loopback only (embedded
    # mode). "required": people log in, scripts and Slack use a workspace's API keys.
    auth: str = "local"
    secret_key: str = ""  # signs session cookies; empty: generated once into the data folder
    cookie_secure: bool = True  # session cookies only over https (browsers exempt localhost)
    rate_limit_per_minute: int = 60  # ask and meeting requests per user or API key; 0: none
    # Host names (and addresses) the web app answers to, comma-separated, beside the loopback
    # ones it always answers to; `*.example.com` takes subdomains. Any other Host header gets
    # 400, which stops DNS rebinding: a web page on a name that re-resolves to docchat's address.
    trusted_hosts: str = ""
    # Reverse proxies in front of the web app whose X-Forwarded-For, -Proto and -Host headers
    # are believed (0: none, so a client cannot pose as another address).
    proxy_hops: int = 0
    # A login session ends this many hours after the login (and at logout, password change or
    # user removal, on every device).
    session_hours: float = 12.0
    # Bearer token a Prometheus scraper sends for /metrics when logins are on (empty: only
    # logged-in administrators read /metrics).
    metrics_token: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from DOCCHAT_<FIELD> variables; unknown ones are ignored."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"DOCCHAT_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.name, str(f.type), raw)
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The DOCCHAT_* variables that rebuild these settings in a child process."""
        env: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, bool):
                value = "true" if value else "false"
            env[f"DOCCHAT_{f.name.upper()}"] = str(value)
        return env

    # Derived values: computed, never configured twice.

    @property
    def embedded_broker(self) -> bool:
        return not self.redis_url

    @property
    def starts_worker(self) -> bool:
        return self.embedded_broker if self.embedded_worker is None else self.embedded_worker

    @property
    def starts_llm(self) -> bool:
        return not self.llm_base_url

    @property
    def broker_url(self) -> str:
        if self.redis_url:
            return self.redis_url
        return f"sqla+sqlite:///{(self.data_dir / 'broker.sqlite').resolve()}"

    @property
    def result_backend(self) -> str:
        if self.redis_url:
            return self.redis_url
        return f"db+sqlite:///{(self.data_dir / 'results.sqlite').resolve()}"

    @property
    def llm_url(self) -> str:
        """Base URL of the OpenAI-compatible API, ending in /v1."""
        if self.llm_base_url:
            return self.llm_base_url.rstrip("/")
        return f"http://127.0.0.1:{self.llm_port}/v1"

    @property
    def slack_hosts(self) -> tuple[str, ...]:
        """The hosts Slack messages may be posted to, lower-case."""
        return tuple(h.strip().lower() for h in self.slack_allowed_hosts.split(",") if h.strip())

    @property
    def login_required(self) -> bool:
        if self.auth not in ("local", "required"):
            raise SettingsError(f"DOCCHAT_AUTH is {self.auth!r}: use local or required.")
        return self.auth == "required"

    @property
    def trusted_host_names(self) -> tuple[str, ...]:
        """DOCCHAT_TRUSTED_HOSTS as lower-case names, without ports or a trailing dot."""
        return tuple(h.strip().lower().rstrip(".") for h in self.trusted_hosts.split(",")
                     if h.strip())

    @property
    def ocr_options(self) -> OcrOptions | None:
        """How the parse reads PDF pages without a text layer; None with OCR turned off."""
        if not self.ocr:
            return None
        return OcrOptions(languages=self.ocr_languages,
                          seconds_per_page=self.ocr_seconds_per_page)

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "docchat.sqlite"

    @property
    def embedding_cache_bytes(self) -> int:
        return max(self.embedding_cache_mb, 0) * 1024 * 1024

    @property
    def filter_cache_bytes(self) -> int:
        return max(self.filter_cache_mb, 0) * 1024 * 1024

    def chunk_sizes(self, kind: str) -> tuple[int, int]:
        """(target tokens, overlap tokens) of the chunks of a document of this kind."""
        if kind == "meeting":
            size = self.meeting_chunk_tokens
            return size, min(self.chunk_overlap_tokens, size // 8)
        return self.chunk_tokens, self.chunk_overlap_tokens

    def index_path(self, model_key: str) -> Path:
        """The FAISS index built with the embedding model whose key is `model_key`."""
        return self.data_dir / f"index-{model_key}.faiss"

    @property
    def index_lock_path(self) -> Path:
        """Locked by every index write (all models' indexes), and by a rebuild's switch."""
        return self.data_dir / "index.lock"

    @property
    def rebuild_lock_path(self) -> Path:
        return self.data_dir / "rebuild.lock"

    @property
    def index_switch_path(self) -> Path:
        """Locked, and describing the switch, while `auto` rebuilds the index as another type."""
        return self.data_dir / "index-switch.lock"


def _convert(name: str, type_name: str, raw: str) -> Any:
    try:
        if "Path" in type_name:
            return Path(raw).expanduser()
        if "bool" in type_name:
            return _parse_bool(raw)
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
    except ValueError as exc:
        raise SettingsError(f"DOCCHAT_{name.upper()}: {exc}") from exc
    return raw
