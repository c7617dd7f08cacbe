"""The RefTool chemistry Space: settings, example problems, rendering, the solving service, the Gradio app.

* :mod:`~hf_reft.space.settings` — :class:`SpaceSettings` (what the owner allows, from env vars).
* :mod:`~hf_reft.space.examples` — the example problems shipped with the Space (SciBench, Chemistry 2e).
* :mod:`~hf_reft.space.render` — Markdown for the panels (:class:`SolveView`) and the toolbox tab.
* :mod:`~hf_reft.space.service` — :class:`SpaceService`: choices → backend, toolbox, solver stream.
* :mod:`~hf_reft.space.app` — :func:`build_app` / :func:`launch` (imports Gradio).
* :mod:`~hf_reft.space.deploy` — bundle the Space folder with a wheel and push it as a Space repo.
* :mod:`~hf_reft.space.cli` — ``hf-reft space run|deploy``.

Importing this package does not import Gradio; :mod:`hf_reft.space.app` does.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .examples import ExampleProblem, load_examples
    from .render import SolveView
    from .service import SpaceService
    from .settings import BUNDLED, SpaceSettings, SpaceSettingsError

__all__ = [
    "BUNDLED",
    "ExampleProblem",
    "SolveView",
    "SpaceService",
    "SpaceSettings",
    "SpaceSettingsError",
    "load_examples",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
