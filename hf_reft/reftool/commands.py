"""``hf-reft reftool build | solve | evaluate``: the RefTool pipeline on the command line.

* ``hf-reft reftool build [REFERENCE] --output DIR`` — write and validate tools for every section
  of a book (default ``chemistry-2e``), saving after each section; rerunning continues
  (``--chapters 9,5`` builds only those chapters, in that order).
* ``hf-reft reftool solve "PROBLEM" --toolbox DIR`` — solve one problem and print each step
  (``--method pot|cot`` for the baselines, ``--json`` for the whole trace).
* ``hf-reft reftool evaluate --toolbox DIR`` — SciBench chemistry accuracy of RefTool, PoT and CoT
  with the same model, in one table with n and Wilson 95 % intervals (``--limit N``);
  ``--benchmark book-exercises``: on the book's own end-of-chapter exercises instead (100 by default).

Model choice everywhere: ``--model`` (a GGUF file, Hub id, local folder or OpenAI-compatible URL),
else ``$HF_REFT_CHAT_MODEL``, else the offline default (Qwen2.5-Coder-1.5B-Instruct on llama.cpp).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from ..cli_arguments import UsageError

__all__ = ["PIPELINE_SUBCOMMANDS"]


# --------------------------------------------------------------------------- shared options
def add_connection_options(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--backend``, ``--served-model``, ``--api-key``, ``--timeout`` and ``--max-retries``: what
    :func:`connect` reads."""
    p.add_argument(
        "--backend", choices=["auto", "llamacpp", "transformers", "inference"], help="force a backend"
    )
    p.add_argument("--served-model", help="model name to send to an OpenAI-compatible server")
    p.add_argument(
        "--api-key",
        default=None,
        help="the OpenAI-compatible server's API key (default: $OPENAI_API_KEY; never your Hugging Face token)",
    )
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for a remote server")
    p.add_argument("--max-retries", type=int, default=4, help="retries on 429/5xx/connection errors (remote)")


def check_connection_options(args: argparse.Namespace) -> None:
    """Reject a negative ``--max-retries`` or a non-positive ``--timeout`` (:class:`UsageError`)."""
    if args.max_retries < 0 or args.timeout <= 0:
        raise UsageError("--max-retries must be ≥ 0 and --timeout positive.")


def connect(args: argparse.Namespace):
    """The chat backend of ``--model`` (with :func:`add_connection_options`), named on stderr.

    ``--timeout`` and ``--max-retries`` apply to a remote backend.
    """
    from .chat import InferenceClientBackend, OpenAICompatibleBackend, get_chat_backend

    try:
        backend = get_chat_backend(
            args.model, backend=args.backend, served_model=args.served_model, api_key=args.api_key
        )
    except (ValueError, OSError) as err:
        raise UsageError(str(err)) from err
    if isinstance(backend, InferenceClientBackend | OpenAICompatibleBackend):
        backend.max_retries = args.max_retries
    if isinstance(backend, OpenAICompatibleBackend):
        backend.timeout = args.timeout
    elif isinstance(backend, InferenceClientBackend):
        backend.client.timeout = args.timeout
    print(f"[{backend.kind}: {backend.name}]", file=sys.stderr)
    return backend


def load_reference(args: argparse.Namespace):
    """The :class:`~hf_reft.reftool.books.Reference` named by ``args.reference`` and ``--data-dir``."""
    from .books import Reference, ReferenceFormatError

    try:
        return Reference.load(args.reference, data_dir=args.data_dir)
    except ReferenceFormatError as err:
        raise UsageError(str(err)) from err


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("chat model")
    g.add_argument(
        "--model",
        help="a .gguf file, Hub id, local folder, or server URL (http://host:port/v1); "
        "default: the offline Qwen2.5-Coder-1.5B-Instruct on llama.cpp",
    )
    add_connection_options(g)
    g.add_argument("--temperature", type=float, default=0.0, help="sampling temperature (0 = greedy)")
    g.add_argument(
        "--threads",
        type=int,
        help="CPU threads for a local model (llama.cpp, or torch.set_num_threads); default: llama.cpp takes "
        "the cores that are free now; 1 is far faster on a busy shared machine",
    )
    g.add_argument(
        "--replay",
        metavar="FILE",
        help="no model: replay replies recorded by RecordingChatBackend.save (JSON), in order (for tests, demos)",
    )


def _backend(args: argparse.Namespace):
    check_connection_options(args)
    if args.temperature < 0:
        raise UsageError(f"--temperature must be ≥ 0 (got {args.temperature}).")
    if args.threads is not None:
        if args.threads < 1:
            raise UsageError(f"--threads must be at least 1 (got {args.threads}).")
        import os

        import torch

        from .chat.llamacpp import ENV_THREADS

        torch.set_num_threads(args.threads)
        os.environ[ENV_THREADS] = str(args.threads)  # read when a llama.cpp backend starts
    if args.replay:
        from .scripted import ScriptedChatBackend

        try:
            backend = ScriptedChatBackend.from_file(args.replay)
        except ValueError as err:
            raise UsageError(str(err)) from err
        print(f"[scripted: {backend.name}, {backend.remaining} recorded replies]", file=sys.stderr)
        return backend
    return connect(args)


