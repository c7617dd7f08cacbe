"""``hf-reft reftool ...``: the RefTool command group.

Sub-commands are added by the functions in :data:`SUBCOMMANDS` (each takes the group's
sub-parsers and adds one command with ``set_defaults(func=handler)``); later parts of RefTool
append theirs (build, solve, evaluate) to the same list.

* ``hf-reft reftool inspect REFERENCE`` — chapters, sections, worked examples and parts of a book.
* ``hf-reft reftool chat PROMPT`` — one request to a chat backend (checks a model/URL/token setup).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from ..cli_arguments import UsageError
from .commands import (
    PIPELINE_SUBCOMMANDS,
    add_connection_options,
    check_connection_options,
    connect,
    load_reference,
)

__all__ = ["DESCRIPTION", "SUBCOMMANDS"]


def _inspect(args: argparse.Namespace) -> int:
    if args.budget is not None and args.budget < 16:
        raise UsageError(f"--budget must be at least 16 (got {args.budget}).")
    reference = load_reference(args)
    tokenizer = None
    if args.tokenizer:
        from transformers import AutoTokenizer

        from ..models import default_chat_model_path

        source = default_chat_model_path() if args.tokenizer == "default" else args.tokenizer
        try:
            tokenizer = AutoTokenizer.from_pretrained(source)
        except OSError as err:
            raise UsageError(f"Cannot load the tokenizer {args.tokenizer!r}: {err}") from err
    budget = args.budget if args.budget is not None else (1500 if tokenizer is not None else 6000)
    summary = reference.summary(budget, tokenizer=tokenizer)
    rows = []
    for chapter in reference.chapters:
        parts = sum(len(s.split(budget, tokenizer=tokenizer)) for s in chapter.sections)
        rows.append(
            {
                "chapter": chapter.number,
                "title": chapter.title,
                "sections": len(chapter.sections),
                "examples": len(chapter.examples),
                "parts": parts,
            }
        )
    if args.json:
        print(json.dumps({**summary, "chapter_table": rows}, indent=2, ensure_ascii=False))
        return 0
    unit = summary["unit"]
    print(f"{reference.title} ({reference.kind}): {reference.source}")
    if reference.attribution:
        print(f"Attribution: {reference.attribution}")
    print(
        f"{summary['chapters']} chapters, {summary['sections']} sections, {summary['examples']} worked examples "
        f"({summary['all_examples']} with front/back matter), {summary['parts']} parts of at most {budget} {unit}"
    )
    width = max((len(r["title"]) for r in rows), default=5)
    print(f"\n{'ch':>3}  {'title':<{width}}  {'sections':>8}  {'examples':>8}  {'parts':>5}")
    for r in rows:
        print(
            f"{r['chapter']:>3}  {r['title']:<{width}}  {r['sections']:>8}  {r['examples']:>8}  {r['parts']:>5}"
        )
    if args.sections:
        print()
        for section in reference.sections:
            print(
                f"{section.number:>6}  {section.id:<10} {section.title}  ({len(section.examples)} examples)"
            )
    return 0


def _chat(args: argparse.Namespace) -> int:
    from .chat import ChatBackendError

    if args.max_new_tokens < 1:
        raise UsageError(f"--max-new-tokens must be positive (got {args.max_new_tokens}).")
    check_connection_options(args)
    backend = connect(args)
    messages = [{"role": "user", "content": args.prompt}]
    if args.system:
        messages.insert(0, {"role": "system", "content": args.system})
    kwargs = {"max_new_tokens": args.max_new_tokens, "temperature": args.temperature}
    try:
        if args.stream:
            for piece in backend.stream(messages, **kwargs):
                print(piece, end="", flush=True)
            print()
        else:
            print(backend.chat(messages, **kwargs))
    except ChatBackendError as err:
        print(f"hf-reft: error: {err}", file=sys.stderr)
        return 1
    return 0


def _add_inspect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inspect",
        help="count the chapters, sections, worked examples and parts of a reference book",
        description="Read a reference book (OpenStax folder, *.collection.xml, Markdown file, or a named "
        "book such as chemistry-2e) and print what RefTool sees in it.",
    )
    p.add_argument("reference", help="book folder or file, or a named reference (chemistry-2e)")
    p.add_argument(
        "--data-dir",
        help="shared data folder for named references (default: $HF_REFT_DATA_DIR or ../shared/data)",
    )
    p.add_argument(
        "--budget",
        type=int,
        help="largest part, in characters (default 6000) or tokens with --tokenizer (default 1500)",
    )
    p.add_argument(
        "--tokenizer", help="count tokens with this model's tokenizer ('default' = the offline chat model)"
    )
    p.add_argument("--sections", action="store_true", help="also list every section")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    p.set_defaults(func=_inspect)


def _add_chat(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "chat",
        help="send one prompt to a chat backend (to check a model, URL or token)",
        description="Model choice: --model, else $HF_REFT_CHAT_MODEL, else the offline default. A URL is an "
        "OpenAI-compatible server; a Hub id uses Inference Providers when a token is set.",
    )
    p.add_argument("prompt")
    p.add_argument("--model", help="Hub id, local folder, or server URL (http://host:port/v1)")
    add_connection_options(p)
    p.add_argument("--system", help="a system message")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--stream", action="store_true", help="print the reply while it is generated")
    p.set_defaults(func=_chat)


#: Functions adding one ``reftool`` sub-command each, in help order.
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_inspect,
    _add_chat,
    *PIPELINE_SUBCOMMANDS,
]


#: What ``hf-reft reftool --help`` says first (the dispatcher builds the group from it and
#: :data:`SUBCOMMANDS`, see :func:`hf_reft.cli_arguments.add_command_group`).
DESCRIPTION = "RefTool: turn a reference book into validated Python tools and solve problems with them."
