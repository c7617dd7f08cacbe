"""LoReFT models: a frozen Hugging Face base plus interventions applied by forward hooks.

``ReftModelForCausalLM`` and ``ReftModelForSequenceClassification`` are ``PreTrainedModel``\\ s
that hold the frozen base as ``self.model`` and the trainable interventions as
``self.interventions`` (an ``nn.ModuleDict`` with one entry per intervened layer, each holding a
``"prefix"`` and/or ``"suffix"`` intervention, or one ``"shared"`` one).

How an intervened forward works:

1. The wrapper's ``forward`` (or ``generate``) computes every example's positions
   (:mod:`~hf_reft.representation.positions`) and stores them as the current *pass*.
2. A forward pre-hook on the base counts the base's forward calls in the pass; the layer hooks
   act only on the first call — the training forward, or the *prefill* of ``generate``. Decode
   steps (the second call onwards) cost one attribute check per hooked layer.
3. One forward hook per intervened layer gathers the hidden states at the pass's positions,
   applies Φ in the interventions' dtype, and writes the results back out of place.

Only the interventions (and a classification head) are in ``state_dict()`` and on disk. Several
wrappers may share one base (e.g. a policy and a reference adapter): each intervenes only in its
own forward calls, and the bare base called directly is unchanged.

This module is long (about 780 lines) because it is one thing: the wrapper family's shared base
class and its two task heads, with the saving, loading and export rules every ``PreTrainedModel``
must get right; the pieces that stand alone live beside it (``positions.py``, ``hooks.py``,
``saving.py``, ``interventions.py``).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import os
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import ModelCard
from torch import nn
from torch.nn.modules.module import _IncompatibleKeys
from transformers import (
    PreTrainedModel,
)

from .. import hub
from ..models import OFFLINE_DEFAULT_COPY, offline_copy_of
from .configuration import BASE_MODEL_DTYPES, ReftConfig
from .hooks import InterventionPass, cache_length, intervene, is_exporting
from .interventions import build_intervention
from .layer_discovery import find_layers, hidden_size_of
from .positions import (
    PositionSpec,
    compute_positions,
    prompt_lengths_from_labels,
    reject_packed_batch,
    validate_positions,
)
from .saving import (
    ADAPTER_WEIGHTS_NAME,
    AUTO_ONLY_KWARGS,
    check_portable_base,
    load_base_model,
    read_adapter_tensors,
    render_adapter_card,
)

__all__ = [
    "ReftModelForCausalLM",
    "ReftModelForSequenceClassification",
    "ReftPreTrainedModel",
    "get_reft_model",
]


class ReftPreTrainedModel(PreTrainedModel):
    """Common base of the LoReFT wrappers: hooks, positions, saving and loading.

    Args:
        config: the adapter's :class:`~hf_reft.ReftConfig`.
        base_model: the model to wrap (frozen in place). ``None``: load it from
            ``config.base_model_name_or_path``.
    """

    config_class = ReftConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _task = "causal_lm"
    _labels_mark_prompt = True  # token labels: -100 marks the prompt

    def __init__(self, config: ReftConfig, base_model: PreTrainedModel | None = None) -> None:
        config = copy.deepcopy(config)
        self._check_task(config)
        super().__init__(config)
        self.post_init()  # before the base is attached: nothing of the base is re-initialised
        if base_model is None:
            base_model = load_base_model(config)
        _check_is_pretrained_model(base_model)
        self._check_base(base_model)
        self._fill_config_from_base(base_model)
        self.model = base_model
        self.model.requires_grad_(False)
        self._spec = config.position_spec
        self._layers_path, layer_list = find_layers(base_model, config.layers_module)
        self.layer_indices = self._resolve_layers(len(layer_list))
        self.interventions = self._build_interventions(layer_list)
        self.__dict__["_active"] = self.interventions  # not registered: swapping must not add parameters
        self._enabled = True
        self._pass: InterventionPass | None = None
        #: Markdown appended to the card on save, e.g. evaluation results.
        self.card_extra: str | None = None
        self._hooks = [
            self.register_forward_pre_hook(self._arm_call, with_kwargs=True),
            self.register_forward_hook(self._disarm_call, always_call=True),
            self.base_model.register_forward_pre_hook(self._count_base_call),
        ]
        for index in self.layer_indices:
            target = self._hook_target(layer_list[index], index)
            self._hooks.append(
                target.register_forward_hook(functools.partial(self._layer_hook, f"layer_{index}"))
            )
        for module in self.head_modules().values():
            module.requires_grad_(True)
        if getattr(base_model, "hf_device_map", None) is not None:
            self.hf_device_map = base_model.hf_device_map
        if getattr(base_model, "generation_config", None) is not None:
            self.generation_config = base_model.generation_config
        self.config.architectures = [type(self).__name__]

    # ------------------------------------------------------------------ construction
    @classmethod
    def _check_task(cls, config: ReftConfig) -> None:
        """Refuse an adapter of another task, naming the classes that load it."""
        if config.task == cls._task:
            return
        task = config.task
        auto = {
            "causal_lm": "AutoModelForCausalLM",
            "sequence_classification": "AutoModelForSequenceClassification",
        }.get(task, task)
        wrapper = _WRAPPERS[task].__name__ if task in _WRAPPERS else task
        raise ValueError(
            f"This adapter is a {task} adapter and can't be loaded as {cls.__name__}; load it with "
            f"{auto} or {wrapper}."
        )

    def _check_base(self, base: PreTrainedModel) -> None:
        width = hidden_size_of(base)
        if self.config.hidden_size is not None and self.config.hidden_size != width:
            raise ValueError(
                f"This adapter was built for hidden size {self.config.hidden_size}, but the base model "
                f"{base.name_or_path or type(base).__name__!r} has hidden size {width}. Load it on the base it "
                f"was trained on ({self.config.base_model_name_or_path!r}) or train a new adapter for this base."
            )
        if self.config.rank >= width:
            raise ValueError(
                f"rank {self.config.rank} must be smaller than the base's hidden size {width}; choose a smaller rank."
            )

    def _fill_config_from_base(self, base: PreTrainedModel) -> None:
        config = self.config
        config.hidden_size = hidden_size_of(base)
        if config.base_model_name_or_path is None and base.name_or_path:
            name = str(base.name_or_path)
            if (hub_id := offline_copy_of(name)) is not None:  # portable: names the Hub model it copies
                config.base_model_name_or_path, config.base_model_copy = hub_id, OFFLINE_DEFAULT_COPY
            else:
                config.base_model_name_or_path = str(Path(name).resolve()) if Path(name).is_dir() else name
        if (
            config.base_model_name_or_path
            and config.base_model_revision is None
            and not config.base_model_copy
        ):
            config.base_model_revision = hub.pinned_revision(config.base_model_name_or_path)
        kwargs = dict(config.base_model_kwargs)
        dtype = getattr(base, "dtype", None)
        name = str(dtype).removeprefix("torch.")
        if isinstance(dtype, torch.dtype) and "dtype" not in kwargs and name in BASE_MODEL_DTYPES:
            kwargs["dtype"] = name
        config.base_model_kwargs = kwargs

    def _resolve_layers(self, n_layers: int) -> list[int]:
        layers = self.config.layers
        if layers == "all":
            return list(range(n_layers))
        bad = [layer for layer in layers if layer >= n_layers]
        if bad:
            raise ValueError(
                f"Layer index {bad[0]} is out of range: {type(self.model).__name__} has {n_layers} layers "
                f"(0-{n_layers - 1}). Choose layers in that range or 'all'."
            )
        return sorted(layers)

    def _build_interventions(self, layer_list: nn.ModuleList) -> nn.ModuleDict:
        config, spec = self.config, self._spec
        if config.share_weights:
            names = ["shared"]
        else:
            names = (["prefix"] if spec.first else []) + (["suffix"] if spec.last else [])
        interventions = nn.ModuleDict()
        for index in self.layer_indices:
            device = _module_device(layer_list[index])
            interventions[f"layer_{index}"] = nn.ModuleDict(
                {
                    name: build_intervention(
                        config.intervention,
                        config.hidden_size,
                        config.rank,
                        dropout=config.dropout,
                        activation=config.activation,
                        dtype=config.torch_intervention_dtype,
                        device=device,
                    )
                    for name in names
                }
            )
        return interventions

    def _hook_target(self, layer: nn.Module, index: int) -> nn.Module:
        component = self.config.component
        if component == "block_output":
            return layer
        try:
            return layer.get_submodule(component)
        except AttributeError:
            children = [name for name, _ in layer.named_children()]
            raise ValueError(
                f"component {component!r} is not a sub-module of layer {index} ({type(layer).__name__}); use "
                f"'block_output' or one of its sub-modules: {children}."
            ) from None

    def head_modules(self) -> dict[str, nn.Module]:
        """Trainable base modules besides the interventions (a classification head), by path."""
        return {}

    # ------------------------------------------------------------------ base model
    @property
    def base_model(self) -> nn.Module:
        """The wrapped model's body (transformers' meaning: e.g. the ``LlamaModel`` of a
        ``LlamaForCausalLM``); :meth:`get_base_model` is the whole wrapped model. Before a model is
        attached (inside ``PreTrainedModel.__init__``) it is the wrapper itself, as transformers has it
        for a model without a body."""
        wrapped = self._modules.get("model")
        return wrapped.base_model if wrapped is not None else self

    def get_base_model(self) -> PreTrainedModel:
        """The wrapped model, head included (peft's meaning). Called directly it runs without the
        interventions: their hooks sit on its layers but only the wrapper's calls arm them."""
        return self.model

    # ------------------------------------------------------------------ hooks
    def _arm_call(self, module: nn.Module, args: tuple, kwargs: dict[str, Any]) -> None:
        """Arm the pass from the call's own arguments, before any ``forward`` runs.

        :meth:`forward` arms it too; this hook covers a ``forward`` replaced on the instance (TRL's
        ``SFTTrainer`` swaps in a fused LM head that runs :attr:`base_model` and the head itself, so
        the wrapper's ``forward`` never runs, while the call still carries ``labels``).
        """
        base_kwargs = {k: v for k, v in kwargs.items() if k not in _PASS_ARGUMENTS}
        self._start_pass(
            args[0] if args else kwargs.get("input_ids"),
            kwargs.get("attention_mask"),
            base_kwargs,
            labels=kwargs.get("labels"),
            prompt_lengths=kwargs.get("prompt_lengths"),
            intervention_positions=kwargs.get("intervention_positions"),
        )

    def _disarm_call(self, module: nn.Module, args: tuple, output: Any) -> None:
        self._end_pass()

    def _count_base_call(self, module: nn.Module, args: tuple) -> None:
        if self._pass is not None:
            self._pass.calls += 1

    def _layer_hook(self, key: str, module: nn.Module, args: tuple, output: Any) -> Any:
        state = self._pass
        if state is None or state.calls != 1 or not self._enabled:
            return None  # no pass, a decode step, or interventions switched off: nothing to do
        return intervene(output, state, self._active[key], key)

    def _start_pass(
        self,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        base_kwargs: dict[str, Any],
        *,
        labels: torch.Tensor | None = None,
        prompt_lengths: torch.Tensor | None = None,
        intervention_positions: torch.Tensor | None = None,
    ) -> None:
        """Compute this batch's positions and arm the hooks for the next base forward call.

        Args:
            input_ids, attention_mask: ``[batch, seq]`` inputs of the base call.
            base_kwargs: the base call's other arguments: ``inputs_embeds`` ``[batch, seq, hidden]``
                stands in for ``input_ids``; a non-empty KV cache means a decode step (no pass).
            labels, prompt_lengths, intervention_positions: as in :meth:`forward`.
        """
        if is_exporting():
            raise RuntimeError(
                "A LoReFT model can't be traced or exported (torch.export, ONNX, TorchScript): its interventions "
                "are forward hooks at prompt-dependent positions, which export engines don't run. Serve it with "
                "hf-reft / transformers, or export the base model alone (model.get_base_model())."
            )
        self._pass = None
        if not self._enabled or cache_length(base_kwargs) > 0:
            return
        reject_packed_batch({**base_kwargs, "attention_mask": attention_mask})
        reference = input_ids if input_ids is not None else base_kwargs.get("inputs_embeds")
        if reference is None:
            raise ValueError("Pass input_ids (or inputs_embeds).")
        batch, seq = reference.shape[0], reference.shape[1]
        device = reference.device
        if attention_mask is not None and tuple(attention_mask.shape) != (batch, seq):
            raise ValueError(
                f"attention_mask has shape {tuple(attention_mask.shape)} but the input is {(batch, seq)}; "
                "give one mask entry per token."
            )
        if intervention_positions is not None:
            positions = validate_positions(intervention_positions, self._spec, batch, seq).to(device)
        else:
            if prompt_lengths is None and labels is not None and self._labels_mark_prompt:
                if tuple(labels.shape) != (batch, seq):
                    raise ValueError(
                        f"labels has shape {tuple(labels.shape)} but the input is {(batch, seq)}; token labels "
                        "must match input_ids (-100 on prompt and padding)."
                    )
                prompt_lengths = prompt_lengths_from_labels(labels, attention_mask)
                tokens = (
                    (attention_mask != 0).sum(1)
                    if attention_mask is not None
                    else torch.full_like(prompt_lengths, seq)
                )
                empty = ((prompt_lengths == 0) & (tokens > 0)).nonzero().flatten().tolist()
                if empty:
                    raise ValueError(
                        f"Example(s) {empty} have no prompt tokens: their first token already has a label. "
                        "LoReFT intervenes on the prompt, which must be labelled -100; mask the prompt in labels "
                        "or pass prompt_lengths (TRL's SFTTrainer: prompt/completion data, or messages with "
                        "assistant_only_loss=True)."
                    )
            positions = compute_positions(
                self._spec, attention_mask, prompt_lengths, shape=(batch, seq), device=device
            )
        self._pass = InterventionPass(positions, self._spec.first, seq)

    def _end_pass(self) -> None:
        """Forget the pass, unless a checkpointed backward may still replay hooked modules."""
        if not (self.training and self.model.is_activation_checkpointing):
            self._pass = None

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        prompt_lengths: torch.LongTensor | None = None,
        intervention_positions: torch.LongTensor | None = None,
        **kwargs: Any,
    ):
        """The base's forward with the interventions applied; returns the base's output.

        ``labels`` are token labels ``[batch, seq]`` (causal LM, ``-100`` on the prompt) or class
        labels ``[batch]`` (sequence classification); ``prompt_lengths`` ``[batch]`` and
        ``intervention_positions`` ``[batch, p + s]`` are described in the subclass docstrings.
        ``kwargs`` go to the base's forward.
        """
        self._start_pass(
            input_ids,
            attention_mask,
            kwargs,
            labels=labels,
            prompt_lengths=prompt_lengths,
            intervention_positions=intervention_positions,
        )
        try:
            return self.model(input_ids=input_ids, attention_mask=attention_mask, labels=labels, **kwargs)
        finally:
            self._end_pass()

    # ------------------------------------------------------------------ user API
    @property
    def position_spec(self) -> PositionSpec:
        """The parsed position spec (``first``/``last`` counts)."""
        return self._spec

    def positions_for(
        self,
        attention_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
        prompt_lengths: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The ``[batch, p + s]`` positions (``-1`` = unused) a forward with these inputs would use."""
        if prompt_lengths is None and labels is not None and self._labels_mark_prompt:
            prompt_lengths = prompt_lengths_from_labels(labels, attention_mask)
        return compute_positions(self._spec, attention_mask, prompt_lengths)

    @contextlib.contextmanager
    def disable_interventions(self) -> Iterator[None]:
        """Within this block the model behaves exactly like its base model."""
        previous, self._enabled = self._enabled, False
        try:
            yield
        finally:
            self._enabled = previous

    def copy_interventions(self) -> nn.ModuleDict:
        """A frozen copy of the current interventions (e.g. a reference policy for reinforced training).

        The base is not copied; use the copy with :meth:`use_interventions`.
        """
        frozen = copy.deepcopy(self.interventions)
        frozen.requires_grad_(False)
        frozen.eval()
        return frozen

    @contextlib.contextmanager
    def use_interventions(self, interventions: nn.ModuleDict) -> Iterator[None]:
        """Run the base with another set of interventions (same layers and layout), e.g. a reference copy.

        Example::

            reference = model.copy_interventions()
            with torch.no_grad(), model.use_interventions(reference):
                ref_logits = model(**batch).logits
        """
        expected = {k: sorted(v.keys()) for k, v in self.interventions.items()}
        given = {k: sorted(v.keys()) for k, v in interventions.items()}
        if expected != given:
            raise ValueError(
                f"use_interventions needs interventions laid out like this model's {expected}, got {given}; "
                "make them with model.copy_interventions()."
            )
        previous = self._active
        self.__dict__["_active"] = interventions
        try:
            yield
        finally:
            self.__dict__["_active"] = previous

    def get_nb_trainable_parameters(self) -> tuple[int, int]:
        """``(trainable parameters, all parameters)`` — base included in the second."""
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        total = sum(p.numel() for p in self.parameters())
        return trainable, total

    def print_trainable_parameters(self) -> None:
        """Print ``trainable params: … || all params: … || trainable%: …`` (like peft)."""
        trainable, total = self.get_nb_trainable_parameters()
        print(
            f"trainable params: {trainable:,d} || all params: {total:,d} || trainable%: {100 * trainable / total:.4f}"
        )

    def get_input_embeddings(self) -> nn.Module:
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module | None:
        return self.model.get_output_embeddings()

    @property
    def accepts_loss_kwargs(self) -> bool:
        """Whether the base's loss takes ``num_items_in_batch`` (read by ``Trainer``)."""
        if hasattr(self.model, "accepts_loss_kwargs"):
            return bool(self.model.accepts_loss_kwargs)
        params = inspect.signature(self.model.forward).parameters.values()
        return any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params)

    def merge_and_unload(self, *args: Any, **kwargs: Any) -> None:
        """Not possible: see the error."""
        raise NotImplementedError(
            "LoReFT interventions can't be merged into the base weights: they edit hidden states at prompt "
            "positions chosen per example (Φ(h) = h + Rᵀ(Wh + b − Rh) at the first/last prompt tokens), which no "
            "weight change reproduces. Keep the adapter and load it with hf-reft; use model.get_base_model() for the "
            "unchanged base, or `with model.disable_interventions():` to run it."
        )

    merge_adapter = merge_and_unload

    def unload(self) -> PreTrainedModel:
        """Remove the hooks and return the (unchanged) base model; this wrapper stops working."""
        for handle in self._hooks:
            handle.remove()
        self._hooks = []
        base = self.model
        self._pass = None
        return base

    # ------------------------------------------------------------------ state dict: adapter tensors only
    def state_dict(self, *args: Any, destination: Any = None, prefix: str = "", keep_vars: bool = False):
        """Only the adapter's tensors: ``interventions.*`` and the classification head (``model.<head>.*``)."""
        if args:  # nn.Module's legacy positional signature (destination, prefix, keep_vars)
            destination = args[0]
            prefix = args[1] if len(args) > 1 else prefix
            keep_vars = args[2] if len(args) > 2 else keep_vars
        if destination is None:
            destination = OrderedDict()
        self.interventions.state_dict(
            destination=destination, prefix=f"{prefix}interventions.", keep_vars=keep_vars
        )
        for path, module in self.head_modules().items():
            module.state_dict(destination=destination, prefix=f"{prefix}model.{path}.", keep_vars=keep_vars)
        return destination

    def load_state_dict(self, state_dict: dict[str, torch.Tensor], strict: bool = True, assign: bool = False):
        """Load adapter tensors saved by :meth:`state_dict` / :meth:`save_pretrained`."""
        own = self.state_dict(keep_vars=True)
        missing = sorted(set(own) - set(state_dict))
        unexpected = sorted(set(state_dict) - set(own))
        if strict and (missing or unexpected):
            raise RuntimeError(
                "The adapter weights don't match this model's interventions "
                f"(missing: {missing[:4]}{'…' if len(missing) > 4 else ''}, unexpected: "
                f"{unexpected[:4]}{'…' if len(unexpected) > 4 else ''}). They were saved from an adapter with "
                "other layers, positions, intervention kind or weight sharing; load them with their own config.json."
            )
        with torch.no_grad():
            for key in set(own) & set(state_dict):
                target, value = own[key], state_dict[key]
                if tuple(target.shape) != tuple(value.shape):
                    raise RuntimeError(
                        f"Adapter tensor {key} has shape {tuple(value.shape)} but this model needs "
                        f"{tuple(target.shape)}: it was trained for another hidden size or rank. Load it on its "
                        "own base model with its own config.json."
                    )
                target.copy_(value.to(device=target.device, dtype=target.dtype))
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ saving
    def model_card(self, repo_id: str | None = None) -> ModelCard:
        """The adapter's ``README.md`` as a :class:`huggingface_hub.ModelCard` (with :attr:`card_extra`)."""
        return render_adapter_card(self, repo_id, extra=self.card_extra)

    def save_pretrained(
        self,
        save_directory: str | os.PathLike[str],
        *,
        is_main_process: bool = True,
        state_dict: dict[str, torch.Tensor] | None = None,
        safe_serialization: bool = True,
        push_to_hub: bool = False,
        card_repo_id: str | None = None,
        tokenizer: Any = None,
        **kwargs: Any,
    ) -> None:
        """Write ``config.json``, ``model.safetensors`` (adapter tensors only) and ``README.md``, and the
        ``tokenizer`` when given (so that ``pipeline("text-generation", model=folder)`` works).

        The folder is written atomically (:func:`hf_reft.hub.atomic_save`). ``state_dict`` (from
        ``Trainer``) replaces :meth:`state_dict`; ``push_to_hub=True`` then uploads the folder to
        ``kwargs["repo_id"]`` (default: the folder's name).
        """
        if not safe_serialization:
            raise ValueError("hf-reft saves safetensors only; drop safe_serialization=False.")
        if not is_main_process:
            return
        tensors = state_dict if state_dict is not None else self.state_dict()
        repo_id = kwargs.pop("repo_id", None)
        with hub.atomic_save(save_directory) as staging:
            self.config.save_pretrained(staging)
            hub.save_tensors(tensors, staging / ADAPTER_WEIGHTS_NAME)
            self.model_card(card_repo_id or repo_id).save(staging / "README.md")
            if tokenizer is not None:
                tokenizer.save_pretrained(staging)
        if push_to_hub:
            self.push_to_hub(repo_id or Path(save_directory).name, tokenizer=tokenizer, **kwargs)

    def push_to_hub(
        self,
        repo_id: str,
        *,
        token: str | bool | None = None,
        private: bool | None = None,
        revision: str | None = None,
        commit_message: str | None = None,
        commit_description: str | None = None,
        create_pr: bool = False,
        tags: list[str] | None = None,
        tokenizer: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Save the adapter to a temporary folder and upload it to ``repo_id`` (one commit).

        ``tags`` join the card's; ``tokenizer`` is uploaded with the adapter; ``commit_description``
        and the other arguments go to the Hub client as in ``transformers``. The base must be a Hub id (an adapter over a local folder would load
        only on this machine): refused otherwise, with the fix.
        """
        if kwargs:
            raise TypeError(f"push_to_hub() got unexpected arguments {sorted(kwargs)}.")
        check_portable_base(self.config.base_model_name_or_path)
        extra_tags = list(tags or [])

        def save(folder: Path) -> None:
            self.save_pretrained(folder, card_repo_id=repo_id, tokenizer=tokenizer)
            if extra_tags:
                card = ModelCard.load(folder / "README.md")
                card.data.tags = list(dict.fromkeys([*(card.data.tags or []), *extra_tags]))
                card.save(folder / "README.md")

        return hub.push_to_hub(
            save,
            repo_id,
            token=token,
            private=private,
            revision=revision,
            commit_message=commit_message or "Upload LoReFT adapter with hf-reft",
            commit_description=commit_description,
            create_pr=create_pr,
        )

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike[str],
        *model_args: Any,
        config: ReftConfig | None = None,
        base_model: PreTrainedModel | None = None,
        revision: str | None = None,
        token: str | bool | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        local_files_only: bool = False,
        force_download: bool = False,
        subfolder: str | None = None,
        **kwargs: Any,
    ) -> ReftPreTrainedModel:
        """Load an adapter from a local folder or a Hub repo, with its base model.

        Args:
            pretrained_model_name_or_path: folder written by :meth:`save_pretrained`, or a Hub id.
            config: an already loaded :class:`ReftConfig` (the Auto classes pass one).
            base_model: the base to attach to; ``None`` loads ``config.base_model_name_or_path`` at its
                pinned revision with the stored loader arguments.
            revision, token, cache_dir, local_files_only, force_download, subfolder: where to find the
                adapter (``token``/``cache_dir``/``local_files_only`` also serve the base).
            **kwargs: further arguments for the base's ``from_pretrained`` (``dtype``, ``device_map``,
                ``attn_implementation``, ``trust_remote_code`` …).
        """
        if model_args:
            raise TypeError(f"{cls.__name__}.from_pretrained takes no positional model arguments.")
        for name in AUTO_ONLY_KWARGS:
            kwargs.pop(name, None)
        if kwargs.get("trust_remote_code") is None:
            kwargs.pop("trust_remote_code", None)
        folder = hub.resolve_folder(
            pretrained_model_name_or_path,
            revision=revision,
            token=token,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
            force_download=force_download,
        )
        if subfolder:
            folder = folder / subfolder
        if config is None:
            if not (folder / "config.json").is_file():
                raise FileNotFoundError(
                    f"{folder} has no config.json, so it is not an hf-reft adapter; pass the folder written by "
                    "save_pretrained."
                )
            config = ReftConfig.from_pretrained(folder)
        if not isinstance(config, ReftConfig):
            raise TypeError(f"config must be a ReftConfig, got {type(config).__name__}.")
        cls._check_task(config)
        if base_model is None:
            shared = {"token": token, "cache_dir": cache_dir, "local_files_only": local_files_only or None}
            for key, value in shared.items():
                if value is not None:
                    kwargs.setdefault(key, value)
            base_model = load_base_model(config, **kwargs)
        model = cls(config, base_model)
        model.load_adapter_weights(folder / ADAPTER_WEIGHTS_NAME)
        model.eval()
        return model

    def load_adapter_weights(self, path: str | os.PathLike[str]) -> None:
        """Load ``model.safetensors`` of a saved adapter into this model (clear errors when absent/corrupt)."""
        self.load_state_dict(read_adapter_tensors(path), strict=True)


#: Call arguments the wrapper reads itself (the others go to the base).
_PASS_ARGUMENTS = frozenset(
    {"input_ids", "attention_mask", "labels", "prompt_lengths", "intervention_positions"}
)


def _check_is_pretrained_model(base_model: Any) -> None:
    """Refuse a base that is not a ``transformers`` ``PreTrainedModel``."""
    if not isinstance(base_model, PreTrainedModel):
        raise TypeError(
            f"base_model must be a transformers PreTrainedModel, got {type(base_model).__name__}."
        )


def _module_device(module: nn.Module) -> torch.device:
    """Device of a module's parameters; CPU for a base on the meta device."""
    for param in module.parameters():
        return torch.device("cpu") if param.device.type == "meta" else param.device
    return torch.device("cpu")


