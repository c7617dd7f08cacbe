"""Verifier reranking: labelling sampled solutions, training the classifier, rerank@k beside greedy
and vote@k, and the CLI (``hf-reft reinforced verifier`` / ``evaluate --verifier``), on tiny models."""

from __future__ import annotations

import json

import pytest
import torch
from test_reinforced_evaluation import QUESTIONS, ScriptedGenerator, script_for
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

from hf_reft.cli import main
from hf_reft.reinforced.evaluation import EvaluationReport, evaluate_policy, format_table
from hf_reft.reinforced.extraction import AnswerExtractor
from hf_reft.reinforced.verifier import Verifier, label_completions, rerank, rerank_report, train_verifier

from tiny_models import make_tokenizer, tiny_config


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def base_folder(tmp_path):
    torch.manual_seed(0)
    folder = tmp_path / "base"
    AutoModelForCausalLM.from_config(tiny_config("llama")).save_pretrained(folder)
    make_tokenizer().save_pretrained(folder)
    return folder


def nl(answer: object) -> str:
    return f"Some reasoning.\nTherefore, the answer is <{answer}>."


def test_rerank_picks_the_highest_scored_extractable_answer():
    assert rerank([None, 3.0, 4.0, 5.0], [9.0, 1.0, 2.0, -1.0]) == 2  # the unanswered sample is skipped
    assert rerank([3.0, 4.0], [2.0, 2.0]) == 0  # ties: the first
    assert rerank([None, None], [1.0, 2.0]) is None
    with pytest.raises(ValueError, match="2 answers but 1 scores"):
        rerank([1.0, 2.0], [1.0])


def test_sampled_solutions_are_labelled_by_the_shared_extraction():
    data = label_completions(
        ["Q1 ", "Q2 "],
        [[nl(8), nl(9), "no answer"], [nl("7.001")]],
        ["8", "7"],
        extractor=AnswerExtractor("nl"),
    )
    assert data["label"] == [1, 0, 0, 1]  # |pred - gold| <= 1e-2 counts as right
    assert data["text"][0] == "Q1 " + nl(8) and data["question_index"] == [0, 0, 0, 1]
    assert data["answer"] == ["8.0", "9.0", None, "7.001"]
    with pytest.raises(ValueError, match="one entry per question"):
        label_completions(["Q"], [], ["1"], extractor=AnswerExtractor("nl"))


def odd_answers_first(texts):
    """A verifier preferring odd answers, and scoring unanswered texts highest (they must be skipped)."""
    extractor = AnswerExtractor("nl")
    return [100.0 if (a := extractor.extract(t)) is None else float(int(a.value) % 2) for t in texts]


def test_evaluation_reports_greedy_vote_and_rerank_side_by_side(tmp_path):
    report = evaluate_policy(
        ScriptedGenerator(script_for(QUESTIONS)),
        QUESTIONS,
        vote_k=4,
        vote_limit=4,
        batch_size=8,
        progress=False,
        verifier=odd_answers_first,
    )
    # samples: q0 [10, -, 15, 10], q1 [11, -, 16, 11], q2 [12, -, 17, 12], q3 [14, 14, 13, -]
    assert [r["rerank"] for r in report.vote] == [15.0, 11.0, 17.0, 13.0]
    assert [r["rerank_correct"] for r in report.vote] == [False, True, False, True]
    assert [r["correct"] for r in report.vote] == [True, True, True, False]
    assert report.vote[0]["scores"] == [0.0, 100.0, 1.0, 0.0]
    assert report.rerank_accuracy.estimate == pytest.approx(0.5)
    summary = report.summary()
    assert summary["rerank_accuracy"]["estimate"] == pytest.approx(0.5)
    table = format_table([report])
    assert "rerank@k acc." in table.splitlines()[0] and "rerank@4: 50.0" in table
    # a report without reranking keeps its columns, and says "—" beside a reranked one
    plain = evaluate_policy(ScriptedGenerator(script_for(QUESTIONS)), QUESTIONS, vote_k=4, progress=False)
    assert plain.rerank_accuracy is None and plain.summary()["rerank_accuracy"] is None
    assert "rerank" not in plain.table()
    both = format_table([plain, report], names=["plain", "reranked"]).splitlines()
    assert both[2].endswith("| — |") and "rerank@4" in both[3]
    # saved and loaded, the reranked records survive
    report.save(tmp_path / "r.json")
    assert EvaluationReport.load(tmp_path / "r.json").rerank_accuracy.estimate == pytest.approx(0.5)


