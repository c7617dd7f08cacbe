"""The one answer-extraction module of hf-reft.

Every part of the package that needs "what answer did the model give?" or "is it right?" uses this
module: LoReFT evaluation, the reinforced fine-tuning rewards and voting, RefTool on SciBench and the
``evaluate`` metrics in :mod:`hf_reft.metrics`. It depends on the standard library only.

Layers, from the bottom up:

* **Numbers** -- :func:`normalize_text` turns LaTeX and Unicode maths into plain text,
  :func:`find_numbers` scans it for numbers (commas, signs, decimals, fractions, percentages,
  scientific notation) with the unit that follows each, and :func:`parse_number` reads the value of a
  short answer string ("-285.8 kJ/mol", "\\frac{3}{4}", "1.2 \\times 10^{-3}", "50%").
* **Extractors** -- :func:`extract_number` finds the final answer in a model's text
  (``\\boxed{..}``, "The answer is X", "answer: X", "#### X", then the last number),
  :func:`extract_choice` a multiple-choice label, :func:`extract_program_result` the answer of a
  program's return value or printed output.
* **Comparison** -- :func:`compare_numbers` (absolute and/or relative tolerance) and
  :func:`compare_answers`.
* **Benchmarks** -- a registry (:data:`BENCHMARKS`) with one strategy per benchmark:
  :func:`extract_answer`, :func:`parse_gold` and :func:`is_correct` take a benchmark name.
* **Voting** -- :func:`majority_vote` with deterministic tie-breaking.

The package follows these layers, one module each: :mod:`.answer`, :mod:`.normalization`,
:mod:`.number_parsing`, :mod:`.arithmetic`, :mod:`.extraction`, :mod:`.comparison`, :mod:`.gold`,
:mod:`.benchmarks`, :mod:`.voting`; every public name is importable from ``hf_reft.answers``.
"""

from .answer import Answer
from .arithmetic import evaluate_arithmetic
from .benchmarks import (
    BENCHMARKS,
    BenchmarkSpec,
    extract_answer,
    get_benchmark,
    is_correct,
    parse_gold,
    prediction_answer,
    register_benchmark,
)
from .comparison import compare_answers, compare_numbers
from .extraction import extract_choice, extract_number, extract_program_result, find_boxed
from .gold import parse_gsm8k_gold, parse_scibench_gold, split_unit_scale
from .normalization import normalize_text
from .number_parsing import find_numbers, parse_number
from .voting import majority_vote

__all__ = [
    "BENCHMARKS",
    "Answer",
    "BenchmarkSpec",
    "compare_answers",
    "compare_numbers",
    "evaluate_arithmetic",
    "extract_answer",
    "extract_choice",
    "extract_number",
    "extract_program_result",
    "find_boxed",
    "find_numbers",
    "get_benchmark",
    "is_correct",
    "majority_vote",
    "normalize_text",
    "parse_gold",
    "parse_gsm8k_gold",
    "parse_number",
    "parse_scibench_gold",
    "prediction_answer",
    "register_benchmark",
    "split_unit_scale",
]
