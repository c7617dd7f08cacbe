"""Resumable results (hf_reft.results): torn last lines, headers that name the run, one write per batch."""

from __future__ import annotations

import json

import pytest

from hf_reft.results import ResultsLog, ResultsMismatchError, append_jsonl, read_jsonl


def test_a_torn_last_line_is_dropped_and_cut_before_the_next_append(tmp_path, caplog):
    path = tmp_path / "r.jsonl"
    append_jsonl(path, [{"i": 0}, {"i": 1}])
    path.write_text(path.read_text() + '{"i": 2, "tex')  # an interrupted write
    assert read_jsonl(path) == [{"i": 0}, {"i": 1}]
    assert "torn last line" in caplog.text
    append_jsonl(path, [{"i": 2}])
    assert read_jsonl(path) == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert path.read_text().count("\n") == 3


def test_a_broken_line_elsewhere_is_an_error_naming_it(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"i": 0}\nnot json\n{"i": 2}\n')
    with pytest.raises(ValueError, match="line 2"):
        read_jsonl(path)
    path.write_text('{"i": 0}\n[1, 2]\n')
    with pytest.raises(ValueError, match="line 2, is not a JSON object"):
        read_jsonl(path)
    assert read_jsonl(tmp_path / "missing.jsonl") == []


def test_a_log_resumes_only_the_run_that_wrote_it(tmp_path):
    path = tmp_path / "eval.jsonl"
    run = {"kind": "test", "model": "m1", "data": "svamp-test", "settings": {"max_new_tokens": 8}}
    log = ResultsLog(path, **run)
    log.append([{"index": 0, "correct": True}, {"index": 1, "correct": False}])
    header = json.loads(path.read_text().splitlines()[0])
    assert header["model"] == "m1" and header["settings"] == {"max_new_tokens": 8} and header["fingerprint"]

    again = ResultsLog(path, **run)
    assert again.records == [{"index": 0, "correct": True}, {"index": 1, "correct": False}]
    again.append([{"index": 2, "correct": True}])
    assert len(ResultsLog(path, **run)) == 3

    with pytest.raises(ResultsMismatchError, match=r"model: 'm1' there, 'm2' now"):
        ResultsLog(path, **{**run, "model": "m2"})
    with pytest.raises(ResultsMismatchError, match="settings"):
        ResultsLog(path, **{**run, "settings": {"max_new_tokens": 16}})


def test_a_file_without_a_header_is_refused_and_memory_only_logs_work(tmp_path):
    path = tmp_path / "old.jsonl"
    path.write_text('{"index": 0, "prompt": "p", "completion": "c"}\n')
    with pytest.raises(ResultsMismatchError, match="without a header"):
        ResultsLog(path, kind="test")
    log = ResultsLog(None, kind="test")
    log.append([{"a": 1}])
    assert log.records == [{"a": 1}] and not list(tmp_path.glob("*.tmp"))
