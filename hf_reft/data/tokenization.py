"""(prompt, response) pairs or chat messages → token ids with the prompt masked out of the loss.

Every supervised stage of hf-reft (LoReFT training, reinforced warm-up SFT) tokenizes
through :func:`tokenize_example`, so there is one tokenization pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

IGNORE_INDEX = -100

__all__ = [
    "IGNORE_INDEX",
    "format_prompt",
    "prepare_supervised_dataset",
    "render_chat_prompt",
    "tokenize_example",
]


def render_chat_prompt(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> str:
    """Render ``messages`` with the tokenizer's chat template, ending with the assistant's turn."""
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            "This tokenizer has no chat template; pass plain prompts instead of chat messages, "
            "or set tokenizer.chat_template."
        )
    return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)


def _split_messages(messages: Sequence[Mapping[str, str]]) -> tuple[list[Mapping[str, str]], str]:
    if not messages or messages[-1].get("role") != "assistant":
        raise ValueError(
            "Chat examples must end with the assistant's reply (the training target): "
            "[..., {'role': 'user', ...}, {'role': 'assistant', 'content': ...}]."
        )
    return list(messages[:-1]), messages[-1]["content"]


def tokenize_example(
    tokenizer: Any,
    prompt: str | None = None,
    response: str | None = None,
    *,
    messages: Sequence[Mapping[str, str]] | None = None,
    max_length: int | None = None,
    add_eos: bool = True,
) -> dict[str, list[int]]:
    """Tokenize one training example.

    Give either ``prompt`` (and ``response``) or chat ``messages`` whose last message is the
    assistant's reply. The prompt and the response are tokenized separately and joined, so
    the boundary is exact whatever the tokenizer merges.

    Returns:
        ``input_ids``, ``attention_mask`` and ``labels`` (lists of length ``L``; ``labels`` is
        :data:`IGNORE_INDEX` on prompt tokens) and ``prompt_length`` (an int in a list of one,
        so :mod:`datasets` stores it as a column).
        With ``response=None`` only the prompt is returned (for generation).
        When ``L > max_length`` the response is cut at the end; a prompt alone longer than
        ``max_length`` keeps its last ``max_length - 1`` tokens.
    """
    if messages is not None:
        if prompt is not None or response is not None:
            raise ValueError("Pass either prompt/response or messages, not both.")
        history, response = _split_messages(messages)
        prompt = render_chat_prompt(tokenizer, history)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    elif prompt is None:
        raise ValueError("tokenize_example needs a prompt (or chat messages).")
    else:
        prompt_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
    response_ids: list[int] = []
    if response is not None:
        response_ids = tokenizer(response, add_special_tokens=False)["input_ids"]
        if add_eos:
            if tokenizer.eos_token_id is None:
                raise ValueError("add_eos=True needs tokenizer.eos_token_id; set it or pass add_eos=False.")
            response_ids = [*response_ids, tokenizer.eos_token_id]
    if max_length is not None:
        if max_length < 2:
            raise ValueError(f"max_length must be at least 2, got {max_length}.")
        if len(prompt_ids) >= max_length:
            prompt_ids = prompt_ids[-(max_length - 1) :]
        response_ids = response_ids[: max_length - len(prompt_ids)]
    input_ids = [*prompt_ids, *response_ids]
    return {
        "input_ids": input_ids,
        "attention_mask": [1] * len(input_ids),
        "labels": [IGNORE_INDEX] * len(prompt_ids) + response_ids,
        "prompt_length": len(prompt_ids),
    }


def format_prompt(
    row: Mapping[str, Any],
    tokenizer: Any = None,
    *,
    prompt_column: str = "prompt",
    prompt_template: str | Callable[[Mapping[str, Any]], str] | None = None,
    use_chat_template: bool = False,
    system_prompt: str | None = None,
) -> str:
    """The prompt text of one row, exactly as :func:`prepare_supervised_dataset` tokenizes it.

    Without ``use_chat_template`` this is the template filled from the row (or the
    ``prompt_column`` value); tokenize it with ``add_special_tokens=True``. With it, the prompt
    is the user message (after ``system_prompt``) rendered by ``tokenizer``'s chat template up
    to the assistant's turn; tokenize it with ``add_special_tokens=False``.
    """
    if prompt_template is None:
        if prompt_column not in row:
            raise ValueError(f"Column {prompt_column!r} not in the row (it has {sorted(row)}).")
        text = str(row[prompt_column])
    elif callable(prompt_template):
        text = prompt_template(row)
    else:
        try:
            text = prompt_template.format(**row)
        except KeyError as err:
            raise ValueError(
                f"prompt_template names column {err} that the data lacks ({sorted(row)})."
            ) from None
    if not use_chat_template:
        return text
    chat = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [
        {"role": "user", "content": text}
    ]
    return render_chat_prompt(tokenizer, chat)


def prepare_supervised_dataset(
    dataset: Any,
    tokenizer: Any,
    *,
    prompt_column: str = "prompt",
    response_column: str | None = "response",
    messages_column: str | None = None,
    prompt_template: str | Callable[[Mapping[str, Any]], str] | None = None,
    use_chat_template: bool = False,
    system_prompt: str | None = None,
    max_length: int | None = None,
    add_eos: bool = True,
) -> Any:
    """Map a :class:`datasets.Dataset` of text examples to tokenized supervised examples.

    Args:
        dataset: rows with the text columns named below.
        prompt_column: column with the prompt (or the question the template formats).
        response_column: column with the target; ``None`` tokenizes prompts only.
        messages_column: column with chat messages (overrides prompt/response columns).
        prompt_template: ``str.format`` template over the row (``"Question:\\n{question}\\n"``)
            or a callable row → prompt.
        use_chat_template: wrap the prompt as a user message (after ``system_prompt``) and
            render it with the tokenizer's chat template.
        max_length: cut examples to this many tokens.

    Returns:
        The dataset with columns ``input_ids``, ``attention_mask``, ``labels``, ``prompt_length``.
    """
    columns = set(dataset.column_names)
    needed = [messages_column] if messages_column else [c for c in (response_column,) if c]
    if not messages_column and prompt_template is None:
        needed.append(prompt_column)
    missing = [c for c in needed if c not in columns]
    if missing:
        raise ValueError(
            f"Columns {missing} not in the dataset (it has {sorted(columns)}); pass the right column names."
        )

    def build_prompt(row: Mapping[str, Any]) -> str:
        return format_prompt(row, prompt_column=prompt_column, prompt_template=prompt_template)

    def encode(row: Mapping[str, Any]) -> dict[str, Any]:
        response = row[response_column] if response_column else None
        if messages_column:
            return tokenize_example(
                tokenizer, messages=row[messages_column], max_length=max_length, add_eos=add_eos
            )
        prompt = build_prompt(row)
        if use_chat_template:
            chat = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [
                {"role": "user", "content": prompt}
            ]
            if response is None:
                ids = tokenizer(render_chat_prompt(tokenizer, chat), add_special_tokens=False)["input_ids"]
                return {
                    "input_ids": ids,
                    "attention_mask": [1] * len(ids),
                    "labels": [IGNORE_INDEX] * len(ids),
                    "prompt_length": len(ids),
                }
            chat.append({"role": "assistant", "content": str(response)})
            return tokenize_example(tokenizer, messages=chat, max_length=max_length, add_eos=add_eos)
        return tokenize_example(
            tokenizer,
            prompt,
            None if response is None else str(response),
            max_length=max_length,
            add_eos=add_eos,
        )

    return dataset.map(encode, remove_columns=dataset.column_names, desc="Tokenizing")
