"""The Space's work, without Gradio: pick the model and toolbox a visitor asked for, solve, report.

:class:`SpaceService` turns ``(problem, model choice, toolbox choice)`` into a stream of
:class:`~hf_reft.space.render.SolveView` s. Every failure — bad input, a model that cannot be
loaded or reached, a toolbox not on the allowlist, a sandbox timeout, no answer — ends the stream
with a readable message; nothing raises to the page, so it stays usable after an error.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from ..models import DEFAULT_CHAT_MODEL_HUB_ID
from ..reftool.chat import ChatBackend, get_chat_backend
from ..reftool.toolbox import Toolbox
from ..sandbox import Sandbox, SandboxPolicy
from .examples import ExampleProblem, load_examples
from .live import run_live
from .render import SolveView, folder_size, readable_error
from .settings import BUNDLED, SpaceSettings, SpaceSettingsError

if TYPE_CHECKING:
    from ..reftool.solver import RefToolSolver

__all__ = ["BackendFactory", "LoadedToolbox", "SpaceService"]

logger = logging.getLogger(__name__)

#: Makes the chat backend for a model: ``None`` is the Space's default model.
BackendFactory = Callable[[str | None], ChatBackend]
K = TypeVar("K")
V = TypeVar("V")


class LoadedToolbox:
    """A toolbox with where it came from and its size on disk."""

    def __init__(self, toolbox: Toolbox, label: str, size_bytes: int) -> None:
        self.toolbox = toolbox
        self.label = label
        self.size_bytes = size_bytes


class SpaceService:
    """Solving for the Space (see the module docstring).

    Args:
        settings: what the Space allows.
        backend_factory: builds a chat backend for a model (``None`` = the default model);
            default: :meth:`default_backend` (offline or Hub model locally, Inference Providers
            for visitor-chosen ids). Tests pass a scripted backend here.
        sandbox: where programs run (default: a shared sandbox with the settings' time limit).
    """

    #: Seconds between page updates while the model is writing a reply.
    LIVE_INTERVAL = 0.3

    def __init__(
        self,
        settings: SpaceSettings,
        *,
        backend_factory: BackendFactory | None = None,
        sandbox: Sandbox | None = None,
    ) -> None:
        self.settings = settings
        self.examples: list[ExampleProblem] = load_examples(settings.examples_dir)
        self._by_text: dict[str, ExampleProblem] = {}
        for e in self.examples:  # some problems appear in two subsets: the first one names it
            self._by_text.setdefault(e.text.strip(), e)
        self._factory = backend_factory or self.default_backend
        self._backends: dict[str | None, ChatBackend] = {}
        self._toolboxes: dict[str, LoadedToolbox] = {}
        self._lock = threading.Lock()
        self.sandbox = sandbox
        seconds = settings.sandbox_seconds
        self.policy = (
            sandbox.policy if sandbox is not None else SandboxPolicy(wall_time=seconds, cpu_time=seconds)
        )

    # ------------------------------------------------------------------ models
    def default_backend(self, model: str | None) -> ChatBackend:
        """The chat backend for ``model`` (``None``: the Space's default model)."""
        if model is None:
            default = self.settings.default_model
            if default is None:  # RefTool's default GGUF: from its PyPI parts locally, the Hub on a Space
                return get_chat_backend(None)
            if default == DEFAULT_CHAT_MODEL_HUB_ID:  # SmolLM2: its offline conversion, or the Hub's
                return get_chat_backend(default, backend="transformers")
            if default.startswith(("http://", "https://")):
                return get_chat_backend(default, timeout=60.0, max_retries=1)
            return get_chat_backend(default)
        return get_chat_backend(model, backend="inference", timeout=60.0, max_retries=2)

    def backend(self, choice: str | None) -> ChatBackend:
        """The (cached) backend for a visitor's model choice; :class:`SpaceSettingsError` if not allowed."""
        return self._cached(self._backends, self.settings.check_model(choice), self._factory)

    # ------------------------------------------------------------------ toolboxes
    def toolbox(self, choice: str | None) -> LoadedToolbox:
        """The (cached) toolbox for a visitor's choice: the bundled one or an allowlisted Hub id."""
        return self._cached(self._toolboxes, self.settings.check_toolbox(choice), self._load_toolbox)

    def _cached(self, cache: dict[K, V], key: K, make: Callable[[K], V]) -> V:
        """``cache[key]``, made with ``make(key)`` on first use (under the lock, so only once)."""
        with self._lock:
            if key not in cache:
                cache[key] = make(key)
            return cache[key]

    def _load_toolbox(self, name: str) -> LoadedToolbox:
        if name == BUNDLED:
            folder = self.settings.bundled_toolbox_dir
            if not (folder / "toolbox.json").is_file():
                raise SpaceSettingsError(
                    f"This Space ships no toolbox ({folder}/toolbox.json is missing). Build one with "
                    f"`hf-reft reftool build` and copy it there, or pick an allowlisted toolbox."
                )
            toolbox = Toolbox.from_pretrained(folder)
            return LoadedToolbox(toolbox, "bundled (Chemistry 2e)", folder_size(folder))
        # The owner's allowlist is the trust decision; the tools still run only in the sandbox.
        toolbox = Toolbox.from_pretrained(name, trust_remote_code=True)
        from ..hub import resolve_folder

        size = folder_size(resolve_folder(name, revision=toolbox.revision, local_files_only=True))
        return LoadedToolbox(toolbox, name, size)

    # ------------------------------------------------------------------ problems
    def example(self, problem: str) -> ExampleProblem | None:
        """The example (SciBench's or the book's) whose text is ``problem``, if any."""
        return self._by_text.get((problem or "").strip())

    def check_problem(self, problem: str | None) -> str:
        """The problem text, or :class:`SpaceSettingsError` when it is empty or too long."""
        text = (problem or "").strip()
        if not text:
            raise SpaceSettingsError("Type a chemistry problem, or pick one of the examples.")
        limit = self.settings.max_problem_chars
        if len(text) > limit:
            raise SpaceSettingsError(
                f"The problem has {len(text)} characters; this Space accepts at most {limit}. Shorten it."
            )
        return text

    def reference_markdown(self, example: ExampleProblem | None, answer: dict[str, Any] | None) -> str | None:
        """The answer an example's source states (SciBench's or the book's), and whether the model's is
        correct by SciBench's rule (:func:`hf_reft.answers.is_correct`: 5 % relative tolerance)."""
        if example is None or not example.answer:
            return None
        from ..answers import Answer, get_benchmark, is_correct, parse_scibench_gold

        try:
            gold = parse_scibench_gold(example.answer, example.unit)
        except ValueError:
            return None
        verdict = ""
        if answer is not None and isinstance(answer.get("value"), (int, float)):
            pred = Answer(value=float(answer["value"]), unit=answer.get("unit"), raw=str(answer.get("text")))
            within = f"within {get_benchmark('scibench').rel_tol:.0%}".replace("%", " %")
            verdict = f" — ✓ {within}" if is_correct(pred, gold, "scibench") else f" — ✗ not {within}"
        unit = f" {gold.unit}" if gold.unit else ""
        return f"{example.answer_heading}: **{gold.value:g}{unit}**{verdict}"

    # ------------------------------------------------------------------ solving
    def solver(self, toolbox: Toolbox, backend: ChatBackend) -> RefToolSolver:
        """The page's :class:`~hf_reft.reftool.solver.RefToolSolver` for ``toolbox`` and ``backend``."""
        from ..reftool.solver import RefToolSolver

        return RefToolSolver(
            toolbox,
            backend,
            sandbox=self.sandbox,
            policy=self.policy,
            max_chapters=self.settings.max_chapters,
            max_tools=self.settings.max_tools,
            program_tokens=self.settings.max_new_tokens,
        )

    def solve(
        self, problem: str | None, model: str | None = None, toolbox: str | None = None
    ) -> Iterator[SolveView]:
        """Solve ``problem``, yielding the page's state after each step; never raises."""
        label = (model or "").strip() or self.settings.default_model_label
        view = SolveView.started(label, (toolbox or "").strip() or BUNDLED)
        try:
            text = self.check_problem(problem)
            yield view
            loaded = self.toolbox(toolbox)
            backend = self.backend(model)
            view.describe(getattr(backend, "name", label), loaded.label)
            example = self.example(text)

            def steps(live: ChatBackend) -> Iterator[Any]:
                return self.solver(loaded.toolbox, live).stream(text)

            shown = time.monotonic()
            # Closing the events cancels the solve (the visitor pressed Stop or closed the tab).
            with contextlib.closing(run_live(steps, backend)) as events:
                for kind, item in events:
                    if kind == "piece":
                        view.write(item)
                        if time.monotonic() - shown >= self.LIVE_INTERVAL:
                            shown = time.monotonic()
                            yield view
                    elif kind == "step":
                        if item.kind == "answer":
                            view.reference = self.reference_markdown(example, item.data)
                        view.add(item)
                        shown = time.monotonic()
                        yield view
                    elif kind == "fail":
                        raise item
        except Exception as err:  # the page gets a message, the log gets the traceback
            if not isinstance(err, (SpaceSettingsError, ValueError, OSError)):
                logger.exception("Solving failed")
            view.fail(readable_error(err))
            yield view
