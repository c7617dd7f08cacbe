"""Markdown for the Space's panels: solver steps, answers, the toolbox browser. Pure functions, no Gradio.

The solver streams :class:`~hf_reft.reftool.solver.SolverStep` s; :class:`SolveView` folds them
into what each panel of the page shows (chapters and sections, tools with code, program, sandbox
output, answer, a progress list), so the page, the API and the tests all read the same state.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..reftool.toolbox import Tool, Toolbox, ToolboxSection

__all__ = [
    "SolveView",
    "chapter_choices",
    "count",
    "folder_size",
    "human_bytes",
    "section_choices",
    "section_markdown",
    "toolbox_counts_rows",
    "toolbox_summary",
]

#: How much of the reply being written the progress list shows.
LIVE_CHARS = 600
#: What the solver does after each step kind (shown while the next step runs).
_NEXT = {
    None: "Choosing chapters of the book…",
    "chapters": "Choosing tools from those chapters…",
    "tools": "Writing a program that calls the tools…",
    "program": "Running the program in the sandbox…",
    "output": "Reading the answer…",
    "fallback": "Writing a program without tools (program of thought)…",
}


def count(n: int, noun: str) -> str:
    """``count(1, "tool")`` → ``"1 tool"``, ``count(3, "tool")`` → ``"3 tools"``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _code(text: str, language: str = "python") -> str:
    """A fenced code block that ``text`` cannot close: its fence is longer than any backtick run in it."""
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def _inline_code(text: Any) -> str:
    """An inline code span that ``text`` cannot close (on one line)."""
    flat = " ".join(str(text).split())
    fence = "`" * (_longest_backtick_run(flat) + 1)
    return f"{fence} {flat} {fence}"


_MARKDOWN_INLINE = re.compile(r"([\\`\[\]|])")


def _escape(text: Any) -> str:
    """Model-written text shown as text, inside the line it is put in: no HTML, no line breaks (so no
    heading, list or fence can start), and the marks that open code, links or table cells escaped
    (emphasis may style the text; it cannot leave the line)."""
    flat = " ".join(str(text).split())
    return _MARKDOWN_INLINE.sub(r"\\\1", html.escape(flat, quote=False))


@dataclass
class SolveView:
    """What the Solve tab shows, built up step by step.

    Attributes:
        status: a Markdown progress list (steps done with their times, then what runs now).
        chapters: chapters chosen (and offered) plus the sections of the tools picked.
        tools: the tools picked, each with description and code.
        program: the program the model wrote (the tools' code is run before it).
        output: what the program printed in the sandbox (or its error).
        answer: the final answer with its unit, or a readable failure message.
        trace: the solver's whole trace (``SolveTrace.to_dict()``) once finished.
        error: the failure message, when the solve ended without an answer.
        reference: the answer an example problem's source states (SciBench's or the book's), shown
            next to the model's.
    """

    status: str = ""
    chapters: str = ""
    tools: str = ""
    program: str = ""
    output: str = ""
    answer: str = ""
    trace: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    reference: str | None = None
    done: bool = False
    live: str = ""
    _lines: list[str] = field(default_factory=list)
    _last: str | None = None

    @classmethod
    def started(cls, model: str, toolbox: str, reference: str | None = None) -> SolveView:
        view = cls(reference=reference)
        view._lines.append("")
        view.describe(model, toolbox)
        view.answer = "*Working…*"
        return view

    def describe(self, model: str, toolbox: str) -> None:
        """Set the first progress line: which model and toolbox solve."""
        self._lines[0] = f"Model **{_escape(model)}**, toolbox **{_escape(toolbox)}**."
        self.status = self._render_status()

    def _render_status(self) -> str:
        lines = [f"- {line}" for line in self._lines]
        if not self.done:
            lines.append(f"- ⏳ {_NEXT.get(self._last, 'Working…')}")
            if self.live.strip():
                tail = self.live[-LIVE_CHARS:]
                lines.append("\n" + _code(("…" if len(self.live) > LIVE_CHARS else "") + tail, "text"))
        return "\n".join(lines)

    def write(self, piece: str) -> None:
        """Add a piece of the reply the model is writing now (``"\\x00"``: the reply ended)."""
        self.live = "" if piece == "\x00" else self.live + piece
        self.status = self._render_status()

    def add(self, step: Any) -> None:
        """Fold one :class:`SolverStep` (``kind``, ``title``, ``data``, ``seconds``) into the panels."""
        kind, data = step.kind, step.data
        self.live = ""
        mark = "✗" if kind == "error" or (kind == "output" and data.get("status") != "ok") else "✓"
        self._lines.append(f"{mark} {_escape(step.title)} ({step.seconds:.1f} s)")
        self._last = kind
        if kind == "chapters":
            self.chapters = _chapters_markdown(data)
        elif kind == "tools":
            self.tools = _tools_markdown(data)
            self.chapters = self.chapters + "\n\n" + _sections_markdown(data.get("chosen") or [])
        elif kind == "fallback":
            reason = _escape(data.get("reason") or "no tool fits")
            self.tools = (self.tools + "\n\n" if self.tools else "") + f"**Falling back:** {reason}"
            if not self.chapters:
                self.chapters = "*No chapter was used.*"
        elif kind == "program":
            program = data.get("program")
            self.program = program or "# The model wrote no program. Its reply was:\n" + _comment(
                data.get("reply") or ""
            )
            self.output = ""
        elif kind == "output":
            self.output = _output_text(data)
        elif kind == "answer":
            self.done = True
            self.answer = _answer_markdown(data, self.reference)
            self.trace = data.get("trace") or {}
        elif kind == "error":
            self.done = True
            self.error = str(data.get("message") or "No answer.")
            self.answer = failure_markdown(self.error)
            self.trace = data.get("trace") or {}
        self.status = self._render_status()

    def fail(self, message: str) -> None:
        """End with a readable failure that did not come from the solver (bad input, model load...)."""
        self.done = True
        self.error = message
        self._lines.append(f"✗ {_escape(message)}")
        self.answer = failure_markdown(message)
        self.status = self._render_status()

    def panels(self) -> tuple[str, str, str, str, str, str, dict[str, Any]]:
        """The values of the page's outputs, in order: status, chapters, tools, program, output, answer, trace."""
        return (self.status, self.chapters, self.tools, self.program, self.output, self.answer, self.trace)