def _int_list(text: str | None, what: str) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise UsageError(f"{what} must be comma-separated numbers like 9,5,3 (got {text!r}).") from None


def _toolbox(args: argparse.Namespace):
    from .toolbox import Toolbox, ToolboxFormatError

    try:
        return Toolbox.from_pretrained(args.toolbox, trust_remote_code=args.trust_remote_code)
    except (ToolboxFormatError, OSError, ValueError) as err:
        raise UsageError(f"Cannot load the toolbox {args.toolbox!r}: {err}") from err


def _positive(name: str, value: float) -> None:
    if value < 1:
        raise UsageError(f"--{name} must be at least 1 (got {value}).")


# --------------------------------------------------------------------------- build
#: ``hf-reft reftool build`` flags that set a :class:`~hf_reft.reftool.creation.ToolCreator` argument of
#: the same name; their defaults are the class's own.
_CREATOR_FLAGS: dict[str, tuple[type, str]] = {
    "max_tools": (int, "m: most tools kept per section"),
    "budget": (int, "most characters of section text per prompt"),
    "rel_tol": (float, "relative tolerance against the book's answer"),
    "max_new_tokens": (int, "most tokens per model reply"),
    "candidates": (int, "creation replies per section: the first greedy, the others sampled"),
    "sample_temperature": (float, "temperature of the sampled candidates"),
    "max_examples": (int, "most exercises offered per creation prompt"),
    "cross_checks": (int, "most other problems a passing tool is tried on; 0: no cross-check"),
    "cross_check_tries": (
        int,
        "programs written per cross-check problem: the first greedy, the others sampled",
    ),
    "transcriptions": (
        int,
        "transcriptions per worked example until one gives a kept tool: the first greedy, the others sampled",
    ),
}


def _creator_default(name: str):
    import inspect

    from .creation import ToolCreator

    return inspect.signature(ToolCreator).parameters[name].default


def _build(args: argparse.Namespace) -> int:
    from .building import build_toolbox, select_sections
    from .creation import ToolCreator

    settings = {name: getattr(args, name) for name in _CREATOR_FLAGS if getattr(args, name) is not None}
    for name in (
        "max_tools",
        "max_new_tokens",
        "max_examples",
        "cross_check_tries",
        "transcriptions",
        "workers",
    ):
        if getattr(args, name) is not None:
            _positive(name.replace("_", "-"), getattr(args, name))
    if args.candidates is not None and args.candidates < (0 if args.transcribe else 1):
        raise UsageError(
            f"--candidates must be at least 1 with --no-transcribe (got {args.candidates}); 0 only with "
            "transcription on (the default), for tools from transcribed worked solutions alone."
        )
    if args.budget is not None and args.budget < 500:
        raise UsageError(f"--budget must be at least 500 characters (got {args.budget}).")
    if args.rel_tol is not None and not 0 < args.rel_tol < 1:
        raise UsageError(f"--rel-tol must be between 0 and 1, e.g. 0.02 (got {args.rel_tol}).")
    if args.cross_checks is not None and args.cross_checks < 0:
        raise UsageError(f"--cross-checks must be ≥ 0 (0 turns the check off; got {args.cross_checks}).")
    if args.sample_temperature is not None and args.sample_temperature <= 0:
        raise UsageError(f"--sample-temperature must be positive (got {args.sample_temperature}).")
    reference = load_reference(args)
    try:
        sections = select_sections(
            reference,
            chapters=_int_list(args.chapters, "--chapters"),
            sections=[s for s in (args.sections or "").split(",") if s],
        )
    except ValueError as err:
        raise UsageError(str(err)) from err
    backend = _backend(args)
    creator = ToolCreator(
        backend,
        temperature=args.temperature,
        repair=not args.no_repair,
        transcribe=args.transcribe,
        **settings,
    )
    try:
        report = build_toolbox(
            reference,
            backend,
            args.output,
            creator=creator,
            sections=sections,
            workers=args.workers,
            resume=not args.no_resume,
            progress=not args.no_progress,
        )
    except (FileExistsError, ValueError) as err:
        raise UsageError(str(err)) from err
    summary = report.summary()
    print(json.dumps(summary, indent=2))
    if args.push_to_hub and not report.interrupted:
        url = report.toolbox.push_to_hub(args.push_to_hub, private=args.private)
        print(f"pushed to {url}", file=sys.stderr)
    return 130 if report.interrupted else (1 if report.failed else 0)


