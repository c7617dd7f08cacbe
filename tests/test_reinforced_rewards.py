"""The built-in 1 / 0.1 / 0 reward, user reward functions, and a plugged-in generator."""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM

from hf_reft.answers import Answer
from hf_reft.generation import Completion, Generator, SamplingParams
from hf_reft.reinforced.configuration import ReinforcedConfig
from hf_reft.reinforced.prompts import build_prompt
from hf_reft.reinforced.rewards import AnswerReward, answer_reward, compute_rewards
from hf_reft.reinforced.trainer import ReinforcedTrainer

from tiny_models import make_tokenizer, tiny_config


def test_answer_reward_values_and_tolerance():
    assert answer_reward(Answer(8.0), "8.0") == 1.0
    assert answer_reward(Answer(8.009), "8") == 1.0  # |pred - gold| <= 1e-2
    assert answer_reward(Answer(8.02), "8") == 0.1
    assert answer_reward(Answer(-3.0), "3") == 0.1
    assert answer_reward(Answer("B"), "8") == 0.1  # an answer, but not a number
    assert answer_reward(None, "8") == 0.0
    # the benchmark's rule decides, as in evaluation: SciBench's 5 % relative tolerance
    assert answer_reward(Answer(104.0), "100", benchmark="scibench") == 1.0
    assert answer_reward(Answer(104.0), "100") == 0.1
    assert answer_reward(Answer(8.02), "8", abs_tol=0.05) == 1.0


def test_rewards_and_evaluation_agree_on_what_is_correct():
    from hf_reft.answers import is_correct

    cases = [(8.0, "8"), (8.009, "8"), (8.011, "8"), (-3.0, "3"), (1234.0, "#### 1,234"), (0.5, "50%")]
    for value, gold in cases:
        assert (answer_reward(Answer(value), gold) == 1.0) == is_correct(Answer(value), gold, "numeric"), gold


def test_builtin_reward_on_natural_language_completions():
    reward = AnswerReward("nl")
    completions = [
        "3 + 5 = 8 apples.\nTherefore, the answer is <8>.",
        "3 * 5 = 15.\nTherefore, the answer is <15>.",
        "He has 8 apples.",  # no explicit answer: the paper's strict rule gives no reward
        "Therefore, the answer is <1,234>.",
    ]
    golds = ["8.0", "8.0", "8.0", "1234.0"]
    assert reward(["q"] * 4, completions, answer_value=golds, question=["x"] * 4) == [1.0, 0.1, 0.0, 1.0]
    with pytest.raises(KeyError, match="answer_column"):
        reward(["q"], ["Therefore, the answer is <8>."], gold=["8"])


def test_builtin_reward_runs_programs_in_the_sandbox():
    reward = AnswerReward("program")
    completions = [
        "def solution():\n    apples = 3\n    result = apples + 5\n    return result\n",
        "def solution():\n    return 3 * 5\n",
        "def solution():\n    return 1 / 0\n",  # raises: no answer
        "the answer is 8",  # no program
    ]
    assert reward(["q"] * 4, completions, answer_value=["8"] * 4) == [1.0, 0.1, 0.0, 0.0]


def test_reward_functions_must_return_one_finite_float_per_completion():
    torch.testing.assert_close(
        compute_rewards(
            lambda prompts, completions, **kw: [len(x) for x in completions], ["a", "b"], ["xy", "z"], {}
        ),
        torch.tensor([2.0, 1.0]),
    )
    with pytest.raises(ValueError, match="returned 1 rewards for 2"):
        compute_rewards(lambda prompts, completions, **kw: [1.0], ["a", "b"], ["x", "y"], {})
    with pytest.raises(ValueError, match="NaN"):
        compute_rewards(lambda prompts, completions, **kw: [float("nan")], ["a"], ["x"], {})
    with pytest.raises(TypeError, match="one float \\(or None\\) per completion"):
        compute_rewards(lambda prompts, completions, **kw: None, ["a"], ["x"], {})


def test_reward_functions_are_called_by_keyword_as_in_trl_and_weighted():
    def length_reward(completions, **kwargs):  # TRL's signature: no prompts, columns by keyword
        return [float(len(c)) for c in completions]

    def gold_reward(prompts, completions, answer_value, **kwargs):
        return [1.0 if a in c else 0.0 for c, a in zip(completions, answer_value, strict=True)]

    def only_long(completions, **kwargs):  # None: does not apply to that completion
        return [1.0 if len(c) > 3 else None for c in completions]

    columns = {"answer_value": ["8", "3"]}
    rewards = compute_rewards([length_reward, gold_reward], ["q1", "q2"], ["is 8", "x"], columns, [0.5, 2.0])
    torch.testing.assert_close(rewards, torch.tensor([0.5 * 4 + 2.0, 0.5 * 1]))
    torch.testing.assert_close(
        compute_rewards([only_long, gold_reward], ["q1", "q2"], ["is 8", "x"], columns),
        torch.tensor([2.0, 0.0]),
    )
    with pytest.raises(ValueError, match="No reward function scored completion 1"):
        compute_rewards(only_long, ["q1", "q2"], ["is 8", "x"], columns)
    with pytest.raises(ValueError, match="need as many reward_weights"):
        compute_rewards([length_reward, gold_reward], ["q"], ["x"], columns, [1.0])


class CannedGenerator:
    """A stand-in engine: returns fixed texts, tokenized, for whatever prompts it gets."""

    def __init__(self, tokenizer, texts):
        self.tokenizer, self.texts, self.prompts = tokenizer, texts, []

    def generate(self, prompts, params: SamplingParams):
        self.prompts.extend(prompts)
        out = []
        for i, prompt in enumerate(prompts):
            ids = self.tokenizer(prompt)["input_ids"]
            group = []
            for j in range(params.num_samples):
                text = self.texts[(i * params.num_samples + j) % len(self.texts)]
                tokens = self.tokenizer(text, add_special_tokens=False)["input_ids"] + [
                    self.tokenizer.eos_token_id
                ]
                group.append(Completion(i, text, tokens, True, ids))
            out.append(group)
        return out


def test_trainer_builds_prompts_from_questions_and_uses_the_builtin_reward_and_a_plugged_generator(tmp_path):
    tokenizer = make_tokenizer()
    texts = ["3 + 5 = 8. Therefore, the answer is <8>.", "Therefore, the answer is <7>.", "no idea"]
    generator = CannedGenerator(tokenizer, texts)
    assert isinstance(generator, Generator)
    torch.manual_seed(0)
    trainer = ReinforcedTrainer(
        AutoModelForCausalLM.from_config(tiny_config("llama")),
        ReinforcedConfig(
            output_dir=str(tmp_path),
            per_device_train_batch_size=1,
            samples_per_question=3,
            max_steps=1,
            report_to="none",
            use_cpu=True,
            disable_tqdm=True,
        ),
        train_dataset=Dataset.from_dict(
            {"question": ["Tom has 3 apples and buys 5 more."], "answer_value": ["8.0"]}
        ),
        processing_class=tokenizer,
        generator=generator,
    )
    (reward,) = trainer.reward_funcs
    assert isinstance(reward, AnswerReward) and reward.format == "nl"
    trainer.train()
    assert generator.prompts == [build_prompt("Tom has 3 apples and buys 5 more.", "nl")]
    log = next(h for h in trainer.state.log_history if "reward" in h)
    assert log["reward"] == pytest.approx((1.0 + 0.1 + 0.0) / 3)
    assert log["accuracy"] == pytest.approx(1 / 3)
