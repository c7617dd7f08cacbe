"""The package imports lazily: ``import hf_reft``, ``hf_reft.answers`` and ``hf-reft --version/--help``
load no torch, while ``import hf_reft`` still lets the Auto classes load a LoReFT adapter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(HERE)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


HEAVY = "sorted(m for m in ('torch', 'transformers', 'datasets', 'gradio', 'huggingface_hub') if m in sys.modules)"


@pytest.mark.parametrize(
    "statement",
    [
        "import hf_reft",
        "import hf_reft.answers",
        "from hf_reft import __version__",
        "import hf_reft.sandbox",
    ],
)
def test_light_imports_load_no_torch(statement):
    assert json.loads(_python(f"import sys, json\n{statement}\nprint(json.dumps({HEAVY}))")) == []


@pytest.mark.parametrize("argv", [["--version"], ["--help"]])
def test_version_and_help_load_no_torch(argv):
    code = (
        "import sys, json, contextlib, io\nfrom hf_reft.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n    main({argv!r})\n"
        f"print(json.dumps([{HEAVY}, out.getvalue()]))"
    )
    loaded, printed = json.loads(_python(code))
    assert "torch" not in loaded and "transformers" not in loaded, loaded
    assert "hf-reft" in printed


def test_lazy_names_resolve_and_unknown_ones_raise():
    import hf_reft
    import hf_reft.representation
    from hf_reft.representation.trainer import ReftTrainer

    assert hf_reft.representation.ReftTrainer is ReftTrainer
    assert hf_reft.ReftConfig is hf_reft.representation.ReftConfig
    assert {"ReftConfig", "Toolbox", "get_reft_model"} <= set(dir(hf_reft))
    for name in hf_reft.__all__:
        assert getattr(hf_reft, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        hf_reft.NoSuchThing  # noqa: B018
    with pytest.raises(ImportError):
        from hf_reft import NoSuchThing  # noqa: F401


@pytest.mark.parametrize("order", ["hf_reft first", "transformers first"])
def test_import_hf_reft_lets_auto_classes_load_an_adapter(tmp_path, order):
    import torch
    from transformers import LlamaForCausalLM

    import hf_reft

    from tiny_models import tiny_config

    torch.manual_seed(0)
    base = LlamaForCausalLM(tiny_config("llama"))
    base.save_pretrained(tmp_path / "base")
    adapter = hf_reft.get_reft_model(
        LlamaForCausalLM.from_pretrained(tmp_path / "base"),
        hf_reft.ReftConfig(layers=[1], positions="l1", rank=2),
    )
    adapter.config.base_model_name_or_path = str(tmp_path / "base")
    adapter.save_pretrained(tmp_path / "adapter")
    imports = (
        "import hf_reft\nfrom transformers import AutoConfig, AutoModelForCausalLM"
        if order == "hf_reft first"
        else "from transformers import AutoConfig, AutoModelForCausalLM\nimport hf_reft"
    )
    code = (
        f"{imports}\nmodel = AutoModelForCausalLM.from_pretrained({str(tmp_path / 'adapter')!r})\n"
        f"config = AutoConfig.from_pretrained({str(tmp_path / 'adapter')!r})\n"
        "print(type(model).__name__, type(config).__name__)"
    )
    assert _python(code) == "ReftModelForCausalLM ReftConfig"


def test_lorefts_warm_up_trains_with_reft_trainer():
    from transformers import LlamaForCausalLM, Trainer

    import hf_reft
    from hf_reft.reinforced.sft import _trainer_class

    from tiny_models import tiny_config

    base = LlamaForCausalLM(tiny_config("llama"))
    assert _trainer_class(base) is Trainer
    adapter = hf_reft.get_reft_model(base, hf_reft.ReftConfig(layers=[1], positions="l1", rank=2))
    assert _trainer_class(adapter) is hf_reft.representation.ReftTrainer


@pytest.mark.parametrize(
    ("old", "new", "name"),
    [
        ("hf_reft.reinforced.generation", "hf_reft.generation", "TransformersGenerator"),
        ("hf_reft.reftool.reference", "hf_reft.reftool.books", "Reference"),
    ],
)
def test_moved_modules_keep_their_old_path_with_a_warning(old, new, name):
    import importlib

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)


def test_load_named_dataset_is_load_data_with_a_warning(tmp_path):
    from hf_reft.data import load_named_dataset

    (tmp_path / "q.jsonl").write_text('{"question": "q", "answer_value": 1}\n')
    with pytest.warns(DeprecationWarning, match="load_data"):
        dataset, spec = load_named_dataset(str(tmp_path / "q.jsonl"))
    assert spec is None and dataset["question"] == ["q"]