def _add_build(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build",
        help="write and validate tools for every section of a reference book (resumable)",
        description="Tools are validated on the book's own worked examples (their stated answers) in the "
        "sandbox; a failure goes back to the model once for repair. The toolbox is saved after every section; "
        "rerun the same command to continue an interrupted build.",
    )
    p.add_argument("reference", nargs="?", default="chemistry-2e", help="book folder/file or named reference")
    p.add_argument("--output", required=True, help="toolbox folder (created, saved after every section)")
    p.add_argument("--data-dir", help="shared data folder for named references (default: ../shared/data)")
    p.add_argument("--chapters", help="build only these chapters, in this order (e.g. 9,5,3)")
    p.add_argument("--sections", help="build only these sections (ids or numbers, e.g. 9.2,m68674)")
    for name, (kind, what) in _CREATOR_FLAGS.items():
        p.add_argument(
            "--" + name.replace("_", "-"), type=kind, help=f"{what} (default {_creator_default(name)})"
        )
    p.add_argument("--no-repair", action="store_true", help="drop failing tools without asking for a repair")
    p.add_argument(
        "--transcribe",
        action=argparse.BooleanOptionalAction,
        default=_creator_default("transcribe"),
        help="also make tools from the model's transcriptions of the worked solutions, checked the same way "
        "(default: on; --no-transcribe for creation replies alone)",
    )
    p.add_argument("--workers", type=int, help="sections in flight (default: 1 local model, 4 remote)")
    p.add_argument("--no-resume", action="store_true", help="refuse to continue a toolbox in --output")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--push-to-hub", metavar="REPO_ID", help="upload the finished toolbox to this Hub repo")
    p.add_argument("--private", action="store_true", help="with --push-to-hub: create a private repo")
    _add_model_options(p)
    p.set_defaults(func=_build)


# --------------------------------------------------------------------------- solve
def _make_solver(args: argparse.Namespace, backend, method: str):
    from .baselines import ChainOfThoughtSolver, ProgramOfThoughtSolver
    from .solver import RefToolSolver

    common = {"program_tokens": args.max_new_tokens, "temperature": args.temperature}
    if method == "cot":
        return ChainOfThoughtSolver(backend, **common)
    if method == "pot":
        return ProgramOfThoughtSolver(backend, **common)
    from .toolbox import UntrustedToolboxError

    toolbox = _toolbox(args)
    try:
        return RefToolSolver(
            toolbox, backend, max_chapters=args.max_chapters, max_tools=args.max_tools, **common
        )
    except UntrustedToolboxError as err:
        raise UsageError(str(err)) from err


def _check_solver_args(args: argparse.Namespace) -> None:
    for name in ("max_chapters", "max_tools", "max_new_tokens"):
        _positive(name.replace("_", "-"), getattr(args, name))


def _solve(args: argparse.Namespace) -> int:
    _check_solver_args(args)
    if not args.problem.strip():
        raise UsageError("The problem is empty; pass the problem text in quotes.")
    if args.method == "reftool" and not args.toolbox:
        raise UsageError(
            "--toolbox is required with --method reftool (a folder from `hf-reft reftool build`)."
        )
    backend = _backend(args)
    solver = _make_solver(args, backend, args.method)
    final = None
    for step in solver.stream(args.problem):
        final = step
        if args.json:
            continue
        print(f"== {step.title}  ({step.seconds:.1f} s)")
        data = step.data
        if step.kind == "program" and data.get("program"):
            print(data["program"])
        elif step.kind == "output":
            print(data["stdout"] or data.get("error") or "(nothing printed)")
        elif step.kind == "tools":
            for tool in data["chosen"]:
                print(f"  {tool['signature']}: {tool['description']}")
        elif step.kind == "fallback":
            print(f"  {data['reason']}")
        elif step.kind == "reasoning":
            print(data["text"])
        elif step.kind == "error":
            print(f"  {data['message']}")
    assert final is not None
    if args.json:
        print(json.dumps(final.data["trace"], indent=2, ensure_ascii=False))
    return 0 if final.kind == "answer" else 1


def _add_solver_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--toolbox", help="toolbox folder or Hub id (from `hf-reft reftool build`)")
    p.add_argument("--trust-remote-code", action="store_true", help="allow running tools of a Hub toolbox")
    p.add_argument("--max-chapters", type=int, default=2, help="n_c: chapters the model may pick")
    p.add_argument("--max-tools", type=int, default=3, help="n_t: tools the model may pick")
    p.add_argument("--max-new-tokens", type=int, default=512, help="most tokens of a program or reasoning")


