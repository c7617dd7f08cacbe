"""A policy and its PPO value head, saved, loaded and pushed together.

:class:`PolicyWithValueHead` wraps any causal LM (a full ``transformers`` model, or later an hf-reft
LoReFT model over a frozen base) and adds :class:`ValueHead`, a linear map of the policy's last
hidden state to a scalar. On disk the folder is the policy's own ``save_pretrained`` output (so
``AutoModelForCausalLM.from_pretrained(folder)`` loads the policy alone) plus
``value_head.safetensors`` and a model card.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from torch import nn
from transformers import AutoModelForCausalLM, PreTrainedModel
from transformers.utils import ModelOutput

from .. import hub
from .reference_policy import forward_without_cache, takes_prompt_lengths

__all__ = ["VALUE_HEAD_FILE", "PolicyValueOutput", "PolicyWithValueHead", "ValueHead"]

logger = logging.getLogger(__name__)

#: File name of the value head inside a saved folder.
VALUE_HEAD_FILE = "value_head.safetensors"
CARD_TEMPLATE = "reinforced_policy.md"


class ValueHead(nn.Module):
    """``V(s_t) = w . h_t + b``: hidden states ``[B, T, H]`` -> values ``[B, T]`` (float32)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.summary = nn.Linear(hidden_size, 1, dtype=torch.float32)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Zero weights and bias: every first value estimate is 0, so early advantages are the
        rewards themselves rather than the noise of a random head."""
        nn.init.zeros_(self.summary.weight)
        nn.init.zeros_(self.summary.bias)

    @property
    def hidden_size(self) -> int:
        return self.summary.in_features

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.summary(hidden_states.to(self.summary.weight.dtype)).squeeze(-1)


@dataclass
class PolicyValueOutput(ModelOutput):
    """Output of :class:`PolicyWithValueHead`.

    Attributes:
        logits: ``[B, T, V]`` next-token logits of the policy.
        value: ``[B, T]`` value of the state after each position's token. (Not ``values``: a
            ``ModelOutput`` is a dict, and DDP calls its ``values()`` method.)
    """

    logits: torch.FloatTensor | None = None
    value: torch.FloatTensor | None = None


def _hidden_size(policy: nn.Module) -> int:
    config = getattr(policy, "config", None)
    if config is not None:
        text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
        if isinstance(getattr(text_config, "hidden_size", None), int):
            return text_config.hidden_size
    return policy.get_input_embeddings().embedding_dim


class PolicyWithValueHead(PreTrainedModel):
    """A causal-LM policy plus a value head on its last hidden state.

    Args:
        policy: a causal LM whose forward accepts ``output_hidden_states=True`` and returns
            ``logits`` and ``hidden_states`` (any ``AutoModelForCausalLM`` model).
        value_head: an existing head; a new one (hidden size of the policy) by default.

    The wrapper's ``config`` is a copy of the policy's, so that trainer settings written to it
    (``use_cache``...) do not leak into the policy. Only :meth:`policy_forward` touches the
    policy's internals: a LoReFT policy over a frozen base can override it to read the base's
    last hidden state.
    """

    base_model_prefix = "policy"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True

    def __init__(self, policy: PreTrainedModel, value_head: ValueHead | None = None) -> None:
        super().__init__(copy.deepcopy(policy.config))
        self.policy = policy
        self.value_head = value_head if value_head is not None else ValueHead(_hidden_size(policy))
        if self.value_head.hidden_size != _hidden_size(policy):
            raise ValueError(
                f"The value head reads hidden size {self.value_head.hidden_size} but the policy's "
                f"hidden size is {_hidden_size(policy)}; create the head from this policy."
            )
        device = next(policy.parameters()).device
        self.value_head.to(device)
        #: a LoReFT policy places its interventions by prompt length (plain causal LMs take no such argument)
        self.policy_takes_prompt_lengths = takes_prompt_lengths(policy)
        self.post_init()

    # ----------------------------------------------------------------------- init
    def init_weights(self) -> None:
        """Initialise nothing: the policy comes trained (a LoReFT policy's interventions included)
        and the value head initialised itself. ``PreTrainedModel.post_init`` would otherwise
        re-initialise every policy weight not flagged as loaded."""

    def activation_checkpointing_enable(self, *args: Any, **kwargs: Any) -> None:
        self.policy.activation_checkpointing_enable(*args, **kwargs)

    def gradient_checkpointing_enable(self, *args: Any, **kwargs: Any) -> None:
        self.policy.gradient_checkpointing_enable(*args, **kwargs)

    def get_input_embeddings(self) -> nn.Module:
        return self.policy.get_input_embeddings()

    # ----------------------------------------------------------------------- forward
    def policy_forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        prompt_lengths: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the policy once: ``(logits [B, T, V], last hidden state [B, T, H])``.

        ``prompt_lengths`` ``[B]`` (real prompt tokens per row) reaches policies that take it
        (LoReFT: intervention positions are prompt positions); others ignore it.
        """
        out = forward_without_cache(
            self.policy,
            input_ids,
            attention_mask,
            position_ids,
            prompt_lengths,
            pass_prompt_lengths=self.policy_takes_prompt_lengths,
            output_hidden_states=True,
        )
        return out.logits, out.hidden_states[-1]

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        prompt_lengths: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> PolicyValueOutput:
        """Logits ``[B, T, V]`` and values ``[B, T]`` for ``input_ids`` ``[B, T]``."""
        logits, hidden = self.policy_forward(input_ids, attention_mask, position_ids, prompt_lengths)
        return PolicyValueOutput(logits=logits, value=self.value_head(hidden))

    # ----------------------------------------------------------------------- save / load
    def save_pretrained(
        self,
        save_directory: str | os.PathLike[str],
        *,
        is_main_process: bool = True,
        state_dict: dict[str, torch.Tensor] | None = None,
        tokenizer: Any = None,
        card_context: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Save the policy (its own ``save_pretrained``), ``value_head.safetensors`` and a card.

        Args:
            save_directory: target folder; written atomically.
            is_main_process: only the main process writes (distributed training).
            state_dict: a full state dict of this wrapper (``policy.*`` / ``value_head.*``
                keys), e.g. gathered by the Trainer; default: the live weights.
            tokenizer: saved beside the model when given.
            card_context: extra variables for the model card (``cot_format``, ``kl_coef``...).
            **kwargs: passed to the policy's ``save_pretrained``.
        """
        if not is_main_process:
            return
        kwargs.pop("push_to_hub", None)
        policy_state, head_state = None, self.value_head.state_dict()
        if state_dict is not None:
            policy_state = {k[len("policy.") :]: v for k, v in state_dict.items() if k.startswith("policy.")}
            head_state = {
                k[len("value_head.") :]: v for k, v in state_dict.items() if k.startswith("value_head.")
            }
        with hub.atomic_save(save_directory) as tmp:
            self.policy.save_pretrained(tmp, state_dict=policy_state, **kwargs)
            hub.save_tensors(
                head_state, tmp / VALUE_HEAD_FILE, metadata={"hidden_size": str(self.value_head.hidden_size)}
            )
            if tokenizer is not None:
                tokenizer.save_pretrained(tmp)
            self.model_card(**(card_context or {})).save(tmp / "README.md")

    def model_card(self, **context: Any) -> Any:
        """The model card (a :class:`huggingface_hub.ModelCard`) from ``model_cards/reinforced_policy.md``."""
        base = context.pop("base_model", None) or getattr(self.policy, "name_or_path", None) or None
        return hub.render_card(
            CARD_TEMPLATE,
            base_model=str(base) if base else None,
            base_model_relation="finetune",
            tags=("reinforced-fine-tuning", "ppo", "value-head"),
            pipeline_tag="text-generation",
            value_head_file=VALUE_HEAD_FILE,
            hidden_size=self.value_head.hidden_size,
            kl_coef=context.pop("kl_coef", None),
            **context,
        )

    def push_to_hub(
        self,
        repo_id: str,
        *,
        tokenizer: Any = None,
        card_context: dict[str, Any] | None = None,
        token: str | bool | None = None,
        private: bool | None = None,
        revision: str | None = None,
        commit_message: str | None = None,
        create_pr: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Save policy, value head and card into a temporary folder and upload it in one commit."""
        context = {"repo_id": repo_id, **(card_context or {})}
        save = functools.partial(self.save_pretrained, tokenizer=tokenizer, card_context=context, **kwargs)
        return hub.push_to_hub(
            save,
            repo_id,
            token=token,
            private=private,
            revision=revision,
            commit_message=commit_message or "Upload reinforced policy with value head (hf-reft)",
            create_pr=create_pr,
        )

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike[str],
        *,
        require_value_head: bool = False,
        revision: str | None = None,
        token: str | bool | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        local_files_only: bool = False,
        **model_kwargs: Any,
    ) -> PolicyWithValueHead:
        """Load a policy folder or Hub repo, with its value head if it has one.

        A warm-up checkpoint has no value head: a fresh one is created then, unless
        ``require_value_head=True`` (resuming PPO), which raises instead.
        ``model_kwargs`` go to ``AutoModelForCausalLM.from_pretrained`` (``dtype``...).
        """
        folder = hub.resolve_folder(
            pretrained_model_name_or_path,
            revision=revision,
            token=token,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
        )
        from .. import representation  # noqa: F401  (registers LoReFT adapters with the Auto classes)

        policy = AutoModelForCausalLM.from_pretrained(folder, **model_kwargs)
        model = cls(policy)
        head_file = folder / VALUE_HEAD_FILE
        if head_file.is_file():
            model.load_value_head(head_file)
        elif require_value_head:
            raise FileNotFoundError(
                f"{pretrained_model_name_or_path} has no {VALUE_HEAD_FILE}: it is not a PPO checkpoint. "
                "Pass require_value_head=False to start a new value head (e.g. from a warm-up model)."
            )
        else:
            logger.info("No %s in %s: starting a new value head.", VALUE_HEAD_FILE, folder)
        policy.name_or_path = str(pretrained_model_name_or_path)
        return model

    def load_value_head(self, path: str | os.PathLike[str]) -> None:
        """Load ``value_head.safetensors`` into the head (shapes must match)."""
        state = load_file(str(path), device=str(self.value_head.summary.weight.device))
        expected = self.value_head.state_dict()
        if set(state) != set(expected) or any(state[k].shape != expected[k].shape for k in expected):
            shapes = {k: tuple(v.shape) for k, v in state.items()}
            raise ValueError(
                f"{path} holds {shapes}, not a value head for hidden size {self.value_head.hidden_size}; "
                "was it saved from a different policy?"
            )
        self.value_head.load_state_dict(state)

    def load_checkpoint(self, folder: str | os.PathLike[str]) -> None:
        """Load saved weights into this model in place (Trainer resume): policy and value head.

        Every tensor in the folder's policy safetensors files must belong to the policy; a trainable
        policy parameter missing from them is an error unless it is tied to a loaded one.
        """
        folder = Path(folder)
        index = folder / "model.safetensors.index.json"
        if index.is_file():
            files = sorted({folder / f for f in json.loads(index.read_text())["weight_map"].values()})
        else:
            files = sorted(p for p in folder.glob("*.safetensors") if p.name != VALUE_HEAD_FILE)
        if not files:
            raise FileNotFoundError(f"No policy weights (*.safetensors) in {folder}.")
        state: dict[str, torch.Tensor] = {}
        for file in files:
            with safe_open(str(file), framework="pt") as handle:
                state.update({k: handle.get_tensor(k) for k in handle.keys()})  # noqa: SIM118
        result = self.policy.load_state_dict(state, strict=False)
        if result.unexpected_keys:
            raise ValueError(
                f"{folder} has weights this policy does not have: {result.unexpected_keys[:5]}..."
            )
        loaded = {p.data_ptr() for n, p in self.policy.named_parameters() if n in state}
        missing = [
            n
            for n, p in self.policy.named_parameters()
            if n in set(result.missing_keys) and p.requires_grad and p.data_ptr() not in loaded
        ]
        if missing:
            raise ValueError(
                f"{folder} lacks trainable policy weights {missing[:5]}; it is not a checkpoint of this policy."
            )
        if not (folder / VALUE_HEAD_FILE).is_file():
            raise FileNotFoundError(f"{folder} has no {VALUE_HEAD_FILE}; it is not a PPO checkpoint.")
        self.load_value_head(folder / VALUE_HEAD_FILE)
