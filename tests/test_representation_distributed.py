"""LoReFT training with two processes: ``torchrun --nproc_per_node 2`` on CPU (gloo), each rank on its own shard.

The test starts torchrun on this very file; the ``__main__`` block is the worker each rank runs.
The same training is then run in one process on the combined batches and the adapters compared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PER_DEVICE_BATCH = 2
STEPS = 4


def _train(base_dir: str, out_dir: str, per_device_batch: int) -> dict:
    """Train a tiny LoReFT adapter in sequential data order; return what this rank saw and ended with."""
    import torch
    from datasets import Dataset
    from safetensors.torch import save_file
    from torch.utils.data import SequentialSampler
    from transformers import AutoModelForCausalLM, TrainingArguments

    import hf_reft
    from hf_reft.data import SupervisedCollator, prepare_supervised_dataset
    from hf_reft.representation.trainer import ReftTrainer

    sys.path.insert(0, str(HERE))
    from tiny_models import make_tokenizer

    class SequentialReftTrainer(ReftTrainer):
        def _get_train_sampler(self, train_dataset=None):
            return SequentialSampler(train_dataset or self.train_dataset)

    torch.set_num_threads(1)
    tokenizer = make_tokenizer()
    rows = [
        {"prompt": f"Question: {a} and {b}?", "response": f"{a} + {b} = {a + b}."}
        for a in range(4)
        for b in range(4)
    ]
    dataset = prepare_supervised_dataset(Dataset.from_list(rows), tokenizer, max_length=48)
    dataset = dataset.add_column("idx", list(range(len(dataset))))
    seen: list[int] = []
    padding = SupervisedCollator.for_tokenizer(tokenizer, return_prompt_lengths=True)

    def collate(features):
        seen.extend(int(f["idx"]) for f in features)
        return padding([{k: v for k, v in f.items() if k != "idx"} for f in features])

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    model = hf_reft.get_reft_model(base, hf_reft.ReftConfig(layers=[1, 3], positions="f2+l2", rank=4))
    args = TrainingArguments(
        output_dir=os.path.join(out_dir, "run"),
        ddp_backend="gloo" if "WORLD_SIZE" in os.environ else None,
        use_cpu=True,
        per_device_train_batch_size=per_device_batch,
        max_steps=STEPS,
        learning_rate=1e-2,
        report_to="none",
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_pin_memory=False,
        seed=0,
    )
    trainer = SequentialReftTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tokenizer, data_collator=collate
    )
    trainer.train()
    rank, world_size = args.process_index, args.world_size
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, os.path.join(out_dir, f"weights-rank{rank}-of{world_size}.safetensors"))
    trainer.save_model(os.path.join(out_dir, f"adapter-{world_size}"))
    info = {"rank": rank, "world_size": world_size, "seen": seen, "steps": trainer.state.global_step}
    Path(out_dir, f"info-rank{rank}-of{world_size}.json").write_text(json.dumps(info))
    return info


@pytest.mark.distributed
def test_two_processes_train_the_same_adapter_as_one_on_combined_batches(tmp_path):
    import torch
    from safetensors.torch import load_file
    from transformers import LlamaForCausalLM

    import hf_reft

    from tiny_models import tiny_config

    base_dir = tmp_path / "base"
    torch.manual_seed(0)
    LlamaForCausalLM(tiny_config("llama")).save_pretrained(base_dir)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE)}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        str(Path(__file__).resolve()), str(base_dir), str(tmp_path),
    ]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    infos = [json.loads((tmp_path / f"info-rank{r}-of2.json").read_text()) for r in range(2)]
    assert [info["world_size"] for info in infos] == [2, 2]
    assert all(info["steps"] == STEPS for info in infos)
    shards = [set(info["seen"]) for info in infos]
    assert len(shards[0]) == len(shards[1]) == STEPS * PER_DEVICE_BATCH
    assert not shards[0] & shards[1]  # each rank trained on its own examples

    rank0 = load_file(str(tmp_path / "weights-rank0-of2.safetensors"))
    rank1 = load_file(str(tmp_path / "weights-rank1-of2.safetensors"))
    assert set(rank0) == set(rank1)
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key  # DDP kept the ranks identical

    single_dir = tmp_path / "single"
    single_dir.mkdir()
    single = _train(str(base_dir), str(single_dir), 2 * PER_DEVICE_BATCH)  # one process, combined batches
    assert single["world_size"] == 1
    assert set(single["seen"]) == shards[0] | shards[1]
    alone = load_file(str(single_dir / "weights-rank0-of1.safetensors"))
    torch.manual_seed(0)  # the initialisation both runs started from
    initial = hf_reft.get_reft_model(
        LlamaForCausalLM.from_pretrained(base_dir),
        hf_reft.ReftConfig(layers=[1, 3], positions="f2+l2", rank=4),
    ).state_dict()
    assert any((rank0[k] - initial[k]).abs().max() > 1e-3 for k in rank0)  # it trained
    for key in rank0:
        assert torch.allclose(rank0[key], alone[key], atol=1e-5, rtol=0), key

    loaded = hf_reft.ReftModelForCausalLM.from_pretrained(tmp_path / "adapter-2")
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, rank0[key]), key


if __name__ == "__main__":
    _train(sys.argv[1], sys.argv[2], PER_DEVICE_BATCH)
    import torch.distributed

    if torch.distributed.is_initialized():  # a rank that exits with gloo's threads alive can abort
        torch.distributed.destroy_process_group()
