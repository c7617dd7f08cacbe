"""``import hf_reft`` registers LoReFT adapters with transformers' Auto classes, without importing torch.

``AutoConfig`` learns ``model_type="reft"`` (:class:`~hf_reft.representation.ReftConfig`) and
``AutoModelForCausalLM`` / ``AutoModelForSequenceClassification`` the wrappers, so that::

    import hf_reft
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained("user/my-loreft-adapter")

loads base and interventions. Registering needs transformers' configuration and modeling code,
which import torch (seconds), so :func:`register_with_auto_classes` does it when transformers loads
its Auto modules (at once if they are loaded already): ``import hf_reft`` itself stays cheap.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = ["register_auto_config", "register_auto_models", "register_with_auto_classes"]

logger = logging.getLogger(__name__)

CONFIG_AUTO = "transformers.models.auto.configuration_auto"
MODELING_AUTO = "transformers.models.auto.modeling_auto"


def register_auto_config() -> None:
    """``AutoConfig``: ``model_type="reft"`` → :class:`ReftConfig`."""
    from transformers import AutoConfig

    from .configuration import ReftConfig

    AutoConfig.register(ReftConfig.model_type, ReftConfig, exist_ok=True)


def register_auto_models() -> None:
    """``AutoModelForCausalLM`` / ``AutoModelForSequenceClassification``: :class:`ReftConfig` → the wrappers."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    from .configuration import ReftConfig
    from .modeling import ReftModelForCausalLM, ReftModelForSequenceClassification

    register_auto_config()
    AutoModelForCausalLM.register(ReftConfig, ReftModelForCausalLM, exist_ok=True)
    AutoModelForSequenceClassification.register(ReftConfig, ReftModelForSequenceClassification, exist_ok=True)


class _LoaderThenRegister(importlib.abc.Loader):
    """Runs the real loader, then ``action``; everything else (source, resources) is the real loader's."""

    def __init__(self, loader: Any, action: Callable[[], None]) -> None:
        self._loader = loader
        self._action = action

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        _run(self._action)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loader of the named modules so that an action runs after them."""

    def __init__(self) -> None:
        self.actions: dict[str, Callable[[], None]] = {}

    def find_spec(self, fullname: str, path: Any, target: ModuleType | None = None):
        action = self.actions.get(fullname)
        if action is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            del self.actions[fullname]
            spec.loader = _LoaderThenRegister(spec.loader, action)
        return spec


_after_import = _AfterImport()
_lock = threading.Lock()


def _run(action: Callable[[], None]) -> None:
    try:
        action()
    except Exception:  # a failed registration must not break the user's import of transformers
        logger.warning(
            "hf-reft could not register ReftConfig with transformers' Auto classes; load adapters with "
            "hf_reft.ReftModelForCausalLM.from_pretrained instead.",
            exc_info=True,
        )


def register_with_auto_classes() -> None:
    """Register now what transformers has loaded, and the rest when it loads (idempotent)."""
    with _lock:
        for module, action in ((CONFIG_AUTO, register_auto_config), (MODELING_AUTO, register_auto_models)):
            if module in sys.modules:
                _run(action)
            else:
                _after_import.actions[module] = action
        if _after_import.actions and _after_import not in sys.meta_path:
            sys.meta_path.insert(0, _after_import)
