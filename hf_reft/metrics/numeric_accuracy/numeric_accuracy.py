"""Numeric-answer accuracy: the share of predictions whose number matches the gold within tolerance."""

import datasets
import evaluate

from hf_reft.metrics import score_predictions

_DESCRIPTION = """
Accuracy of numeric answers. Predictions are model outputs (the final answer is extracted with
hf_reft.answers: \\boxed{}, "The answer is X", "#### X", then the last number) or numbers; references
are gold answers as the data writes them ("#### 1,234", "203.0", 18). A prediction is correct when
|pred - gold| <= abs_tol or the relative difference <= rel_tol (math.isclose); a percentage also counts
as a fraction. The benchmark (config name or `benchmark=`) sets the default tolerances: 1e-2 absolute
for math word problems, 5 % relative for SciBench.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`, `float` or `None`): model outputs, or extracted numbers (None: no answer).
    references (`list` of `str` or `float`): gold answers.
    benchmark (`str`, optional): benchmark whose strategy to use; defaults to the config name, else "numeric".
    abs_tol (`float`, optional): absolute tolerance; replaces the benchmark's tolerances when given.
    rel_tol (`float`, optional): relative tolerance; replaces the benchmark's tolerances when given.
    strict (`bool`, defaults to False): accept only explicit answers (boxed or "the answer is"), no last-number fallback.
    reference_units (`list` of `str`, optional): SciBench gold units; references are then scaled by their power of ten.
    return_details (`bool`, defaults to False): also return per-example `correct` and extracted `answers`.
Returns:
    accuracy (`float`): share of correct predictions.
    extracted (`float`): share of predictions from which an answer was extracted.
    total (`int`): number of examples.
Examples:
    >>> metric = evaluate.load("hf_reft/metrics/numeric_accuracy")
    >>> metric.compute(predictions=["So 3 + 4 = 7. The answer is 7."], references=["7.0"])
    {'accuracy': 1.0, 'extracted': 1.0, 'total': 1}
"""

_CITATION = ""


def _features(prediction: str, reference: str) -> datasets.Features:
    return datasets.Features(
        {"predictions": datasets.Value(prediction), "references": datasets.Value(reference)}
    )


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class NumericAccuracy(evaluate.Metric):
    """Numeric-answer accuracy with configurable tolerance, scored by hf_reft.answers."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                _features(prediction, reference)
                for prediction in ("string", "float64")
                for reference in ("string", "float64")
            ],
        )

    def _compute(self, predictions, references, benchmark=None, **kwargs):
        if benchmark is None:
            benchmark = "numeric" if self.config_name == "default" else self.config_name
        return score_predictions(predictions, references, benchmark=benchmark, kind="numeric", **kwargs)
