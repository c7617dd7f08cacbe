"""The RefTool chemistry demo as a Gradio app: :func:`build_app` makes the page, :func:`launch` serves it.

The page has two tabs:

* **Solve** — a problem box with the example problems (SciBench chemistry, then end-of-chapter
  exercises of Chemistry 2e), a Solve button and, streamed as the solver works, the chapters and
  sections chosen, the tools picked (with code), the program, the sandbox output and the answer with
  its unit (next to the example's own answer); settings for the chat model and the toolbox.
* **Toolbox** — chapters → sections → tools (description, code, validation example), the build
  counts and the toolbox's size.

The Solve button is also an API endpoint, ``/solve`` (``gradio_client``: ``client.predict(problem,
model, toolbox, api_name="/solve")`` returns status, chapters, tools, program, output, answer and
the trace as JSON). ``spaces/reftool-chemistry/app.py`` is a thin wrapper around this module.
"""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from .examples import BOOK_SOURCE
from .render import (
    COUNT_HEADERS,
    chapter_choices,
    count,
    human_bytes,
    readable_error,
    section_choices,
    section_markdown,
    toolbox_counts_rows,
    toolbox_summary,
)
from .service import SpaceService
from .settings import BUNDLED, SpaceSettings

__all__ = ["CSS", "MODEL_NOTICE", "build_app", "launch", "serve"]

logger = logging.getLogger(__name__)

TITLE = "RefTool · chemistry"

CSS = """
#answer-panel h2 { font-size: 2rem; margin: 0.2rem 0; }
#answer-panel { min-height: 4rem; }
#status-panel ul { margin: 0; }
.hf-reft-notice { font-size: 0.9rem; }
"""

MODEL_NOTICE = """**What the default model can and cannot do.** The default chat model is
Qwen2.5-Coder-1.5B-Instruct (a 4-bit GGUF of 1.1 GB) on llama.cpp, running on this machine's CPU, no
token needed. It built the bundled toolbox from the whole book and kept a validated tool in 21 of
the 69 sections it could validate on (29 tools, most of them transcribed from the book's worked
solutions: moles and molarity, specific heat, gas laws, Henry's and Raoult's laws, rate laws, pH,
K_b, K_sp, a radiocarbon age). On
100 of the book's end-of-chapter exercises with this toolbox: RefTool 11 %, program of thought 14 %,
chain of thought 13 % — the model rarely picks the tool the problem needs (it picks chapter 1's
for most problems), so its programs seldom call one. On all 143 SciBench chemistry problems
(college physical chemistry, which these tools rarely fit): RefTool 8.4 %, program of thought
10.5 %, chain of thought 7.7 %. For
stronger answers, pick an Inference Providers model in **Settings** (needs an `HF_TOKEN` secret on
the Space), or set `HF_REFT_CHAT_MODEL` to a capable model or an OpenAI-compatible server URL (see
the Space's README)."""


def _notice(settings: SpaceSettings) -> str:
    if settings.default_model is None:
        return MODEL_NOTICE
    return (
        f"The default chat model is **{settings.default_model_label}**, chosen by the Space owner "
        "(`HF_REFT_CHAT_MODEL`)."
    )


def _intro(service: SpaceService) -> str:
    book = sum(e.source == BOOK_SOURCE for e in service.examples)
    scibench = len(service.examples) - book
    examples = count(scibench, "SciBench chemistry problem") + (
        f" and {count(book, 'end-of-chapter exercise')} of *Chemistry 2e* (none from the evaluation subset)"
        if book
        else ""
    )
    return (
        f"# {TITLE}\n"
        "RefTool (Liu et al. 2025) solves a problem with **tools a model wrote from a reference book** — "
        "here OpenStax *Chemistry 2e* — and checked against the book's worked examples. The solver picks "
        "chapters, then tools, writes a program that calls them and runs it in a sandbox. "
        f"{examples} are below as examples."
    )


def stopped(status: str, answer: str) -> tuple[str, str]:
    """The progress list and answer after the visitor pressed Stop (a finished solve is left alone)."""
    if "⏳" not in (status or ""):
        return status, answer
    kept = (status or "").split("\n- ⏳", 1)[0]
    return f"{kept}\n- ✗ Stopped.", "### Stopped\nYou stopped this solve; press Solve to start again."


