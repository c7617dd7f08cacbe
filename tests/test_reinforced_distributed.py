"""PPO with two processes: ``torchrun --nproc_per_node 2`` on CPU (gloo), each rank on its own questions.

The test starts torchrun on this very file; the ``__main__`` block is the worker each rank runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _worker(out_dir: str) -> None:
    import torch
    from datasets import Dataset
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM

    from hf_reft.reinforced.configuration import ReinforcedConfig
    from hf_reft.reinforced.trainer import ReinforcedTrainer

    sys.path.insert(0, str(HERE))
    from tiny_models import make_tokenizer, tiny_config

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(tiny_config("llama"))
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    seen: list[list[str]] = []

    def reward(prompts, completions, completion_ids, **columns):
        seen.append(sorted(set(prompts)))
        return [1.0 if ids[0] % 2 == 0 else 0.0 for ids in completion_ids]

    args = ReinforcedConfig(
        output_dir=os.path.join(out_dir, "run"),
        ddp_backend="gloo",
        use_cpu=True,
        per_device_train_batch_size=2,
        samples_per_question=2,
        num_mini_batches=2,
        max_new_tokens=3,
        max_steps=3,
        learning_rate=1e-2,
        kl_coef=0.01,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        seed=0,
    )
    dataset = Dataset.from_dict({"prompt": [f"Question: {i}" for i in range(16)]})
    trainer = ReinforcedTrainer(
        model, args, train_dataset=dataset, processing_class=make_tokenizer(), reward_funcs=reward
    )
    trainer.train()
    rank = trainer.accelerator.process_index
    state = {
        k: v.detach().contiguous()
        for k, v in trainer.accelerator.unwrap_model(trainer.model).state_dict().items()
    }
    save_file(state, os.path.join(out_dir, f"rank{rank}.safetensors"))
    report = {
        "world_size": torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1,
        "backend": torch.distributed.get_backend() if torch.distributed.is_initialized() else None,
        "num_processes": trainer.accelerator.num_processes,
        "prompts": seen,
        "moved": any(not torch.equal(initial[k], v) for k, v in trainer.model.policy.state_dict().items()),
        "logged": [h for h in trainer.state.log_history if "reward" in h],
    }
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps(report))


@pytest.mark.distributed
def test_two_process_ppo_keeps_ranks_in_sync(tmp_path):
    import torch
    from safetensors.torch import load_file

    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    )
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--standalone",
        str(Path(__file__)),
        str(tmp_path),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]

    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert [r["world_size"] for r in reports] == [2, 2], reports
    assert [r["num_processes"] for r in reports] == [2, 2] and reports[0]["backend"] == "gloo"
    # each rank sampled its own questions at every step
    for step_0, step_1 in zip(reports[0]["prompts"], reports[1]["prompts"], strict=True):
        assert len(step_0) == len(step_1) == 2 and not set(step_0) & set(step_1)
    assert len(reports[0]["prompts"]) == 3
    # training moved the weights, identically on both ranks (value head included)
    assert reports[0]["moved"] and reports[1]["moved"]
    weights = [load_file(str(tmp_path / f"rank{r}.safetensors")) for r in range(2)]
    assert weights[0].keys() == weights[1].keys() and any(k.startswith("value_head.") for k in weights[0])
    for key, value in weights[0].items():
        assert torch.equal(value, weights[1][key]), key
    # metrics are reduced over ranks: both logged the same values
    assert reports[0]["logged"] == reports[1]["logged"]


if __name__ == "__main__":
    _worker(sys.argv[1])
    import torch.distributed

    if torch.distributed.is_initialized():  # a rank that exits with gloo's threads alive can abort
        torch.distributed.destroy_process_group()
