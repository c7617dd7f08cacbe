"""The paper's two chain-of-thought formats: natural language and Python programs.

Luong et al. (2024) train and sample with one plain prompt, ``"Question:\\n{question}\\nAnswer
reasoning:\\n"``, in both formats (their ``train_sft_model.py`` / ``train_rl_reft.py``: ``instruction
= 'Question:\\n'``, ``cot_trigger = '\\nAnswer reasoning:\\n'``, whatever the engine); what the
model learns to write after it differs:

* ``nl`` — the data's ``answer_cot``, prose ending in ``Therefore, the answer is <X>.``; the answer
  is read from that sentence (:mod:`hf_reft.answers`).
* ``program`` — a ``def solution():`` function (docstring = the question, then the computation,
  ``return result``); the answer is what ``solution()`` returns when the sandbox runs it.

(The authors' NL training script appends a second ``\\nTherefore, the answer is: <value>`` to
``answer_cot``; hf-reft trains on ``answer_cot`` as the data holds it, which already ends with
its answer sentence.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["FORMATS", "CotFormat", "PromptFormat", "build_prompt", "get_format"]

CotFormat = Literal["nl", "program"]


@dataclass(frozen=True)
class PromptFormat:
    """How one chain-of-thought format turns a question into a prompt and what its target is.

    Attributes:
        name: ``"nl"`` or ``"program"``.
        instruction: text before the question.
        cot_trigger: text after the question; the completion starts right after it.
        question_column: the data column with the question.
        target_column: the data column with the chain of thought to train on.
        answer_column: the data column with the gold answer.
        train_set: the named data set (:data:`hf_reft.data.NAMED_DATASETS`) of SVAMP warm-up data.
        description: one line for help texts and cards.
    """

    name: CotFormat
    instruction: str = "Question:\n"
    cot_trigger: str = "\nAnswer reasoning:\n"
    question_column: str = "question"
    target_column: str = "answer_cot"
    answer_column: str = "answer_value"
    train_set: str = "svamp-nl"
    description: str = ""

    def prompt(self, question: str) -> str:
        """The prompt for one question (surrounding spaces stripped, as the paper does)."""
        if not isinstance(question, str):
            raise TypeError(f"A question must be text, got {type(question).__name__}.")
        return f"{self.instruction}{question.strip()}{self.cot_trigger}"

    def prompt_for_row(self, row: Mapping[str, Any]) -> str:
        """The prompt for a data row, read from :attr:`question_column`."""
        if self.question_column not in row:
            raise KeyError(
                f"The row has no {self.question_column!r} column (it has {sorted(row)}); "
                "pass the question column's name (--question-column)."
            )
        return self.prompt(str(row[self.question_column]))

    def render(self, question: str, tokenizer: Any = None, *, use_chat_template: bool = False) -> str:
        """The text a policy is prompted with: :meth:`prompt`, or it as the user's turn of the
        tokenizer's chat template (as :func:`hf_reft.data.prepare_supervised_dataset` renders it
        for training with ``use_chat_template=True``)."""
        prompt = self.prompt(question)
        if not use_chat_template:
            return prompt
        if tokenizer is None:
            raise ValueError(
                "use_chat_template=True needs the tokenizer whose chat template renders the prompt."
            )
        from ..data.tokenization import render_chat_prompt

        return render_chat_prompt(tokenizer, [{"role": "user", "content": prompt}])

    @property
    def is_program(self) -> bool:
        """Whether completions are programs that must run in the sandbox."""
        return self.name == "program"


FORMATS: dict[str, PromptFormat] = {
    "nl": PromptFormat(
        "nl",
        train_set="svamp-nl",
        description="natural-language chain of thought ending in 'Therefore, the answer is <X>.'",
    ),
    "program": PromptFormat(
        "program",
        train_set="svamp-program",
        description="a Python 'def solution():' whose return value is the answer (run in the sandbox)",
    ),
}


def get_format(format: str | PromptFormat) -> PromptFormat:
    """The :class:`PromptFormat` for ``"nl"`` or ``"program"`` (a :class:`PromptFormat` passes through)."""
    if isinstance(format, PromptFormat):
        return format
    try:
        return FORMATS[format]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown chain-of-thought format {format!r}: use 'nl' (natural language) or 'program' "
            "(Python programs run in the sandbox)."
        ) from None


def build_prompt(question: str, format: str | PromptFormat = "nl") -> str:
    """``"Question:\\n{question}\\nAnswer reasoning:\\n"`` — the paper's prompt in either format."""
    return get_format(format).prompt(question)