def _comment(text: str) -> str:
    return "\n".join(f"# {line}" for line in text.strip().splitlines()[:20])


def _chapters_markdown(data: dict[str, Any]) -> str:
    chosen = data.get("chosen") or []
    offered = data.get("offered") or []
    if chosen:
        lines = ["**Chapters chosen**"] + [f"- Chapter {c['number']}: {_escape(c['title'])}" for c in chosen]
    else:
        lines = ["**Chapters chosen:** none fits"]
    lines.append(f"\n<small>{len(offered)} chapters with tools were offered.</small>")
    return "\n".join(lines)


def _sections_markdown(tools: Iterable[dict[str, Any]]) -> str:
    sections = list(dict.fromkeys(str(t.get("section")) for t in tools if t.get("section")))
    if not sections:
        return "**Sections:** none (no tool picked)"
    return "**Sections of the tools picked**\n" + "\n".join(f"- {_escape(s)}" for s in sections)


def _tools_markdown(data: dict[str, Any]) -> str:
    chosen = data.get("chosen") or []
    offered = data.get("offered") or []
    if not chosen:
        return f"**Tools chosen:** none fits ({len(offered)} offered)"
    parts = [f"**Tools chosen** ({len(chosen)} of {len(offered)} offered)"]
    for tool in chosen:
        parts.append(
            f"#### {_inline_code(tool.get('signature') or tool.get('name'))}\n"
            f"{_escape(tool.get('description', ''))}  \n"
            f"<small>chapter {tool.get('chapter')}, section {_escape(tool.get('section', ''))}</small>\n\n"
            + _code(str(tool.get("code") or ""))
        )
    return "\n\n".join(parts)


def _output_text(data: dict[str, Any]) -> str:
    status = data.get("status")
    stdout = (data.get("stdout") or "").rstrip()
    seconds = data.get("wall_time")
    head = f"[{status}{f', {seconds:.2f} s' if isinstance(seconds, (int, float)) else ''}]"
    if status == "ok":
        return f"{head}\n{stdout or '(the program printed nothing)'}"
    reason = {
        "timeout": "The program ran past the sandbox's time limit and was stopped.",
        "memory": "The program used more memory than the sandbox allows.",
        "output_limit": "The program printed more than the sandbox keeps.",
        "killed": "The program was killed.",
    }.get(str(status), "The program raised an error.")
    error = data.get("error") or ""
    stderr = _last_line(data.get("stderr") or "")
    detail = error or stderr
    return "\n".join(x for x in (head, reason, detail, stdout) if x)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _answer_markdown(data: dict[str, Any], reference: str | None) -> str:
    text = str(data.get("text") or data.get("value"))
    parts = [f"## {_escape(text)}"]
    if reference:
        parts.append(reference)
    return "\n\n".join(parts)


def failure_markdown(message: str) -> str:
    """A failure shown in the answer panel: what happened, in words."""
    return f"### No answer\n{_escape(message)}"


