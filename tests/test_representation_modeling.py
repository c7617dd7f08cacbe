"""LoReFT wrappers on tiny random models: hooks fire exactly where they should, generation, training."""

from __future__ import annotations

import pytest
import torch
from transformers import (
    BertForSequenceClassification,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2ForCausalLM,
)

import hf_reft
from hf_reft.representation import ReftModelForCausalLM, ReftModelForSequenceClassification, find_layers

from tiny_models import tiny_config

EOS = 2
CAUSAL = {"llama": LlamaForCausalLM, "qwen2": Qwen2ForCausalLM, "gpt2": GPT2LMHeadModel}


def tiny_base(arch: str = "llama", seed: int = 0, **overrides):
    torch.manual_seed(seed)
    if arch == "bert":
        return BertForSequenceClassification(tiny_config("bert", num_labels=3, **overrides)).eval()
    return CAUSAL[arch](tiny_config(arch, **overrides)).eval()


def reft(base, seed: int = 1, **config):
    torch.manual_seed(seed)
    config.setdefault("layers", [0, 2])
    config.setdefault("positions", "f2+l2")
    return hf_reft.get_reft_model(base, hf_reft.ReftConfig(**config))


def examples(prompt_lens=(6, 2, 9), answer_lens=(3, 4, 1), seed=0):
    """Unpadded (prompt, answer) token lists."""
    gen = torch.Generator().manual_seed(seed)
    return [
        (torch.randint(3, 300, (p,), generator=gen), torch.randint(3, 300, (a,), generator=gen))
        for p, a in zip(prompt_lens, answer_lens, strict=True)
    ]


def pad_batch(pairs, side: str):
    """input_ids, attention_mask, labels (-100 on prompt and padding), position_ids for ``side`` padding."""
    seqs = [torch.cat([p, a]) for p, a in pairs]
    width = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    labels = torch.full_like(ids, -100)
    for i, ((prompt, _), seq) in enumerate(zip(pairs, seqs, strict=True)):
        start = 0 if side == "right" else width - len(seq)
        ids[i, start : start + len(seq)] = seq
        mask[i, start : start + len(seq)] = 1
        labels[i, start + len(prompt) : start + len(seq)] = seq[len(prompt) :]
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids, mask, labels, position_ids


def hand_positions(prompt_len: int, first: int, last: int) -> tuple[list[int], list[int]]:
    """Prefix and suffix token indices of an unpadded prompt, computed the obvious way."""
    prefix = list(range(min(first, prompt_len)))
    suffix = [t for t in range(max(prompt_len - last, 0), prompt_len) if t not in prefix]
    return prefix, suffix


def edits_for(model, prompt_len: int) -> dict[int, list[tuple[int, torch.nn.Module]]]:
    spec = model.position_spec
    prefix, suffix = hand_positions(prompt_len, spec.first, spec.last)
    edits = {}
    for index in model.layer_indices:
        group = model.interventions[f"layer_{index}"]
        pre = group["shared"] if "shared" in group else group["prefix"] if prefix else None
        suf = group["shared"] if "shared" in group else group["suffix"] if suffix else None
        edits[index] = [(t, pre) for t in prefix] + [(t, suf) for t in suffix]
    return edits


def llama_by_hand(model, ids: torch.Tensor, edits) -> torch.Tensor:
    """Run a Llama base layer by layer (no hooks, no padding) and apply Φ at the given positions."""
    llama = model.get_base_model()
    h = llama.model.embed_tokens(ids[None])
    positions = torch.arange(len(ids))[None]
    rotary = llama.model.rotary_emb(h, position_ids=positions)
    for index, layer in enumerate(llama.model.layers):
        h = layer(h, attention_mask=None, position_embeddings=rotary, position_ids=positions)
        for t, module in edits.get(index, []):
            h = h.clone()
            h[0, t] = module(h[0, t])
    return llama.lm_head(llama.model.norm(h))[0]


def hooked_by_hand(model, ids: torch.Tensor, edits) -> torch.Tensor:
    """Any architecture: the bare base on one unpadded example with test-local hooks applying Φ."""
    _, layers = find_layers(model.get_base_model())
    handles = []
    for index, todo in edits.items():

        def hook(module, args, output, todo=todo):
            h = (output[0] if isinstance(output, tuple) else output).clone()
            for t, phi in todo:
                h[0, t] = phi(h[0, t])
            return (h, *output[1:]) if isinstance(output, tuple) else h

        handles.append(layers[index].register_forward_hook(hook))
    try:
        return model.get_base_model()(input_ids=ids[None]).logits[0]
    finally:
        for handle in handles:
            handle.remove()