class ReftModelForCausalLM(ReftPreTrainedModel):
    """A causal LM with LoReFT interventions on its prompt.

    ``forward`` takes the base's arguments plus:

    * ``labels`` ``[batch, seq]``: token labels, ``-100`` on the prompt (and padding) — the prompt is
      the non-pad tokens before the first labelled token;
    * ``prompt_lengths`` ``[batch]`` (optional): prompt tokens per example, overriding ``labels``;
    * ``intervention_positions`` ``[batch, p + s]`` (optional): explicit token indices, ``-1`` unused.

    It returns the base's output (``CausalLMOutputWithPast`` with ``loss`` when ``labels`` is given).
    ``generate`` intervenes on the whole input during the prefill and then decodes with the KV cache.
    """

    _task = "causal_lm"

    @classmethod
    def can_generate(cls) -> bool:
        return True

    def generate(
        self,
        inputs: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        *,
        prompt_lengths: torch.LongTensor | None = None,
        intervention_positions: torch.LongTensor | None = None,
        **kwargs: Any,
    ):
        """``base.generate`` with the interventions applied to the prompt in the prefill.

        Batches must be left-padded (as for any decoder-only model). ``num_return_sequences`` and
        beam search expand the positions with the batch. All ``generate`` arguments are accepted.
        """
        input_ids = inputs if inputs is not None else kwargs.pop("input_ids", None)
        generation_config = kwargs.get("generation_config") or getattr(self.model, "generation_config", None)
        if kwargs.get("prefill_chunk_size") or getattr(generation_config, "prefill_chunk_size", None):
            raise ValueError(
                "Chunked prefill splits the prompt over several forward calls, but LoReFT intervenes on the whole "
                "prompt in one; generate with prefill_chunk_size=None."
            )
        self._start_pass(
            input_ids,
            attention_mask,
            kwargs,
            prompt_lengths=prompt_lengths,
            intervention_positions=intervention_positions,
        )
        try:
            if input_ids is not None:
                kwargs["input_ids"] = input_ids
            return self.model.generate(attention_mask=attention_mask, **kwargs)
        finally:
            self._pass = None