def readable_error(err: BaseException) -> str:
    """One readable sentence for an exception: its message, never a stack trace."""
    message = str(err).strip() or type(err).__name__
    message = re.sub(r"\s*Traceback \(most recent call last\):.*", "", message, flags=re.DOTALL)
    return message if len(message) <= 600 else message[:600] + "…"


# --------------------------------------------------------------------------- the toolbox tab
def folder_size(folder: str | Path) -> int:
    """Bytes of all files under ``folder`` (following Hub-cache symlinks)."""
    root = Path(folder)
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0


def human_bytes(size: int) -> str:
    """``1536`` → ``"1.5 KB"``."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def toolbox_summary(toolbox: Toolbox, *, label: str, size_bytes: int | None = None) -> str:
    """The toolbox tab's header: source, size, model, build counts, book attribution."""
    ref = toolbox.reference or {}
    stats = toolbox.stats
    size = f" · **{human_bytes(size_bytes)}** on disk" if size_bytes is not None else ""
    lines = [
        f"### Toolbox: {_escape(label)}",
        f"**{count(len(toolbox.chapters), 'chapter')}** · **{count(len(toolbox.sections), 'section')}** built · "
        f"**{count(len(toolbox), 'tool')}**{size}",
        f"Built by **{_escape(toolbox.model or 'unknown model')}** from *{_escape(ref.get('title') or 'a reference book')}*"
        f" (updated {_escape(toolbox.updated_at)}).",
        f"Build counts: {stats.proposed} tools proposed, {stats.first_pass} passed validation first time, "
        f"{stats.repaired} repaired, {stats.dropped} dropped.",
    ]
    if ref.get("attribution"):
        lines.append(f"<small>{_escape(ref['attribution'])}</small>")
    if not len(toolbox):
        lines.append(
            "\n*This toolbox holds no validated tools yet, so every problem is solved by plain program of "
            "thought (the fallback).*"
        )
    return "\n\n".join(lines)


def toolbox_counts_rows(toolbox: Toolbox) -> list[list[Any]]:
    """One row per chapter: number, title, sections built, tools, proposed, first pass, repaired, dropped."""
    rows = []
    for ch in toolbox.chapters:
        stats = ch.stats
        rows.append(
            [
                ch.number,
                ch.title,
                len(ch.sections),
                len(ch.tools),
                stats.proposed,
                stats.first_pass,
                stats.repaired,
                stats.dropped,
            ]
        )
    return rows


COUNT_HEADERS = ["chapter", "title", "sections", "tools", "proposed", "first pass", "repaired", "dropped"]


def chapter_choices(toolbox: Toolbox) -> list[tuple[str, str]]:
    """(label, value) pairs for the chapter picker: ``"5. Thermochemistry (3 tools)"`` → ``"5"``."""
    return [
        (f"{ch.number}. {ch.title} ({count(len(ch.tools), 'tool')})", str(ch.number))
        for ch in toolbox.chapters
    ]


def section_choices(toolbox: Toolbox, chapter: str | int | None) -> list[tuple[str, str]]:
    """(label, section id) pairs for the section picker of one chapter."""
    for ch in toolbox.chapters:
        if str(ch.number) == str(chapter):
            return [(f"{s.label} ({count(len(s.tools), 'tool')})", s.id) for s in ch.sections]
    return []


def _tool_markdown(tool: Tool) -> str:
    parts = [f"#### {_inline_code(tool.signature)}", _escape(tool.description), _code(tool.code)]
    example = tool.validation
    if example is not None:
        parts.append(
            f"**Validation example** <small>({_escape(example.source or 'from the book')})</small>  \n"
            f"{_escape(example.problem)}"
        )
        parts.append(_code(example.solution))
        parts.append(f"Book's answer: **{_escape(example.expected_answer)}**")
    record = tool.record
    got = f", got {_escape(record.answer)}" if record.answer else ""
    parts.append(f"Validation: **{record.status}** after {record.attempts} run(s){got}.")
    return "\n\n".join(parts)


def section_markdown(toolbox: Toolbox, section_id: str | None) -> str:
    """A section's tools: description, code, validation example and record; its build counts."""
    if not section_id:
        return (
            "*Pick a chapter and a section.*" if toolbox.sections else "*This toolbox has no sections yet.*"
        )
    try:
        section: ToolboxSection = toolbox.section(section_id)
    except KeyError:
        return f"*No section {_escape(section_id)} in this toolbox.*"
    stats = section.stats
    head = (
        f"### {_escape(section.label)}\n"
        f"Build: {stats.proposed} proposed, {stats.first_pass} passed first time, {stats.repaired} repaired, "
        f"{stats.dropped} dropped."
    )
    if not section.tools:
        return head + "\n\n*No tool of this section passed validation.*"
    return head + "\n\n" + "\n\n---\n\n".join(_tool_markdown(t) for t in section.tools)
