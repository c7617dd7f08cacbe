"""The benchmark registry: one strategy per benchmark (extract_answer, parse_gold, is_correct)."""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .answer import Answer
from .comparison import compare_answers
from .extraction import extract_choice, extract_number
from .gold import _parse_choice_gold, _parse_numeric_gold

_ANSWERS = tuple(f"answer{i}" for i in range(1, 6))
_LETTERS = tuple("ABCDE")


@dataclass(frozen=True)
class BenchmarkSpec:
    """How answers of one benchmark are extracted, read from the gold data, and compared.

    Attributes:
        name: the canonical name (lower case, ``_`` for separators).
        kind: ``"numeric"`` (numbers compared within tolerance) or ``"choice"`` (labels).
        choices: the labels of a choice benchmark, as its gold data writes them.
        abs_tol, rel_tol: default tolerances of a numeric benchmark (see :func:`compare_numbers`).
        aliases: other names that resolve to this benchmark (matched after normalisation).
        description: a line on the data and the convention.
    """

    name: str
    kind: Literal["numeric", "choice"]
    choices: tuple[str, ...] = ()
    abs_tol: float | None = None
    rel_tol: float | None = None
    aliases: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("numeric", "choice"):
            raise ValueError(f"Benchmark kind must be 'numeric' or 'choice', got {self.kind!r}.")
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"Choice benchmark {self.name!r} needs its choice labels.")

    def extract(self, text: str, *, strict: bool = False) -> Answer | None:
        """The answer in a model's output (see :func:`extract_number` and :func:`extract_choice`)."""
        if self.kind == "choice":
            return extract_choice(text, self.choices, strict=strict)
        return extract_number(text, strict=strict)

    def parse_gold(self, gold: object) -> Answer:
        """The gold answer as this benchmark's data writes it."""
        if self.kind == "choice":
            return _parse_choice_gold(gold, self.choices)
        return _parse_numeric_gold(gold)

    def compare(
        self, pred: Answer, gold: Answer, *, abs_tol: float | None = None, rel_tol: float | None = None
    ) -> bool:
        """Whether ``pred`` matches ``gold``; explicit tolerances replace the benchmark's pair."""
        if abs_tol is None and rel_tol is None:
            abs_tol, rel_tol = self.abs_tol, self.rel_tol
        return compare_answers(pred, gold, abs_tol=abs_tol, rel_tol=rel_tol)


def _numeric(name: str, description: str, *aliases: str, abs_tol: float = 1e-2) -> BenchmarkSpec:
    return BenchmarkSpec(name, "numeric", abs_tol=abs_tol, aliases=aliases, description=description)


def _choice(name: str, choices: Sequence[str], description: str, *aliases: str) -> BenchmarkSpec:
    return BenchmarkSpec(name, "choice", choices=tuple(choices), aliases=aliases, description=description)


_BUILTIN_BENCHMARKS = (
    _numeric("numeric", "any numeric answer; |pred - gold| <= 1e-2 as the ReFT rewards", "math", "number"),
    _numeric("gsm8k", "GSM8K; gold '#### 1,234' or a number"),
    _numeric("svamp", "SVAMP (LLM-Adapters and mwp-reft)"),
    _numeric("addsub", "AddSub (LLM-Adapters)"),
    _numeric("multiarith", "MultiArith (LLM-Adapters)"),
    _numeric("singleeq", "SingleEq (LLM-Adapters)"),
    _numeric("mawps", "MAWPS (LLM-Adapters)"),
    _numeric("mathqa_numeric", "MathQA with numeric answers (mwp-reft)"),
    BenchmarkSpec(
        "scibench",
        "numeric",
        rel_tol=0.05,
        aliases=("scibench_chemistry", "atkins", "chemmc", "matter", "quan"),
        description="SciBench; gold answer_number x the unit's power of ten, 5 % relative tolerance",
    ),
    _choice("aqua", _LETTERS, "AQuA-RAT, options (A)-(E)"),
    _choice("mathqa", _LETTERS, "MathQA, options a-e"),
    _choice("boolq", ("true", "false"), "BoolQ, 'the correct answer is true'"),
    _choice("piqa", ("solution1", "solution2"), "PIQA, 'the correct answer is solution1'"),
    _choice("social_i_qa", _ANSWERS[:3], "Social IQa, answer1-answer3", "siqa"),
    _choice("arc_challenge", _ANSWERS, "ARC-Challenge, answer1-answer5", "arc_c"),
    _choice("arc_easy", _ANSWERS, "ARC-Easy, answer1-answer5", "arc_e"),
    _choice("openbookqa", _ANSWERS[:4], "OpenBookQA, answer1-answer4", "obqa"),
    _choice("winogrande", ("option1", "option2"), "WinoGrande, option1/option2"),
    _choice("hellaswag", tuple(f"ending{i}" for i in range(1, 5)), "HellaSwag, ending1-ending4"),
)