class ReftModelForSequenceClassification(ReftPreTrainedModel):
    """A sequence classifier with LoReFT interventions; the base's head trains too.

    The base is any ``AutoModelForSequenceClassification`` model; its head (every top-level module
    outside the backbone, e.g. ``classifier`` or ``score``) is trainable and saved with the
    interventions. The whole non-pad input is the prompt (``labels`` are class labels), unless
    ``prompt_lengths`` or ``intervention_positions`` say otherwise. Returns the base's
    ``SequenceClassifierOutput``.
    """

    _task = "sequence_classification"
    _labels_mark_prompt = False

    def _fill_config_from_base(self, base: PreTrainedModel) -> None:
        super()._fill_config_from_base(base)
        base_config = base.config
        self.config.id2label = dict(base_config.id2label) if base_config.id2label else None
        self.config.label2id = dict(base_config.label2id) if base_config.label2id else None
        if base_config.id2label is None:
            self.config.num_labels = base_config.num_labels
        self.config.problem_type = base_config.problem_type
        pad = getattr(base_config, "pad_token_id", None)
        if pad is not None:
            self.config.base_model_kwargs = {**self.config.base_model_kwargs, "pad_token_id": pad}

    def head_modules(self) -> dict[str, nn.Module]:
        backbone = self.model.base_model
        if backbone is self.model:
            raise ValueError(
                f"{type(self.model).__name__} has no separate backbone and head; load the base with "
                "AutoModelForSequenceClassification."
            )
        return {
            name: module
            for name, module in self.model.named_children()
            if module is not backbone and any(True for _ in module.parameters())
        }


_WRAPPERS: dict[str, type[ReftPreTrainedModel]] = {
    "causal_lm": ReftModelForCausalLM,
    "sequence_classification": ReftModelForSequenceClassification,
}


def get_reft_model(base_model: PreTrainedModel, config: ReftConfig) -> ReftPreTrainedModel:
    """Wrap ``base_model`` (frozen in place) with the interventions ``config`` describes.

    A base whose class is registered with ``AutoModelForSequenceClassification`` (or whose name
    ends in ``ForSequenceClassification``) gives a :class:`ReftModelForSequenceClassification`,
    anything else a :class:`ReftModelForCausalLM`.
    """
    _check_is_pretrained_model(base_model)
    if not isinstance(config, ReftConfig):
        raise TypeError(f"config must be a hf_reft.ReftConfig, got {type(config).__name__}.")
    task = "sequence_classification" if _is_sequence_classifier(base_model) else "causal_lm"
    config = copy.deepcopy(config)
    config.task = task
    return _WRAPPERS[task](config, base_model)


def _is_sequence_classifier(model: PreTrainedModel) -> bool:
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES

    name = type(model).__name__
    return (
        name.endswith("ForSequenceClassification")
        or name in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES.values()
    )