# ---------------------------------------------------------------------------- hooks fire where they should
@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("share", [False, True])
def test_llama_adapter_equals_hand_built_forward(side, share):
    model = reft(tiny_base("llama"), share_weights=share, positions="f2+l3")
    pairs = examples()  # prompt lengths 6, 2 (shorter than p + s) and 9
    ids, mask, labels, position_ids = pad_batch(pairs, side)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, labels=labels, position_ids=position_ids)
        base = model.get_base_model()(input_ids=ids, attention_mask=mask, position_ids=position_ids)
        for i, (prompt, answer) in enumerate(pairs):
            seq = torch.cat([prompt, answer])
            rows = mask[i].bool()
            expected = llama_by_hand(model, seq, edits_for(model, len(prompt)))
            assert torch.allclose(out.logits[i, rows], expected, atol=1e-5)
            plain = llama_by_hand(model, seq, {})
            assert torch.allclose(base.logits[i, rows], plain, atol=1e-5)
            assert not torch.allclose(expected, plain, atol=1e-3)
    assert out.loss is not None and torch.isfinite(out.loss)


@pytest.mark.parametrize("arch", ["qwen2", "gpt2"])
def test_other_causal_architectures_equal_hand_built_forward(arch):
    model = reft(tiny_base(arch), positions="f1+l2", layers=[1, 3])
    pairs = examples((5, 2), (2, 3))
    ids, mask, labels, position_ids = pad_batch(pairs, "left")
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, labels=labels, position_ids=position_ids)
        for i, (prompt, answer) in enumerate(pairs):
            seq = torch.cat([prompt, answer])
            expected = hooked_by_hand(model, seq, edits_for(model, len(prompt)))
            plain = hooked_by_hand(model, seq, {})
            assert torch.allclose(out.logits[i, mask[i].bool()], expected, atol=1e-5)
            assert not torch.allclose(expected, plain, atol=1e-3)


def test_bert_sequence_classification_equals_hand_built_forward():
    model = reft(tiny_base("bert"), positions="f1+l1", layers=[0, 3])
    assert isinstance(model, ReftModelForSequenceClassification)
    pairs = examples((5, 3, 7), (0, 0, 0))
    ids, mask, _, _ = pad_batch(pairs, "right")
    labels = torch.tensor([0, 2, 1])
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, labels=labels)
        for i, (prompt, _) in enumerate(pairs):
            expected = hooked_by_hand(model, prompt, edits_for(model, len(prompt)))
            assert torch.allclose(out.logits[i], expected, atol=1e-5)
            assert not torch.allclose(expected, hooked_by_hand(model, prompt, {}), atol=1e-4)
    assert out.loss is not None
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert {"model.classifier.weight", "model.classifier.bias"} <= trainable
    assert all(name.startswith(("interventions.", "model.classifier.")) for name in trainable)


def test_explicit_positions_and_prompt_lengths_match_labels():
    model = reft(tiny_base("llama"))
    ids, mask, labels, _ = pad_batch(examples(), "right")
    prompt_lengths = torch.tensor([6, 2, 9])
    with torch.no_grad():
        by_labels = model(input_ids=ids, attention_mask=mask, labels=labels).logits
        by_lengths = model(input_ids=ids, attention_mask=mask, prompt_lengths=prompt_lengths).logits
        explicit = model.positions_for(mask, labels=labels)
        by_positions = model(input_ids=ids, attention_mask=mask, intervention_positions=explicit).logits
    assert torch.equal(by_labels, by_lengths) and torch.equal(by_labels, by_positions)


def test_disable_interventions_gives_the_base():
    model = reft(tiny_base("llama"))
    ids, mask, labels, _ = pad_batch(examples(), "right")
    with torch.no_grad():
        base = model.get_base_model()(input_ids=ids, attention_mask=mask).logits
        with model.disable_interventions():
            off = model(input_ids=ids, attention_mask=mask, labels=labels).logits
        on = model(input_ids=ids, attention_mask=mask, labels=labels).logits
    assert torch.equal(off, base)
    assert not torch.allclose(on, base)


