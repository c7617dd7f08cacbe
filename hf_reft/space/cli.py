"""``hf-reft space ...``: run the RefTool chemistry demo locally, or deploy it as a Space.

* ``hf-reft space run`` — serve the page (default http://127.0.0.1:7860) and print its URL.
* ``hf-reft space deploy OWNER/NAME`` — bundle hf-reft as a wheel and push the Space folder.
* ``hf-reft space examples`` — write the Space's Chemistry 2e example exercises from the shared data.
"""

from __future__ import annotations

import argparse
import os

from ..cli_arguments import UsageError

__all__ = ["DESCRIPTION", "SUBCOMMANDS"]


def _settings(args: argparse.Namespace):
    from .settings import SpaceSettings, SpaceSettingsError

    if args.model:
        os.environ["HF_REFT_CHAT_MODEL"] = args.model
    if args.toolboxes is not None:
        os.environ["HF_REFT_SPACE_TOOLBOXES"] = args.toolboxes
    try:
        return SpaceSettings.from_env(args.space_dir)
    except SpaceSettingsError as err:
        raise UsageError(str(err)) from err


def _run(args: argparse.Namespace) -> int:
    if not 0 <= args.port < 65536:
        raise UsageError(f"--port must be between 0 and 65535 (got {args.port}).")
    try:
        import gradio  # noqa: F401
    except ImportError as err:
        raise UsageError('The demo needs Gradio: pip install "hf-reft[space]".') from err
    settings = _settings(args)
    from .app import serve

    try:
        serve(settings, host=args.host, port=args.port, warm=not args.no_warm)
    except OSError as err:
        raise UsageError(f"Cannot serve on {args.host}:{args.port}: {err}. Pick another --port.") from err
    return 0


def _deploy(args: argparse.Namespace) -> int:
    from .deploy import DeployError, deploy_space
    from .settings import default_space_dir, is_hub_id

    if not is_hub_id(args.repo_id):
        raise UsageError(
            f"Name the Space as owner/name, e.g. my-user/reftool-chemistry (got {args.repo_id!r})."
        )
    space_dir = args.space_dir or default_space_dir()
    try:
        result = deploy_space(
            args.repo_id,
            space_dir=space_dir,
            wheel=args.wheel,
            token=args.token,
            private=args.private or None,
            commit_message=args.message,
        )
    except DeployError as err:
        raise UsageError(str(err)) from err
    print(f"Deployed {space_dir} to {result.url} (commit {result.commit[:12]}).")
    if result.wheel_url:
        print(f"hf-reft is installed from {result.wheel_url}")
    else:
        print(f"hf-reft is installed at start-up from the bundled wheels/{result.wheel} (private Space).")
    return 0


def _examples(args: argparse.Namespace) -> int:
    from .examples import BOOK_EXAMPLES_FILE, read_book_examples, write_book_examples
    from .settings import SpaceSettingsError, default_space_dir

    if args.count < 1:
        raise UsageError(f"--count must be at least 1 (got {args.count}).")
    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        raise UsageError(f"--data-dir {args.data_dir} is not a folder; point it at the shared data folder.")
    try:
        space_dir = args.space_dir or default_space_dir()
    except SpaceSettingsError as err:
        raise UsageError(str(err)) from err
    examples_dir = os.path.join(space_dir, "examples")
    try:
        written = write_book_examples(examples_dir, args.data_dir, count=args.count, seed=args.seed)
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(str(err)) from err
    for path in written:
        print(f"Wrote {path}")
    for path in written:
        if path.name == BOOK_EXAMPLES_FILE:
            for e in read_book_examples(path):
                print(f"  {e.source_id}  ex. {e.problem_id}: {e.answer} {e.unit}".rstrip())
    return 0


def _add_run(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser(
        "run",
        help="serve the demo page and print its local URL",
        description="Serve the RefTool chemistry demo. Settings come from the environment "
        "(HF_REFT_CHAT_MODEL, HF_TOKEN, HF_REFT_SPACE_TOOLBOXES, ...; see hf_reft/space/settings.py).",
    )
    run.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for all)")
    run.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)),
        help="port (default 7860)",
    )
    run.add_argument(
        "--space-dir", help="the Space folder (default: spaces/reftool-chemistry of the checkout)"
    )
    run.add_argument("--model", help="default chat model: Hub id, local folder or OpenAI-compatible URL")
    run.add_argument("--toolboxes", help="toolbox allowlist, e.g. 'my-org/*,someone/chem-toolbox'")
    run.add_argument("--no-warm", action="store_true", help="do not load the default model before serving")
    run.set_defaults(func=_run)


def _add_deploy(sub: argparse._SubParsersAction) -> None:
    deploy = sub.add_parser(
        "deploy",
        help="push the Space folder (with a bundled hf-reft wheel) as a Hugging Face Space",
        description="Build hf-reft's wheel, upload it to the Space repo, then push the Space folder with "
        "requirements.txt pinned to that wheel's commit.",
    )
    deploy.add_argument("repo_id", help="the Space, owner/name")
    deploy.add_argument("--space-dir", help="the Space folder (default: spaces/reftool-chemistry)")
    deploy.add_argument("--wheel", help="a prebuilt hf-reft wheel (default: built from this checkout)")
    deploy.add_argument("--private", action="store_true", help="create the Space private")
    deploy.add_argument("--token", help="Hugging Face token (default: the logged-in one)")
    deploy.add_argument("--message", help="commit message")
    deploy.set_defaults(func=_deploy)


def _add_examples(sub: argparse._SubParsersAction) -> None:
    from .examples import BOOK_EXAMPLE_COUNT, BOOK_EXAMPLE_SEED, BOOK_EXAMPLES_FILE, BOOK_LICENSE_FILE

    examples = sub.add_parser(
        "examples",
        help=f"write the Space's Chemistry 2e example exercises (examples/{BOOK_EXAMPLES_FILE})",
        description=f"Pick end-of-chapter exercises of OpenStax Chemistry 2e (never one of the evaluation "
        f"subset, load_book_exercises(limit=100, seed=0)) with a fixed seed, and write them to the Space's "
        f"examples/{BOOK_EXAMPLES_FILE} with their licence notice, examples/{BOOK_LICENSE_FILE}. "
        "The same data gives the same files.",
    )
    examples.add_argument(
        "--data-dir", help="the shared data folder (default: $HF_REFT_DATA_DIR or ../shared/data)"
    )
    examples.add_argument("--space-dir", help="the Space folder (default: spaces/reftool-chemistry)")
    examples.add_argument(
        "--count", type=int, default=BOOK_EXAMPLE_COUNT, help=f"exercises (default {BOOK_EXAMPLE_COUNT})"
    )
    examples.add_argument(
        "--seed", type=int, default=BOOK_EXAMPLE_SEED, help=f"seed of the draw (default {BOOK_EXAMPLE_SEED})"
    )
    examples.set_defaults(func=_examples)


#: Functions adding one ``space`` command each, in help order.
SUBCOMMANDS = [_add_run, _add_deploy, _add_examples]


#: What ``hf-reft space --help`` says first (the dispatcher builds the group from it and
#: :data:`SUBCOMMANDS`, see :func:`hf_reft.cli_arguments.add_command_group`).
DESCRIPTION = "The RefTool chemistry demo (a Gradio Space): run it locally or deploy it to the Hub."