def build_app(settings: SpaceSettings | None = None, *, service: SpaceService | None = None) -> gr.Blocks:
    """The demo page (not yet launched). Pass ``service`` to choose the backend (tests, scripts)."""
    if service is None:
        service = SpaceService(settings or SpaceSettings.from_env())
    settings = service.settings
    examples = service.examples

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(_intro(service), elem_id="intro")
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Solve", id="solve", elem_id="solve-tab"):
                with gr.Row():
                    with gr.Column(scale=3):
                        problem = gr.Textbox(
                            label="Problem",
                            lines=5,
                            max_lines=12,
                            max_length=settings.max_problem_chars,
                            placeholder="A chemistry problem with a numeric answer, or pick an example below.",
                            elem_id="problem",
                        )
                        with gr.Row():
                            solve_button = gr.Button("Solve", variant="primary", elem_id="solve-button")
                            stop_button = gr.Button("Stop", variant="secondary", elem_id="stop-button")
                        gr.Examples(
                            examples=[[e.text] for e in examples],
                            example_labels=[e.label for e in examples],
                            inputs=[problem],
                            label="Example problems (SciBench chemistry, MIT licence; "
                            "OpenStax Chemistry 2e exercises, CC BY 4.0)",
                            examples_per_page=8,
                            elem_id="examples",
                        )
                    with gr.Column(scale=2), gr.Accordion("Settings", open=True, elem_id="settings"):
                        # Custom values pass Gradio's own check; SpaceService checks every choice
                        # against the settings and answers a refused one with a readable message.
                        model = gr.Dropdown(
                            choices=settings.model_choices,
                            value=settings.default_model_label,
                            allow_custom_value=True,
                            interactive=(settings.any_model and settings.has_token)
                            or len(settings.model_choices) > 1,
                            label="Chat model",
                            info=(
                                "Inference Providers models use this Space's HF_TOKEN."
                                if settings.has_token
                                else "No HF_TOKEN: only the default model runs (on the CPU)."
                            ),
                            elem_id="model",
                        )
                        toolbox = gr.Dropdown(
                            choices=settings.toolbox_choices,
                            value=BUNDLED,
                            allow_custom_value=True,
                            interactive=settings.toolbox_open_owners or len(settings.toolbox_choices) > 1,
                            label="Toolbox",
                            info="The bundled Chemistry 2e toolbox, or a Hub toolbox the Space owner allows.",
                            elem_id="toolbox",
                        )
                        toolbox_size = gr.Markdown(elem_id="toolbox-size")
                        gr.Markdown(
                            _notice(settings), elem_classes=["hf-reft-notice"], elem_id="model-notice"
                        )
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2), gr.Group():
                        gr.Markdown("#### Answer", padding=True)
                        answer = gr.Markdown(
                            "*Pick an example or type a problem, then press Solve.*",
                            elem_id="answer-panel",
                            padding=True,
                        )
                    with gr.Column(scale=3), gr.Group():
                        gr.Markdown("#### Steps", padding=True)
                        status = gr.Markdown(elem_id="status-panel", padding=True)
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2), gr.Group():
                        gr.Markdown("#### Chapters and sections", padding=True)
                        chapters = gr.Markdown(elem_id="chapters-panel", padding=True)
                    with gr.Column(scale=3), gr.Group():
                        gr.Markdown("#### Tools picked", padding=True)
                        tools = gr.Markdown(elem_id="tools-panel", padding=True)
                with gr.Row(equal_height=False):
                    program = gr.Code(
                        language="python",
                        label="Program written by the model",
                        lines=8,
                        scale=3,
                        elem_id="program-panel",
                    )
                    output = gr.Code(label="Sandbox output", lines=8, scale=2, elem_id="output-panel")
                with gr.Accordion("Trace (JSON)", open=False):
                    trace = gr.JSON(elem_id="trace-panel")

            with gr.Tab("Toolbox", id="toolbox", elem_id="toolbox-tab"):
                summary = gr.Markdown(elem_id="toolbox-summary")
                counts = gr.Dataframe(
                    headers=COUNT_HEADERS,
                    datatype=["number", "str", "number", "number", "number", "number", "number", "number"],
                    interactive=False,
                    label="Build counts per chapter",
                    elem_id="toolbox-counts",
                )
                with gr.Row():
                    chapter = gr.Dropdown(label="Chapter", choices=[], elem_id="toolbox-chapter")
                    section = gr.Dropdown(label="Section", choices=[], elem_id="toolbox-section")
                section_view = gr.Markdown(elem_id="toolbox-section-view")

        # ------------------------------------------------------------------ events
        def solve(problem_text: str, model_choice: str, toolbox_choice: str):
            for view in service.solve(problem_text, model_choice, toolbox_choice):
                yield view.panels()

        solve_event = solve_button.click(
            solve,
            inputs=[problem, model, toolbox],
            outputs=[status, chapters, tools, program, output, answer, trace],
            api_name="solve",
            api_description="Solve a chemistry problem with RefTool; returns status, chapters, tools, "
            "program, sandbox output, answer and the trace (JSON).",
            show_progress="minimal",
            show_progress_on=[answer],
        )
        stop_button.click(
            stopped,
            inputs=[status, answer],
            outputs=[status, answer],
            cancels=[solve_event],
            api_visibility="private",
            queue=False,
        )

        def show_toolbox(choice: str):
            try:
                loaded = service.toolbox(choice)
            except Exception as err:  # shown on the page
                message = f"**Cannot load the toolbox:** {readable_error(err)}"
                return (
                    message,
                    [],
                    gr.update(choices=[], value=None),
                    gr.update(choices=[], value=None),
                    "",
                    message,
                )
            box = loaded.toolbox
            chapters_ = chapter_choices(box)
            first = chapters_[0][1] if chapters_ else None
            sections_ = section_choices(box, first)
            first_section = sections_[0][1] if sections_ else None
            size = (
                f"**{count(len(box), 'tool')}** in {count(len(box.sections), 'section')} · "
                f"{human_bytes(loaded.size_bytes)} "
                "(browse it in the Toolbox tab)"
            )
            return (
                toolbox_summary(box, label=loaded.label, size_bytes=loaded.size_bytes),
                toolbox_counts_rows(box),
                gr.update(choices=chapters_, value=first),
                gr.update(choices=sections_, value=first_section),
                section_markdown(box, first_section),
                size,
            )

        toolbox_outputs = [summary, counts, chapter, section, section_view, toolbox_size]
        demo.load(show_toolbox, inputs=[toolbox], outputs=toolbox_outputs, api_visibility="undocumented")
        toolbox.change(show_toolbox, inputs=[toolbox], outputs=toolbox_outputs, api_name="toolbox")

        def pick_chapter(choice: str, chapter_value: str):
            try:
                box = service.toolbox(choice).toolbox
            except Exception:  # the summary already says why
                return gr.update(choices=[], value=None), ""
            sections_ = section_choices(box, chapter_value)
            first = sections_[0][1] if sections_ else None
            return gr.update(choices=sections_, value=first), section_markdown(box, first)

        chapter.input(
            pick_chapter,
            inputs=[toolbox, chapter],
            outputs=[section, section_view],
            api_visibility="undocumented",
        )

        def pick_section(choice: str, section_id: str):
            try:
                return section_markdown(service.toolbox(choice).toolbox, section_id)
            except Exception:
                return ""

        section.input(
            pick_section, inputs=[toolbox, section], outputs=[section_view], api_visibility="undocumented"
        )
    demo.hf_reft_service = service  # type: ignore[attr-defined]  # for scripts and tests
    return demo


