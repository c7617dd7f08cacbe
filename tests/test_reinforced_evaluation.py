"""Scoring completions (text and sandboxed programs), greedy accuracy, vote@k, resumable evaluation."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from hf_reft.answers import Answer
from hf_reft.data import load_data
from hf_reft.generation import Completion, SamplingParams, TransformersGenerator
from hf_reft.reinforced.evaluation import (
    EvaluationReport,
    Question,
    compare_greedy,
    evaluate_model,
    evaluate_policy,
    format_table,
    load_questions,
    rescore,
)
from hf_reft.reinforced.extraction import AnswerExtractor, extract_answers, extract_program
from hf_reft.reinforced.prompts import build_prompt
from hf_reft.reinforced.sft import WARMUP_INFO_NAME, WarmupInfo

from tiny_models import make_tokenizer, tiny_config

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


class ScriptedGenerator:
    """A :class:`~hf_reft.generation.Generator` that answers from a script.

    ``script`` maps a prompt to its completions, in order; greedy calls get the first one and
    sampling calls get the next ``num_samples``. Every call is recorded. ``fail_after`` raises
    after that many calls, like an evaluation interrupted half-way.
    """

    def __init__(self, script: dict[str, list[str]], fail_after: int | None = None) -> None:
        self.script = script
        self.calls: list[tuple[list[str], SamplingParams]] = []
        self.fail_after = fail_after

    def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[list[Completion]]:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt
        self.calls.append((list(prompts), params))
        out = []
        for i, prompt in enumerate(prompts):
            script = self.script[prompt]
            texts = script[1 : 1 + params.num_samples] if params.do_sample else script[:1]
            out.append([Completion(i, t, [1, 2, 3], True) for t in texts])
        return out


def nl(answer: object) -> str:
    return f"Some reasoning.\nTherefore, the answer is <{answer}>."


QUESTIONS = [Question(i, f"Question number {i}?", str(10 + i)) for i in range(6)]


def script_for(questions: Sequence[Question]) -> dict[str, list[str]]:
    """Greedy: right on even questions. Samples: a majority for the gold on questions 0-2."""
    script = {}
    for q in questions:
        gold = int(q.gold)
        greedy = nl(gold) if q.index % 2 == 0 else nl(gold + 1)
        if q.index < 3:
            samples = [nl(gold), "no answer here", nl(gold + 5), nl(gold)]
        else:
            samples = [nl(gold + 1), nl(gold + 1), nl(gold), "nothing"]
        script[build_prompt(q.question, "nl")] = [greedy, *samples]
    return script


# --------------------------------------------------------------------------------------- extraction


def test_nl_extraction_strict_and_lenient():
    texts = ["x = 3 + 4 = 7\nTherefore, the answer is <7>.", "I think 7 and then 9", "no number"]
    assert [a and a.value for a in extract_answers(texts, "nl")] == [7.0, None, None]
    assert [a and a.value for a in extract_answers(texts, "nl", strict=False)] == [7.0, 9.0, None]
    assert AnswerExtractor("nl").extract("Therefore, the answer is <1,250.5>.").value == 1250.5


def test_extract_program_follows_the_papers_rule():
    text = "def solution():\n    a = 2\n    return a * 3\n\nQuestion:\nmore text\ndef solution():\n    return 0\n"
    assert extract_program(text) == "def solution():\n    a = 2\n    return a * 3\n"
    assert extract_program("The answer is 5.") is None
    assert extract_program("  def solution():\n    return 1") is None  # not at the start of a line


def test_programs_run_in_the_sandbox():
    texts = [
        "def solution():\n    return 6 * 7\n\ntrailing prose that is not code",
        "def solution():\n    return math.sqrt(16) + sympy.Rational(1, 2)\n",  # the paper's prelude
        "def solution():\n    return 1 / 0\n",
        "def solution():\n    while True:\n        pass\n",
        "def solution():\n    import os\n    return os.getpid()\n",
        "def solution(:\n",
        "Just prose, no code. Therefore, the answer is <5>.",
        "def solution():\n    return 6 * 7\n",  # a repeat runs once and scores the same
        "def solution():\n    return None\n",
    ]
    from hf_reft.sandbox import SandboxPolicy

    extractor = AnswerExtractor("program", policy=SandboxPolicy(wall_time=2.0, cpu_time=2.0))
    results = extractor.extract_detailed(texts)
    assert [r.answer and r.answer.value for r in results] == [
        42.0,
        4.5,
        None,
        None,
        None,
        None,
        None,
        42.0,
        None,
    ]
    assert [r.status for r in results] == [
        "ok",
        "ok",
        "error",
        "timeout",
        "error",
        "error",
        "no_program",
        "ok",
        "no_answer",
    ]
    assert "ZeroDivisionError" in results[2].error
    assert results[0].program == "def solution():\n    return 6 * 7\n"


def test_gold_programs_of_the_training_data_score_right():
    rows, _ = load_data("svamp-program", SHARED, limit=30)
    answers = AnswerExtractor("program", benchmark="svamp").extract_batch(rows["answer_cot"])
    golds = [float(v) for v in rows["answer_value"]]
    assert all(a is not None and abs(a.value - g) <= 1e-2 for a, g in zip(answers, golds, strict=True))


def test_gold_nl_chains_of_thought_score_right():
    rows, _ = load_data("svamp-nl", SHARED, limit=100)
    answers = AnswerExtractor("nl", benchmark="svamp").extract_batch(rows["answer_cot"])
    golds = [float(v) for v in rows["answer_value"]]
    right = sum(a is not None and abs(a.value - g) <= 1e-2 for a, g in zip(answers, golds, strict=True))
    assert right >= 98, right


def test_bad_input():
    with pytest.raises(TypeError, match="text"):
        AnswerExtractor("nl").extract_batch([3])
    with pytest.raises(ValueError, match="'nl'"):
        AnswerExtractor("python")


# --------------------------------------------------------------------------------------- questions


def test_fixed_subsets_of_the_svamp_test_set():
    first, benchmark = load_questions("svamp-test", data_dir=SHARED, limit=300)
    rows = json.loads((SHARED / "mwp-reft" / "svamp_test_set.json").read_text())
    assert benchmark == "svamp" and len(first) == 300
    assert [q.question for q in first] == [r["question"] for r in rows[:300]]
    assert first[0].gold == rows[0]["answer_value"]
    sample, _ = load_questions("svamp-test", data_dir=SHARED, limit=50, sample_seed=1)
    again, _ = load_questions("svamp-test", data_dir=SHARED, limit=50, sample_seed=1)
    assert sample == again and len({q.index for q in sample}) == 50
    assert [q.index for q in sample] == sorted(q.index for q in sample)
    gsm, bench = load_questions("gsm8k-test", data_dir=SHARED, limit=2)
    assert bench == "gsm8k" and gsm[0].gold == "18"
    with pytest.raises(ValueError, match=r"custom data has no column 'question'.*--question-column"):
        load_questions([{"text": "q", "answer_value": 1}])


# --------------------------------------------------------------------------------------- evaluation


def test_greedy_and_vote_at_k():
    generator = ScriptedGenerator(script_for(QUESTIONS))
    report = evaluate_policy(generator, QUESTIONS, vote_k=4, vote_limit=4, batch_size=8, progress=False)
    assert [r["correct"] for r in report.greedy] == [True, False, True, False, True, False]
    assert report.greedy_accuracy.estimate == pytest.approx(0.5)
    assert (report.greedy_accuracy.low, report.greedy_accuracy.high) == pytest.approx(
        (0.1876, 0.8124), abs=1e-4
    )
    assert [r["correct"] for r in report.vote] == [True, True, True, False]
    first = report.vote[0]
    assert first["answers"] == [10.0, None, 15.0, 10.0] and first["vote"] == 10.0 and first["votes"] == 2
    assert first["samples_correct"] == 2 and len(first["completions"]) == 4
    assert report.vote[3]["vote"] == 14.0  # 2 votes for the wrong answer beat 1 for the right one
    greedy_calls = [c for c in generator.calls if not c[1].do_sample]
    vote_calls = [c for c in generator.calls if c[1].do_sample]
    assert [len(c[0]) for c in greedy_calls] == [6]
    assert [len(c[0]) for c in vote_calls] == [2, 2]  # batch_size 8 // k 4 questions per call
    assert vote_calls[0][1].temperature == 1.0 and vote_calls[0][1].top_k == 0
    summary = report.summary()
    assert summary["greedy_n"] == 6 and summary["vote_n"] == 4 and summary["vote_k"] == 4


def test_ties_go_to_the_answer_seen_first():
    q = Question(0, "Tie?", "3")
    script = {build_prompt("Tie?"): ["x", nl(3), nl(4), nl(4), nl(3)]}
    report = evaluate_policy(ScriptedGenerator(script), [q], greedy=False, vote_k=4, progress=False)
    assert report.vote[0]["vote"] == 3.0 and report.vote[0]["correct"]
    script = {build_prompt("Tie?"): ["x", nl(4), nl(3), nl(3), nl(4)]}
    report = evaluate_policy(ScriptedGenerator(script), [q], greedy=False, vote_k=4, progress=False)
    assert report.vote[0]["vote"] == 4.0 and not report.vote[0]["correct"]


def test_an_interrupted_evaluation_resumes_from_its_cache(tmp_path):
    cache = tmp_path / "eval.jsonl"
    whole = evaluate_policy(
        ScriptedGenerator(script_for(QUESTIONS)), QUESTIONS, vote_k=4, batch_size=8, progress=False
    )
    interrupted = ScriptedGenerator(script_for(QUESTIONS), fail_after=2)  # greedy batch + first vote batch
    with pytest.raises(KeyboardInterrupt):
        evaluate_policy(interrupted, QUESTIONS, vote_k=4, batch_size=8, cache_path=cache, progress=False)
    resumed_generator = ScriptedGenerator(script_for(QUESTIONS))
    resumed = evaluate_policy(
        resumed_generator, QUESTIONS, vote_k=4, batch_size=8, cache_path=cache, progress=False
    )
    assert len(resumed_generator.calls) == 2  # only the two vote batches that had not finished
    assert all(c[1].do_sample for c in resumed_generator.calls)
    assert resumed.greedy == whole.greedy and resumed.vote == whole.vote
    with pytest.raises(ValueError, match="written by another run"):
        evaluate_policy(
            resumed_generator, QUESTIONS, vote_k=2, batch_size=8, cache_path=cache, progress=False
        )


def test_report_save_load_table_and_paired_comparison(tmp_path):
    base = evaluate_policy(
        ScriptedGenerator(script_for(QUESTIONS)), QUESTIONS, progress=False, model_name="base"
    )
    better_script = {build_prompt(q.question): [nl(q.gold)] for q in QUESTIONS}
    better = evaluate_policy(ScriptedGenerator(better_script), QUESTIONS, progress=False, model_name="tuned")
    assert better.greedy_accuracy.estimate == pytest.approx(1.0)
    diff = compare_greedy(base, better)
    assert diff.estimate == pytest.approx(0.5) and diff.high <= 1.0
    path = base.save(tmp_path / "report.json")
    loaded = EvaluationReport.load(path)
    assert loaded.greedy == base.greedy and loaded.settings == base.settings
    table = format_table([base, better], names=["base", "warm-up"])
    assert "| base | nl | 50.0 [18.8, 81.2] | 6 | 100 |" in table
    assert "| warm-up | nl | 100.0 [61.0, 100.0] | 6 |" in table


def test_rescore_under_another_rule_or_format():
    script = {build_prompt(q.question): ["The result is " + q.gold, "x"] for q in QUESTIONS[:2]}
    report = evaluate_policy(ScriptedGenerator(script), QUESTIONS[:2], progress=False)
    assert (
        report.greedy_accuracy.estimate == 0.0 and report.greedy_answer_rate == 0.0
    )  # strict: no answer sentence
    lenient = rescore(report, strict=False)
    assert lenient.greedy_accuracy.estimate == 1.0 and not lenient.settings.strict
    as_programs = rescore(report, format="program")
    assert as_programs.settings.format == "program"
    assert {r["status"] for r in as_programs.greedy} == {"no_program"}


def test_argument_checks():
    with pytest.raises(ValueError, match="Nothing to evaluate"):
        evaluate_policy(ScriptedGenerator({}), QUESTIONS, greedy=False, progress=False)
    with pytest.raises(ValueError, match="vote_k"):
        evaluate_policy(ScriptedGenerator({}), QUESTIONS, vote_k=-1, progress=False)


# ----------------------------------------------------------------------------------- real generation


@pytest.fixture
def tiny_policy(tmp_path):
    torch.manual_seed(0)
    folder = tmp_path / "warmup"
    model = AutoModelForCausalLM.from_config(tiny_config("llama"))
    model.save_pretrained(folder)
    tokenizer = make_tokenizer()
    tokenizer.save_pretrained(folder)
    return folder, model, tokenizer


def test_vote_sampling_is_seeded_per_batch(tiny_policy, tmp_path):
    _, model, tokenizer = tiny_policy
    generator = TransformersGenerator(model.eval(), tokenizer, batch_size=8)
    kwargs = {
        "greedy": False,
        "vote_k": 2,
        "max_new_tokens": 6,
        "batch_size": 4,
        "progress": False,
        "seed": 5,
    }
    one = evaluate_policy(generator, QUESTIONS[:4], **kwargs)
    two = evaluate_policy(generator, QUESTIONS[:4], **kwargs)
    assert [r["completions"] for r in one.vote] == [r["completions"] for r in two.vote]
    # a run that is resumed from its cache samples what an uninterrupted one does
    cache = tmp_path / "c.jsonl"
    first_batch = evaluate_policy(generator, QUESTIONS[:2], cache_path=cache, **{**kwargs, "vote_limit": 2})
    assert first_batch.vote == one.vote[:2]
    resumed = evaluate_policy(generator, QUESTIONS[:4], cache_path=cache, **{**kwargs, "vote_limit": 4})
    assert resumed.vote == one.vote
    other_seed = evaluate_policy(generator, QUESTIONS[:4], **{**kwargs, "seed": 6})
    assert [r["completions"] for r in other_seed.vote] != [r["completions"] for r in one.vote]


def test_evaluate_model_reads_the_warm_up_format(tiny_policy, tmp_path):
    folder, _, _ = tiny_policy
    info = WarmupInfo(format="program", policy="full")
    (folder / WARMUP_INFO_NAME).write_text(json.dumps(asdict(info)))
    data = tmp_path / "test.json"
    data.write_text(json.dumps([{"question": "Tom has 3 apples. How many?", "answer_value": "3"}] * 3))
    report = evaluate_model(str(folder), str(data), max_new_tokens=4, progress=False)
    assert report.settings.format == "program" and report.settings.benchmark == "numeric"
    assert len(report.greedy) == 3 and report.greedy[0]["tokens"] <= 4
    assert report.greedy[0]["status"] == "no_program"  # a random model writes no program
    nl_report = evaluate_model(str(folder), str(data), format="nl", max_new_tokens=4, progress=False)
    assert nl_report.settings.format == "nl"


def test_answer_objects_survive_the_report():
    q = Question(0, "Fraction?", "0.75")
    script = {build_prompt("Fraction?"): ["Therefore, the answer is 3/4."]}
    report = evaluate_policy(ScriptedGenerator(script), [q], progress=False)
    assert report.greedy[0]["answer"] == Answer(0.75).value and report.greedy[0]["correct"]
