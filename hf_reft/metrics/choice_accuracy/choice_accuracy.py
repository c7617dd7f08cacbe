"""Multiple-choice accuracy: the share of predictions that pick the gold option."""

import datasets
import evaluate

from hf_reft.metrics import score_predictions

_DESCRIPTION = """
Accuracy of multiple-choice answers. Predictions are model outputs; the chosen option is extracted with
hf_reft.answers using the benchmark's labels (boolq: true/false, piqa: solution1/2, ARC, OpenBookQA and
Social IQa: answer1-5, WinoGrande: option1/2, AQuA and MathQA: letters A-E): first from \\boxed{} or
"the correct answer is X", else (unless strict) the first label in the text, as LLM-Adapters and LoReFT
score. References are the gold labels as the data writes them ("answer2", "true", "a").
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): model outputs (or labels).
    references (`list` of `str`): gold labels.
    benchmark (`str`, optional): the benchmark whose labels to use; defaults to the config name. Required.
    strict (`bool`, defaults to False): accept only explicit answers (boxed or "the answer is").
    return_details (`bool`, defaults to False): also return per-example `correct` and extracted `answers`.
Returns:
    accuracy (`float`): share of correct predictions.
    extracted (`float`): share of predictions from which a label was extracted.
    total (`int`): number of examples.
Examples:
    >>> metric = evaluate.load("hf_reft/metrics/choice_accuracy", config_name="boolq")
    >>> metric.compute(predictions=["the correct answer is true"], references=["true"])
    {'accuracy': 1.0, 'extracted': 1.0, 'total': 1}
"""

_CITATION = ""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ChoiceAccuracy(evaluate.Metric):
    """Multiple-choice accuracy, scored by hf_reft.answers with one label set per benchmark."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references, benchmark=None, **kwargs):
        if benchmark is None:
            if self.config_name == "default":
                raise ValueError(
                    "choice_accuracy needs the benchmark whose labels to use: "
                    "load(..., config_name='boolq') or compute(..., benchmark='boolq')."
                )
            benchmark = self.config_name
        return score_predictions(predictions, references, benchmark=benchmark, kind="choice", **kwargs)
