"""Every save is all or nothing: a process killed at any step of a save leaves the previous artefact or
the new one, never a mix, and the next save clears what the killed one left (issue 20, finding 4).

Each case saves version 1, then starts a child process that saves version 2 of the same folder and is
killed (``os._exit``) right after its k-th file-system change (a rename, a hard link, a directory
exchange), for every k until the save runs to its end; the folder must then read back as version 1
or version 2, whatever the implementation of the save.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

#: Child programs: ``save(version, folder)`` writes version 1 or 2 of an artefact.
ARTEFACTS = {
    "adapter": """
        import torch, hf_reft
        from transformers import LlamaForCausalLM
        from tiny_models import tiny_config
        def save(version, folder):
            torch.manual_seed(0)
            base = LlamaForCausalLM(tiny_config("llama"))
            torch.manual_seed(version)
            model = hf_reft.get_reft_model(base, hf_reft.ReftConfig(layers=[1], positions="l1", rank=2))
            model.config.base_model_name_or_path = "org/base"
            model.save_pretrained(folder)
    """,
    "policy with value head": """
        import torch
        from transformers import LlamaForCausalLM
        from hf_reft.reinforced import PolicyWithValueHead
        from tiny_models import make_tokenizer, tiny_config
        def save(version, folder):
            torch.manual_seed(version)
            PolicyWithValueHead(LlamaForCausalLM(tiny_config("llama"))).save_pretrained(folder, tokenizer=make_tokenizer())
    """,
    "toolbox": """
        from hf_reft.reftool.books import Reference
        from hf_reft.reftool.toolbox import Tool, Toolbox
        BOOK = Reference.from_markdown("# Matter\\n## Density\\nDensity is mass over volume.\\n## Moles\\nn = m / M.\\n")
        def save(version, folder):
            toolbox = Toolbox(BOOK, model="hand")
            sections = BOOK.sections[: version]
            for section in sections:
                name = "tool_" + section.number.replace(".", "_") + f"_v{version}"
                toolbox.add_section(section, [Tool(name, "A tool.", f"def {name}(x):\\n    return x * {version}\\n")])
            toolbox.created_at = toolbox.updated_at = "2026-12-05T00:00:00+00:00"  # the same in every run
            toolbox.save_pretrained(folder)
    """,
}


def _child(
    kind: str, folder: Path, version: int, kill_after: int | None = None
) -> subprocess.CompletedProcess:
    program = textwrap.dedent(ARTEFACTS[kind]) + textwrap.dedent(f"""
        import os
        from hf_reft import hub
        changes = [0]
        def counted(change):
            def run(*args, **kwargs):
                result = change(*args, **kwargs)
                changes[0] += 1
                if changes[0] == {kill_after!r}:
                    os._exit(9)
                return result
            return run
        if {kill_after!r} is not None:
            os.rename, os.replace, os.link = counted(os.rename), counted(os.replace), counted(os.link)
            hub._exchange = counted(hub._exchange)
        save({version}, {str(folder)!r})
    """)
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=300, cwd=HERE,
        env={**os.environ, "PYTHONPATH": str(HERE)},
    )  # fmt: skip


def _digest(path: Path) -> str:
    """A file's content; for safetensors its tensors and metadata (their header's key order varies
    from process to process)."""
    if path.suffix != ".safetensors":
        return hashlib.sha256(path.read_bytes()).hexdigest()
    from safetensors import safe_open

    digest = hashlib.sha256()
    with safe_open(str(path), "pt") as tensors:
        digest.update(repr(sorted((tensors.metadata() or {}).items())).encode())
        for key in sorted(tensors.keys()):
            digest.update(key.encode() + tensors.get_tensor(key).numpy().tobytes())
    return digest.hexdigest()


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): _digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(ARTEFACTS))
def test_a_save_killed_at_any_step_leaves_the_old_or_the_new_artefact(tmp_path, kind):
    reference = {}
    for version in (1, 2):
        folder = tmp_path / f"reference-v{version}"
        result = _child(kind, folder, version, None)
        assert result.returncode == 0, result.stderr[-2000:]
        reference[version] = _snapshot(folder)
    assert reference[1] != reference[2]
    # a file beside the artefact that no save writes (a log, checkpoints) survives every save
    for kill_after in range(1, 50):
        folder = tmp_path / f"killed-after-{kill_after}" / "artefact"
        assert _child(kind, folder, 1).returncode == 0
        (folder / "notes.txt").write_text("mine")
        killed = _child(kind, folder, 2, kill_after)
        assert killed.returncode in (0, 9), killed.stderr[-2000:]
        found = _snapshot(folder)
        assert found.pop("notes.txt") == hashlib.sha256(b"mine").hexdigest()
        assert found in (reference[1], reference[2]), f"{kind}, killed after change {kill_after}: a mix"
        # the next save cleans up what the killed one left and writes version 2
        assert _child(kind, folder, 2).returncode == 0
        found = _snapshot(folder)
        found.pop("notes.txt")
        assert found == reference[2]
        assert [p.name for p in folder.parent.iterdir()] == ["artefact"]  # no staging left
        if killed.returncode == 0:  # the save ran to its end before the k-th change: all were tried
            break
    else:
        pytest.fail("the save made more than 49 file-system changes")