def test_component_submodule_and_hidden_states_pass_through():
    model = reft(tiny_base("llama"), component="mlp", layers=[1])
    ids, mask, labels, _ = pad_batch(examples(), "right")
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, labels=labels, output_hidden_states=True)
        base = model.get_base_model()(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    assert len(out.hidden_states) == len(base.hidden_states) == 5
    assert torch.equal(out.hidden_states[1], base.hidden_states[1])  # before layer 1
    assert not torch.allclose(out.hidden_states[-1], base.hidden_states[-1])
    with pytest.raises(ValueError, match=r"component 'nope' is not a sub-module of layer 0"):
        reft(tiny_base("llama"), component="nope")


def test_reference_interventions_swap_without_copying_the_base():
    model = reft(tiny_base("llama"))
    ids, mask, labels, _ = pad_batch(examples(), "right")
    reference = model.copy_interventions()
    n_params = len(list(model.parameters()))
    with torch.no_grad():
        before = model(input_ids=ids, attention_mask=mask, labels=labels).logits
        for p in model.interventions.parameters():
            p.add_(0.1 * torch.randn_like(p))
        after = model(input_ids=ids, attention_mask=mask, labels=labels).logits
        with model.use_interventions(reference):
            assert len(list(model.parameters())) == n_params
            swapped = model(input_ids=ids, attention_mask=mask, labels=labels).logits
    assert not torch.allclose(before, after)
    assert torch.equal(swapped, before)
    assert not any(p.requires_grad for p in reference.parameters())


def test_two_adapters_can_share_one_base():
    ids, mask, labels, _ = pad_batch(examples(), "right")
    a_alone = reft(tiny_base("llama"), seed=1)
    b_alone = reft(tiny_base("llama"), seed=2, intervention="consreft", positions="l3")
    shared = tiny_base("llama")
    a, b = reft(shared, seed=1), reft(shared, seed=2, intervention="consreft", positions="l3")
    with torch.no_grad():
        plain = shared(input_ids=ids, attention_mask=mask).logits
        for _ in range(2):  # in either order, each wrapper intervenes only in its own calls
            assert torch.equal(
                a(input_ids=ids, attention_mask=mask, labels=labels).logits,
                a_alone(input_ids=ids, attention_mask=mask, labels=labels).logits,
            )
            assert torch.equal(
                b(input_ids=ids, attention_mask=mask, labels=labels).logits,
                b_alone(input_ids=ids, attention_mask=mask, labels=labels).logits,
            )
            assert torch.equal(shared(input_ids=ids, attention_mask=mask).logits, plain)


def test_only_interventions_train_and_state_dict_holds_only_them():
    model = reft(tiny_base("llama"), intervention="noreft")
    ids, mask, labels, _ = pad_batch(examples(), "right")
    model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
    for name, param in model.named_parameters():
        assert (param.grad is not None) == name.startswith("interventions."), name
    keys = set(model.state_dict())
    assert keys == {name for name, _ in model.interventions.named_parameters(prefix="interventions")}


def test_every_intervention_gets_a_gradient_even_without_positions_in_the_batch():
    # prompts of 2 tokens with f2+l2: no suffix positions anywhere, yet the suffix interventions take part
    # (DistributedDataParallel needs a gradient for every trainable parameter on every rank)
    model = reft(tiny_base("llama"))
    ids, mask, labels, _ = pad_batch(examples((2, 2), (3, 4)), "right")
    assert (model.positions_for(mask, labels=labels)[:, 2:] == -1).all()
    model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
    suffix = model.interventions["layer_0"]["suffix"]
    assert all(p.grad is not None and not p.grad.any() for p in suffix.parameters())
    assert any(p.grad.any() for p in model.interventions["layer_0"]["prefix"].parameters())


def test_bf16_base_with_fp32_interventions():
    base = tiny_base("llama").to(torch.bfloat16)
    model = reft(base, intervention_dtype="float32")
    ids, mask, labels, _ = pad_batch(examples(), "right")
    out = model(input_ids=ids, attention_mask=mask, labels=labels)
    out.loss.backward()
    assert out.logits.dtype == torch.bfloat16
    grads = [p.grad for p in model.interventions.parameters()]
    assert all(g is not None and g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)
    with torch.no_grad(), model.disable_interventions():
        assert not torch.equal(model(input_ids=ids, attention_mask=mask).logits, out.logits.detach())


@pytest.mark.parametrize(
    ("component", "reentrant"), [("block_output", False), ("block_output", True), ("mlp", True)]
)
def test_gradient_checkpointing_gives_the_same_gradients(component, reentrant):
    ids, mask, labels, _ = pad_batch(examples(), "right")
    grads = []
    for checkpointing in (False, True):
        model = reft(tiny_base("llama"), component=component).train()
        if checkpointing:
            model.activation_checkpointing_enable(
                activation_checkpointing_kwargs={"use_reentrant": reentrant}
            )
            assert model.get_base_model().is_activation_checkpointing
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.interventions.named_parameters()})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        assert torch.allclose(grads[0][name], grads[1][name], atol=1e-6), name


# ---------------------------------------------------------------------------- generation
def greedy_by_hand(model, prompt: torch.Tensor, steps: int) -> list[int]:
    """Greedy decoding without a cache: a full intervened forward per token, prompt length fixed."""
    seq = prompt.clone()
    for _ in range(steps):
        with torch.no_grad():
            logits = model(input_ids=seq[None], prompt_lengths=torch.tensor([len(prompt)])).logits
        seq = torch.cat([seq, logits[0, -1].argmax()[None]])
    return seq[len(prompt) :].tolist()