def test_a_verifier_trained_on_labelled_solutions_ranks_right_above_wrong(base_folder, tmp_path):
    prompts = [f"Question: Tom has {i} apples and buys 5 more. How many?\n" for i in range(12)]
    golds = ["8"] * 12  # right solutions end in <8>, wrong ones in <5>: learnable by a tiny random model
    completions = [[nl(8), nl(5)] for _ in range(12)]
    data = label_completions(prompts, completions, golds, extractor=AnswerExtractor("nl"))
    train, held_out = data.select(range(16)), data.select(range(16, 24))
    verifier = train_verifier(
        base_folder,
        train,
        tmp_path / "verifier",
        num_train_epochs=15,
        learning_rate=1e-2,
        per_device_train_batch_size=8,
        seed=0,
        disable_tqdm=True,
    )
    assert isinstance(
        verifier.model, AutoModelForSequenceClassification._model_mapping[type(verifier.model.config)]
    )
    scores = verifier.score(held_out["text"])
    right = [s for s, y in zip(scores, held_out["label"], strict=True) if y == 1]
    wrong = [s for s, y in zip(scores, held_out["label"], strict=True) if y == 0]
    assert min(right) > max(wrong), (right, wrong)
    loaded = Verifier.from_pretrained(tmp_path / "verifier")
    assert loaded.score(held_out["text"]) == pytest.approx(scores, abs=1e-5)
    # rerank_report uses it on stored vote records
    report = evaluate_policy(ScriptedGenerator(script_for(QUESTIONS)), QUESTIONS, vote_k=4, progress=False)
    rerank_report(report, loaded)
    assert all(len(r["scores"]) == 4 for r in report.vote) and report.rerank_accuracy is not None


def test_a_verifier_needs_both_labels(base_folder, tmp_path):
    data = label_completions(["Q "], [[nl(1), nl(2)]], ["3"], extractor=AnswerExtractor("nl"))
    with pytest.raises(ValueError, match="only one label"):
        train_verifier(base_folder, data, tmp_path / "v")


def run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_trains_and_evaluate_reranks_with_it(base_folder, tmp_path, capsys):
    test = tmp_path / "test.json"
    test.write_text(
        json.dumps([{"question": f"Ann has {i} pears.", "answer_value": str(i)} for i in range(2)])
    )
    # a random tiny policy answers nothing: every solution is wrong, and the command says what to do
    code, _, err = run(
        ["reinforced", "verifier", "--model", str(base_folder), "--data", str(test), "--k", "2",
         "--max-new-tokens", "4", "--output", str(tmp_path / "v")],
        capsys,
    )  # fmt: skip
    assert code == 2 and "only one label" in err and "larger k" in err
    code, _, err = run(
        ["reinforced", "evaluate", "--model", str(base_folder), "--data", str(test), "--verifier", "x"],
        capsys,
    )
    assert code == 2 and "--verifier reranks the vote@k samples; add --vote-k K" in err
    # a verifier folder (trained above on labelled text) reranks the vote samples of `evaluate`
    data = label_completions(["Q "] * 2, [[nl(1), nl(2)]] * 2, ["1", "1"], extractor=AnswerExtractor("nl"))
    train_verifier(base_folder, data, tmp_path / "verifier", max_steps=1, disable_tqdm=True)
    code, out, err = run(
        ["reinforced", "evaluate", "--model", str(base_folder), "--data", str(test), "--vote-k", "2",
         "--max-new-tokens", "4", "--verifier", str(tmp_path / "verifier"), "--output", str(tmp_path / "e.json"),
         "--no-progress"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "rerank@2:" in out and "vote@2:" in out
    saved = json.loads((tmp_path / "e.json").read_text())
    assert saved["summary"]["rerank_accuracy"] is not None and "scores" in saved["vote"][0]