def _add_solve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "solve",
        help="solve one problem with a toolbox (or with the PoT/CoT baselines) and print every step",
        description="RefTool: the model picks chapters, then tools, then writes a program that calls them; "
        "it runs in the sandbox. No tool fits → plain program of thought.",
    )
    p.add_argument("problem", help="the problem text")
    p.add_argument("--method", choices=["reftool", "pot", "cot"], default="reftool")
    p.add_argument("--json", action="store_true", help="print the whole trace as JSON")
    _add_solver_options(p)
    _add_model_options(p)
    p.set_defaults(func=_solve)


# --------------------------------------------------------------------------- evaluate
#: ``--benchmark`` choices: what the problems are called under the table and on the progress bar.
_BENCHMARKS = {"scibench": "SciBench chemistry", "book-exercises": "Chemistry 2e end-of-chapter exercises"}


def _evaluation_problems(args: argparse.Namespace):
    """The problems of ``--benchmark``, with ``--subsets`` (SciBench only), ``--limit`` and ``--seed``."""
    from .evaluation import DEFAULT_SUBSETS, load_scibench
    from .exercises import DEFAULT_BOOK_LIMIT, load_book_exercises

    try:
        if args.benchmark == "book-exercises":
            if args.subsets is not None:
                raise UsageError("--subsets applies to --benchmark scibench only.")
            limit = DEFAULT_BOOK_LIMIT if args.limit is None else args.limit
            return load_book_exercises(args.data_dir, limit=limit, seed=args.seed)
        subsets = args.subsets.split(",") if args.subsets is not None else list(DEFAULT_SUBSETS)
        return load_scibench(subsets, data_dir=args.data_dir, limit=args.limit, seed=args.seed)
    except (OSError, ValueError) as err:
        raise UsageError(str(err)) from err


def _evaluate(args: argparse.Namespace) -> int:
    from .chat import default_concurrency
    from .evaluation import METHODS, evaluate_scibench, format_table

    _check_solver_args(args)
    methods = [m for m in args.methods.split(",") if m]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or not methods:
        raise UsageError(
            f"--methods takes a comma-separated subset of {list(METHODS)} (got {args.methods!r})."
        )
    if "reftool" in methods and not args.toolbox:
        raise UsageError("--toolbox is required to evaluate reftool (or pass --methods pot,cot).")
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be positive (got {args.limit}).")
    problems = _evaluation_problems(args)
    if args.workers is not None:
        _positive("workers", args.workers)
    backend = _backend(args)
    solvers = {m: _make_solver(args, backend, m) for m in methods}
    benchmark = _BENCHMARKS[args.benchmark]
    result = evaluate_scibench(
        solvers,
        problems,
        progress=not args.no_progress,
        output=Path(args.output) if args.output else None,
        workers=args.workers or default_concurrency(backend, batch_local=True),
        desc=benchmark,
    )
    print(format_table(result, benchmark=benchmark))
    if args.output:
        print(f"results and traces: {args.output}", file=sys.stderr)
    return 0


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="accuracy of RefTool vs program of thought vs chain of thought on SciBench chemistry or the "
        "reference book's own exercises",
        description="Same model and sandbox for every method; 5 % relative tolerance; one table with n and "
        "Wilson 95 % intervals. --limit N takes a fixed (seeded) sample of the problems. "
        "--benchmark book-exercises: Chemistry 2e's end-of-chapter exercises with one numeric answer, "
        "which tool creation never sees; by default a fixed sample of 100 of them (seed 0).",
    )
    p.add_argument("--methods", default="reftool,pot,cot", help="comma-separated: reftool,pot,cot")
    p.add_argument(
        "--benchmark",
        choices=list(_BENCHMARKS),
        default="scibench",
        help="scibench: SciBench chemistry (default); book-exercises: the end-of-chapter exercises of "
        "OpenStax Chemistry 2e that have a single numeric answer (scored as SciBench)",
    )
    p.add_argument(
        "--subsets",
        help="--benchmark scibench only: SciBench files in scibench-chemistry/ (default: the test sets "
        "atkins,chemmc; also matter_sol, quan_sol, atkins_sol, chemmc_sol)",
    )
    p.add_argument("--data-dir", help="shared data folder (default: $HF_REFT_DATA_DIR or ../shared/data)")
    p.add_argument(
        "--limit",
        type=int,
        help="evaluate a fixed sample of this many problems (default: all of scibench; 100 of "
        "book-exercises; a limit of at least the set's size takes all of it, in order)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the --limit sample (default 0)")
    p.add_argument("--output", help="folder for results.json and traces.jsonl")
    p.add_argument(
        "--workers",
        type=int,
        help="solves at once (default: the local model's batch size, 4 for a remote model)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_solver_options(p)
    _add_model_options(p)
    p.set_defaults(func=_evaluate)


#: The pipeline's sub-commands, appended to the ``reftool`` group's ``SUBCOMMANDS``.
PIPELINE_SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_build,
    _add_solve,
    _add_evaluate,
]
