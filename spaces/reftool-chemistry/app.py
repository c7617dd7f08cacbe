"""RefTool chemistry — the Hugging Face Space (and the same file run locally).

The page is built by ``hf_reft.space.app``; this file only makes sure hf-reft is importable and
serves it. On a Space, ``requirements.txt`` installs hf-reft from the wheel bundled in ``wheels/``
(pinned by ``hf-reft space deploy``); a private Space installs that wheel here at start-up. In the
source checkout, the package next to this folder is used.
"""

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _ensure_hf_reft() -> None:
    try:
        import hf_reft  # noqa: F401

        return
    except ImportError:
        pass
    wheels = sorted((HERE / "wheels").glob("hf_reft-*.whl"))
    if wheels:  # a private Space: its build could not download the pinned wheel
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-deps", "-q", str(wheels[-1])], check=True
        )
        return
    checkout = HERE.parents[1]
    if (checkout / "hf_reft" / "__init__.py").is_file():
        sys.path.insert(0, str(checkout))
        return
    sys.exit(
        "hf-reft is not installed: run `make demo` in the hf-reft checkout, or pip install -r requirements.txt."
    )


_ensure_hf_reft()

from hf_reft.space.app import serve  # noqa: E402
from hf_reft.space.settings import SpaceSettings  # noqa: E402

if __name__ == "__main__":
    serve(
        SpaceSettings.from_env(HERE),
        host=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1"),
        port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    )
