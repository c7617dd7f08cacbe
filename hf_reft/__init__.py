"""hf-reft: LoReFT, reinforced fine-tuning for reasoning, and RefTool, the Hugging Face way."""

from __future__ import annotations

__version__ = "0.1.0"

from .models import default_chat_model, default_chat_model_path, load_chat_model

__all__ = [
    "__version__",
    "default_chat_model",
    "default_chat_model_path",
    "load_chat_model",
]