def launch(
    demo: gr.Blocks,
    settings: SpaceSettings,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    block: bool = True,
    quiet: bool = False,
    **kwargs: Any,
) -> str:
    """Queue and serve ``demo``; return the local URL.

    The queue runs ``settings.concurrency`` solves at once and holds at most
    ``settings.queue_size`` waiting requests. With ``block=False`` the server runs in a background
    thread (tests, scripts); close it with ``demo.close()``.
    """
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size)
    _, url, _ = demo.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        ssr_mode=False,
        show_error=False,
        css=CSS,
        footer_links=["api", "gradio"],
        **kwargs,
    )
    local = url or f"http://{host}:{demo.server_port}/"
    if not quiet:
        print(f"hf-reft demo running on local URL: {local}", flush=True)
    if block:
        demo.block_thread()
    return local


def serve(
    settings: SpaceSettings | None = None,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    warm: bool = True,
    block: bool = True,
) -> tuple[gr.Blocks, str]:
    """Build, warm up and serve the demo (what ``hf-reft space run`` and the Space's ``app.py`` do).

    ``warm`` loads the default chat model and the bundled toolbox before the URL is printed, so the
    first click does not wait for them; a failure there is logged and shown on the page later.
    """
    settings = settings or SpaceSettings.from_env()
    service = SpaceService(settings)
    if warm:
        for what, load in (
            ("toolbox", lambda: service.toolbox(BUNDLED)),
            ("model", lambda: service.backend(None)),
        ):
            try:
                load()
            except Exception as err:  # the page reports it on use
                logger.warning("Could not load the default %s at start-up: %s", what, readable_error(err))
    demo = build_app(service=service)
    url = launch(demo, settings, host=host, port=port, block=block)
    return demo, url