def test_generate_intervenes_in_prefill_only_and_matches_full_recompute():
    model = reft(tiny_base("llama"), positions="f1+l2")
    pairs = examples((4, 7, 2), (0, 0, 0))
    ids, mask, _, _ = pad_batch(pairs, "left")
    calls = []
    handle = model.interventions["layer_0"]["prefix"].register_forward_hook(lambda *a: calls.append(1))
    out = model.generate(
        input_ids=ids, attention_mask=mask, max_new_tokens=6, min_new_tokens=6, do_sample=False
    )
    handle.remove()
    assert calls == [1]  # the prefill only; decode steps don't touch the interventions
    new = out[:, ids.shape[1] :]
    for i, (prompt, _) in enumerate(pairs):
        assert new[i].tolist() == greedy_by_hand(model, prompt, 6)
    with model.disable_interventions():
        plain = model.generate(
            input_ids=ids, attention_mask=mask, max_new_tokens=6, min_new_tokens=6, do_sample=False
        )
    assert torch.equal(
        plain,
        model.get_base_model().generate(
            input_ids=ids, attention_mask=mask, max_new_tokens=6, min_new_tokens=6, do_sample=False
        ),
    )
    assert not torch.equal(plain, out)


def test_beam_search_and_num_return_sequences_expand_positions():
    model = reft(tiny_base("llama"), positions="f2+l2", share_weights=True)
    pairs = examples((3, 8, 5), (0, 0, 0))
    ids, mask, _, _ = pad_batch(pairs, "left")
    beams = {"num_beams": 3, "num_return_sequences": 2, "do_sample": False}
    # top_k=1 sampling is greedy whatever the random state, so each copy must equal the greedy output
    copies = {"num_return_sequences": 2, "do_sample": True, "top_k": 1}
    for kwargs in (beams, copies):
        kwargs = {"max_new_tokens": 4, "min_new_tokens": 4, **kwargs}
        batch = model.generate(input_ids=ids, attention_mask=mask, **kwargs)
        assert batch.shape[0] == 6
        for i, (prompt, _) in enumerate(pairs):
            single = model.generate(input_ids=prompt[None], **kwargs)
            assert torch.equal(batch[2 * i : 2 * i + 2, -4:], single[:, -4:])


# ---------------------------------------------------------------------------- Trainer
def test_trainer_trains_checkpoints_and_reloads(tmp_path):
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    base_dir = tmp_path / "base"
    tiny_base("llama").save_pretrained(base_dir)
    base = LlamaForCausalLM.from_pretrained(base_dir)
    model = reft(base, layers=[1], positions="f1+l1")
    ids, mask, labels, _ = pad_batch(examples((4, 5, 6, 3), (3, 2, 1, 4)), "right")
    data = Dataset.from_dict(
        {
            "input_ids": ids.tolist(),
            "attention_mask": mask.tolist(),
            "labels": labels.tolist(),
            "unused": [0] * 4,
        }
    )
    args = TrainingArguments(
        output_dir=str(tmp_path / "run"),
        max_steps=2,
        per_device_train_batch_size=4,
        learning_rate=1e-2,
        save_steps=2,
        report_to=[],
        use_cpu=True,
        activation_checkpointing=True,
        logging_steps=1,
        disable_tqdm=True,
    )
    before = {k: v.clone() for k, v in model.state_dict().items()}
    Trainer(model=model, args=args, train_dataset=data).train()
    after = model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    checkpoint = tmp_path / "run" / "checkpoint-2"
    assert {"config.json", "model.safetensors", "README.md"} <= {p.name for p in checkpoint.iterdir()}
    reloaded = ReftModelForCausalLM.from_pretrained(checkpoint)
    model.eval()
    with torch.no_grad():
        a = model(input_ids=ids, attention_mask=mask, labels=labels).logits
        b = reloaded(input_ids=ids, attention_mask=mask, labels=labels).logits
    assert torch.allclose(a, b, atol=1e-6)


# ---------------------------------------------------------------------------- parameter counts
def test_llama_7b_parameter_count_matches_the_paper(capsys):
    with torch.device("meta"):
        base = LlamaForCausalLM(LlamaConfig())  # LLaMA-7B shape
    model = hf_reft.get_reft_model(
        base, hf_reft.ReftConfig(layers="all", positions="f7+l7", share_weights=True, rank=8)
    )
    trainable, total = model.get_nb_trainable_parameters()
    assert trainable == 2_097_408
    assert f"{100 * trainable / total:.3f}" == "0.031"
    assert all(p.device.type == "cpu" for p in model.interventions.parameters())
    model.print_trainable_parameters()
    assert "trainable params: 2,097,408" in capsys.readouterr().out
