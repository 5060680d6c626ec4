"""gunicorn's settings, which `docchat serve` passes as `--config python:web.gunicorn_conf`:
its logs in DOCCHAT_LOG_FORMAT, like every other docchat process (retrieval/core/logs.py)."""

from retrieval.core.logs import gunicorn_log_config
from retrieval.core.settings import Settings

logconfig_dict = gunicorn_log_config(Settings.from_env().log_format)
