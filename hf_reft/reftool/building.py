"""Building a whole book's toolbox: progress, concurrency, resume.

:func:`build_toolbox` runs :class:`~hf_reft.reftool.creation.ToolCreator` over the sections of a
:class:`~hf_reft.reftool.books.Reference` and saves the toolbox (``save_pretrained``, atomic)
after **every** finished section, so a crash or Ctrl-C loses at most the sections in flight and
running it again with the same output folder continues where it stopped (sections already in the
toolbox with the same text digest are skipped). A JSON-lines log of every model reply and
validation goes to ``<output>/build-log.jsonl``.

Remote backends (:class:`~hf_reft.reftool.chat.InferenceClientBackend`) are asked concurrently by
a thread pool (``workers``, default 4); a local model (llama.cpp or transformers) runs sections one
after another in the calling thread (``workers=1``), which also lets Ctrl-C stop generation at once.
Creation prompts are long (2,000–3,500 tokens of section text and worked solutions), and on a CPU
concurrency does not pay for them: batched on transformers they ran at 0.87× the throughput of one
at a time (``benchmarks/chat_batching.py --prompts creation``), and llama.cpp's parallel slots decode
no faster than one slot on 2 cores while each processes its own prompt. See
:func:`~hf_reft.reftool.chat.default_concurrency`.

Example::

    reference = Reference.load("chemistry-2e")
    report = build_toolbox(reference, get_chat_backend(), "runs/chem2e-toolbox")
    print(report.toolbox.stats, report.seconds_per_section)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..results import append_jsonl
from .books import Reference, Section
from .chat import ChatBackend, default_concurrency
from .creation import SectionBuild, ToolCreator, rename_tool
from .toolbox import INDEX_FILE, Toolbox

__all__ = ["LOG_FILE", "BuildReport", "build_toolbox", "select_sections"]

logger = logging.getLogger(__name__)

LOG_FILE = "build-log.jsonl"


@dataclass
class BuildReport:
    """What one :func:`build_toolbox` call did.

    Attributes:
        toolbox: the toolbox (all sections built so far, including earlier runs).
        output: where it is saved.
        planned: sections this call had to build (after skipping finished ones).
        built: sections finished in this call.
        resumed: sections found finished in the output folder and skipped.
        seconds: wall time of this call.
        section_seconds: wall time of each section built in this call.
        model_sections: sections built in this call that needed a model call.
        failed: ``"<section>: <error>"`` for sections whose build raised (not saved; a rerun retries them).
        interrupted: whether Ctrl-C stopped the build early.
    """

    toolbox: Toolbox
    output: Path
    planned: int = 0
    built: int = 0
    resumed: int = 0
    seconds: float = 0.0
    section_seconds: list[float] = field(default_factory=list)
    model_sections: list[float] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def seconds_per_section(self) -> float | None:
        """Mean wall time of the sections built in this call that needed the model."""
        return sum(self.model_sections) / len(self.model_sections) if self.model_sections else None

    def summary(self) -> dict[str, Any]:
        stats = self.toolbox.stats
        return {
            "output": str(self.output),
            "sections_in_toolbox": len(self.toolbox.sections),
            "sections_built_now": self.built,
            "sections_planned_now": self.planned,
            "sections_resumed": self.resumed,
            "tools": len(self.toolbox),
            "proposed": stats.proposed,
            "first_pass": stats.first_pass,
            "repaired": stats.repaired,
            "dropped": stats.dropped,
            "seconds": round(self.seconds, 1),
            "seconds_per_model_section": round(self.seconds_per_section, 1)
            if self.seconds_per_section
            else None,
            "failed": self.failed,
            "interrupted": self.interrupted,
        }


def select_sections(
    reference: Reference, *, chapters: Sequence[int] | None = None, sections: Sequence[str] | None = None
) -> list[Section]:
    """The sections to build: all (book order), or those of ``chapters`` (in the order given)
    and/or those named in ``sections`` (ids or numbers such as ``"9.2"``)."""
    if not chapters and not sections:
        return list(reference.sections)
    chosen: list[Section] = []
    known = {ch.number for ch in reference.chapters}
    for number in chapters or ():
        if number not in known:
            raise ValueError(f"Chapter {number} is not in {reference.title!r} (chapters: {sorted(known)}).")
        chosen += [s for s in reference.chapter(number).sections if s not in chosen]
    for key in sections or ():
        try:
            section = reference.section(key)
        except (KeyError, ValueError) as err:
            raise ValueError(f"Section {key!r} is not in {reference.title!r}: {err}") from err
        if section not in chosen:
            chosen.append(section)
    return chosen


def _open_toolbox(
    output: Path, reference: Reference, creator: ToolCreator, model: str, resume: bool
) -> Toolbox:
    if (output / INDEX_FILE).is_file():
        if not resume:
            raise FileExistsError(
                f"{output} already holds a toolbox. Pass resume=True (CLI: leave out --no-resume) to continue it, "
                "or choose another output folder."
            )
        toolbox = Toolbox.from_pretrained(output)
        if toolbox.model and toolbox.model != model:
            raise ValueError(
                f"{output} holds a toolbox written by {toolbox.model!r}, not {model!r}; resume it with the same "
                "model, or build into another output folder."
            )
        title = toolbox.reference.get("title")
        if title and title != reference.title:
            raise ValueError(
                f"{output} holds a toolbox of {title!r}, not {reference.title!r}; use another folder."
            )
        return toolbox
    return Toolbox(reference, model=model, settings=creator.settings)


def build_toolbox(
    reference: Reference,
    backend: ChatBackend,
    output: str | Path,
    *,
    creator: ToolCreator | None = None,
    sections: Iterable[Section] | None = None,
    workers: int | None = None,
    resume: bool = True,
    progress: bool = True,
    on_section: Callable[[Section, SectionBuild, Toolbox], None] | None = None,
) -> BuildReport:
    """Build (or continue) the toolbox of ``reference`` into ``output``; see the module docstring.

    Args:
        reference: the book.
        backend: the chat model that writes tools.
        output: the toolbox folder (created; saved after every section).
        creator: the :class:`ToolCreator` (default: one for ``backend`` with default settings).
        sections: the sections to build (default: the whole book; see :func:`select_sections`).
        workers: sections in flight at once (default: 1 for a local model, 4 for a remote one).
        resume: continue a toolbox already in ``output`` (else refuse to touch it).
        progress: show a progress bar.
        on_section: called after each finished section (and its save).
    """
    output = Path(output)
    creator = creator or ToolCreator(backend)
    if creator.backend is not backend:
        raise ValueError("creator.backend must be the backend passed to build_toolbox.")
    model = getattr(backend, "name", "") or "unknown"
    if workers is None:
        workers = default_concurrency(backend, batch_local=False)
    if workers < 1:
        raise ValueError(f"workers must be ≥ 1, got {workers}.")
    started = time.monotonic()
    toolbox = _open_toolbox(output, reference, creator, model, resume)
    toolbox.settings = {**toolbox.settings, **creator.settings}
    wanted = list(reference.sections if sections is None else sections)
    done = {s.id: s.digest for s in toolbox.sections}
    todo = [s for s in wanted if done.get(s.id, "missing") != s.digest]
    report = BuildReport(toolbox, output, planned=len(todo), resumed=len(wanted) - len(todo))
    toolbox.save_pretrained(output)
    log_path = output / LOG_FILE
    lock = threading.Lock()

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc=f"building {reference.title}", unit="section")

    def finish(section: Section, build: SectionBuild | BaseException) -> None:
        if isinstance(build, BaseException):
            logger.warning(
                "Section %s failed (%s); it is not saved and a rerun retries it.", section.label, build
            )
            with lock:
                report.failed.append(f"{section.label}: {type(build).__name__}: {build}")
                append_jsonl(log_path, [{"section": section.label, "id": section.id, "error": repr(build)}])
                if bar is not None:
                    bar.update(1)
            return
        with lock:
            taken = {t.name for s in toolbox.sections if s.id != section.id for t in s.tools}
            tools = []
            for tool in build.tools:
                if tool.name in taken:
                    tool = rename_tool(tool, toolbox.unique_name(tool.name))
                taken.add(tool.name)
                tools.append(tool)
            toolbox.add_section(section, tools, build.stats)
            toolbox.save_pretrained(output)
            record = {
                "section": section.label,
                "id": section.id,
                "seconds": round(build.seconds, 2),
                "skipped": build.skipped,
                "stats": build.stats.__dict__,
                "tools": [t.name for t in tools],
                "log": build.log,
            }
            append_jsonl(log_path, [record])
            report.built += 1
            report.section_seconds.append(build.seconds)
            if build.skipped is None:
                report.model_sections.append(build.seconds)
            if bar is not None:
                stats = toolbox.stats
                bar.set_postfix(
                    tools=len(toolbox), proposed=stats.proposed, first=stats.first_pass,
                    repaired=stats.repaired, dropped=stats.dropped,
                )  # fmt: skip
                bar.update(1)
        if on_section is not None:
            on_section(section, build, toolbox)

    try:
        if workers == 1:
            for section in todo:
                finish(section, _attempt(creator, section))
        else:
            _build_concurrently(creator, todo, workers, finish)
    except KeyboardInterrupt:
        report.interrupted = True
        logger.warning(
            "Build interrupted: %d finished sections are saved in %s; run again to continue.",
            report.built,
            output,
        )
    finally:
        if bar is not None:
            bar.close()
        report.seconds = time.monotonic() - started
    return report


def _attempt(creator: ToolCreator, section: Section) -> SectionBuild | Exception:
    try:
        return creator.build_section(section)
    except Exception as err:  # one section's failure (e.g. the server gave up) must not stop the book
        return err


def _build_concurrently(
    creator: ToolCreator,
    todo: list[Section],
    workers: int,
    finish: Callable[[Section, SectionBuild | BaseException], None],
) -> None:
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hf-reft-build")
    pending: dict[Future[SectionBuild | Exception], Section] = {}
    queue = list(todo)
    try:
        while queue or pending:
            while queue and len(pending) < workers:
                section = queue.pop(0)
                pending[pool.submit(_attempt, creator, section)] = section
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                finish(pending.pop(future), future.result())
    finally:
        pool.shutdown(wait=not pending, cancel_futures=True)