BENCHMARKS: dict[str, BenchmarkSpec] = {}
_ALIASES: dict[str, str] = {}


def _normalize_name(name: str) -> str:
    return re.sub(r"[\s\-./]+", "_", name.strip().lower())


def register_benchmark(spec: BenchmarkSpec, *, overwrite: bool = False) -> BenchmarkSpec:
    """Add a benchmark (and its aliases) to the registry; refuses to replace one unless ``overwrite``."""
    names = [_normalize_name(spec.name), *(_normalize_name(alias) for alias in spec.aliases)]
    taken = [name for name in names if name in _ALIASES and _ALIASES[name] != names[0]]
    if (taken or names[0] in BENCHMARKS) and not overwrite:
        raise ValueError(f"Benchmark name(s) {taken or names[:1]} already registered; pass overwrite=True.")
    BENCHMARKS[names[0]] = spec
    _ALIASES.update(dict.fromkeys(names, names[0]))
    return spec


for _spec in _BUILTIN_BENCHMARKS:
    register_benchmark(_spec)


def get_benchmark(benchmark: str | BenchmarkSpec) -> BenchmarkSpec:
    """The registered benchmark for a name ("gsm8k", "ARC-Challenge", "SVAMP", "mathqa-numeric")."""
    if isinstance(benchmark, BenchmarkSpec):
        return benchmark
    key = _ALIASES.get(_normalize_name(benchmark))
    if key is None:
        raise ValueError(
            f"Unknown benchmark {benchmark!r}. Known benchmarks: {', '.join(sorted(BENCHMARKS))}."
        )
    return BENCHMARKS[key]


def extract_answer(
    text: str, benchmark: str | BenchmarkSpec = "numeric", *, strict: bool = False
) -> Answer | None:
    """The answer in a model's output, by the benchmark's strategy; ``None`` if there is none.

    ``strict=True`` accepts only an explicit answer (``\\boxed{}`` or an answer marker such as "The
    answer is X"), as the reinforced fine-tuning rewards do; the default also falls back to the last
    number (numeric sets) or the first label (choice sets), as LLM-Adapters and LoReFT score.
    """
    if not isinstance(text, str):
        raise TypeError(f"extract_answer expects model output text, got {type(text).__name__}.")
    return get_benchmark(benchmark).extract(text, strict=strict)


def parse_gold(gold: object, benchmark: str | BenchmarkSpec = "numeric") -> Answer:
    """A gold answer as the benchmark's data writes it (raises ``ValueError`` if it cannot be read)."""
    return get_benchmark(benchmark).parse_gold(gold)


def prediction_answer(
    pred: Answer | str | float | None, benchmark: str | BenchmarkSpec = "numeric", *, strict: bool = False
) -> Answer | None:
    """A prediction as an :class:`Answer`: text is extracted with the benchmark's strategy, a finite
    number is wrapped, an :class:`Answer` or ``None`` is passed through."""
    if pred is None or isinstance(pred, Answer):
        return pred
    if isinstance(pred, str):
        return get_benchmark(benchmark).extract(pred, strict=strict)
    if isinstance(pred, numbers.Real) and not isinstance(pred, bool):
        return Answer(value=float(pred), raw=str(pred)) if math.isfinite(pred) else None
    raise TypeError(f"A prediction must be text, a number, an Answer or None; got {type(pred).__name__}.")


def is_correct(
    pred: Answer | str | float | None,
    gold: object,
    benchmark: str | BenchmarkSpec = "numeric",
    *,
    abs_tol: float | None = None,
    rel_tol: float | None = None,
    strict: bool = False,
) -> bool:
    """Whether a prediction answers a gold answer correctly under the benchmark's rules.

    ``pred`` is model output text (extracted with :func:`extract_answer`), a number, an
    :class:`Answer` or ``None`` (no answer: wrong). ``gold`` is read with :func:`parse_gold`.
    Explicit tolerances replace the benchmark's defaults.
    """
    spec = get_benchmark(benchmark)
    prediction = prediction_answer(pred, spec, strict=strict)
    if prediction is None:
        return False
    return spec.compare(prediction, spec.parse_gold(gold), abs_tol=abs_tol, rel_tol=rel_tol)
