"""Hub I/O shared by every hf-reft artefact: model cards, atomic saves, push and pull.

Adapters, reinforced policies and toolboxes all go through the same four helpers:

* :func:`render_card` fills a Jinja template from ``model_cards/`` and returns a
  :class:`huggingface_hub.ModelCard` with YAML metadata (``library_name: hf-reft``,
  ``base_model``, ``base_model_relation``, tags, license).
* :func:`atomic_save` stages files in a temporary folder and moves them into place only
  when everything was written, so a failed save leaves the previous contents intact;
  :func:`save_tensors` writes an artefact's tensors into it as a safetensors file.
* :func:`push_to_hub` saves an artefact with its own ``save_pretrained`` into a
  temporary folder and uploads it with :func:`upload_folder`.
* :func:`resolve_folder` turns a local path or a Hub id into a local folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huggingface_hub import HfApi, ModelCard, ModelCardData, snapshot_download

if TYPE_CHECKING:
    import torch

__all__ = [
    "LIBRARY_NAME",
    "atomic_save",
    "card_template_path",
    "is_commit_hash",
    "is_hub_cache_folder",
    "looks_like_repo_id",
    "pinned_revision",
    "push_to_hub",
    "render_card",
    "resolve_folder",
    "save_tensors",
    "upload_folder",
]

LIBRARY_NAME = "hf-reft"
_COMMIT_HASH = re.compile(r"^[0-9a-f]{40}$")


# --------------------------------------------------------------------------- model cards
def _templates_dir() -> Path:
    """Where the card templates live: inside the wheel, or ``model_cards/`` of a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "model_cards", here.parent / "model_cards"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        "hf-reft's model card templates are missing: expected hf_reft/model_cards (wheel) or "
        "model_cards/ beside the package (source checkout). Reinstall hf-reft."
    )


def card_template_path(name: str | os.PathLike[str]) -> Path:
    """Return the path of card template ``name`` in ``model_cards/`` (or ``name`` if it is a file)."""
    if Path(name).is_file():
        return Path(name)
    path = _templates_dir() / name
    if not path.is_file():
        known = sorted(p.name for p in _templates_dir().glob("*.md"))
        raise FileNotFoundError(f"No model card template {name!r}; known templates: {known}.")
    return path


def render_card(
    template: str | os.PathLike[str],
    *,
    base_model: str | None = None,
    base_model_relation: str | None = None,
    tags: Sequence[str] = (),
    license: str | None = "apache-2.0",
    datasets: Sequence[str] | None = None,
    pipeline_tag: str | None = None,
    metadata: dict[str, Any] | None = None,
    **context: Any,
) -> ModelCard:
    """Render the card template ``template`` from ``model_cards/``.

    Args:
        template: file name of a Jinja template in ``model_cards/``.
        base_model: the base model's Hub id. Local paths are not Hub ids and are left out of
            the metadata (the Hub would reject them); they stay available to the template.
        base_model_relation: ``"adapter"``, ``"finetune"``, ... (metadata only when
            ``base_model`` is a Hub id).
        tags: extra tags; ``hf-reft`` is always added.
        license: SPDX-style license id for the metadata.
        datasets: Hub dataset ids used for training.
        pipeline_tag: e.g. ``"text-generation"``.
        metadata: further YAML metadata keys.
        **context: variables for the template body.
    """
    hub_base = base_model if base_model and looks_like_repo_id(base_model) else None
    card_data = ModelCardData(
        library_name=LIBRARY_NAME,
        base_model=hub_base,
        license=license,
        datasets=list(datasets) if datasets else None,
        pipeline_tag=pipeline_tag,
        tags=[LIBRARY_NAME, *[t for t in tags if t != LIBRARY_NAME]],
        **({"base_model_relation": base_model_relation} if hub_base and base_model_relation else {}),
        **(metadata or {}),
    )
    return ModelCard.from_template(
        card_data,
        template_path=str(card_template_path(template)),
        base_model=base_model,
        hub_base_model=hub_base,
        **context,
    )


def looks_like_repo_id(name: str) -> bool:
    """``org/name`` or ``name`` that is not an existing local path."""
    if os.path.exists(name) or name.startswith((".", "/", "~")):
        return False
    return re.fullmatch(r"[\w.\-]+(/[\w.\-]+)?", name) is not None


# --------------------------------------------------------------------------- atomic saves
_RENAME_EXCHANGE = 2  # renameat2(2) flag: swap two paths atomically


def _exchange(a: Path, b: Path) -> bool:
    """Swap the directories ``a`` and ``b`` in one atomic step (Linux ``renameat2``); ``False`` where
    the system or file system cannot."""
    import ctypes
    import ctypes.util
    import errno

    if sys.platform != "linux":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    if ctypes.get_errno() in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(ctypes.get_errno(), f"renameat2 could not exchange {a} and {b}")


def _carry_over(old: Path, new: Path, keep: Callable[[Path], bool] | None) -> None:
    """Hard-link (else copy) into ``new`` every file of ``old`` that ``new`` does not have (and that
    ``keep``, given the path relative to ``old``, keeps)."""
    for src in old.rglob("*"):
        if keep is not None and not keep(src.relative_to(old)):
            continue
        dest = new / src.relative_to(old)
        if src.is_dir() and not src.is_symlink():
            if not dest.exists():
                dest.mkdir(parents=True)
            continue
        if dest.exists() or dest.is_symlink():
            continue
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):  # the new save put a file where a folder was
            continue
        try:
            os.link(src, dest, follow_symlinks=False)
        except OSError:
            shutil.copy2(src, dest, follow_symlinks=False)


def _clean_leftovers(target: Path) -> None:
    """Remove what killed saves of ``target`` left beside it; restore a previous folder that a kill
    between the two renames of the fallback left aside."""
    for left in target.parent.glob(f".{target.name}.saving-*"):
        pid = left.name.rsplit(".saving-", 1)[1].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(left, ignore_errors=True)
    aside = sorted(target.parent.glob(f".{target.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if aside and not target.exists():
        os.rename(aside.pop(), target)
    for old in aside:
        shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells (``os.umask`` sets it, which
    other threads creating files at that moment would see)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def atomic_save(
    directory: str | os.PathLike[str], *, keep: Callable[[Path], bool] | None = None
) -> Iterator[Path]:
    """Stage a save into ``directory`` and commit it, all or nothing, only if the block succeeds.

    Yields a staging folder on the same file system. When the block returns, the files of
    ``directory`` the save did not write are hard-linked into the staging folder (so they stay:
    checkpoints, logs, an evaluation beside an adapter; ``keep(relative path)`` may drop some, e.g.
    files of an earlier save that this one replaces), and the staging folder takes the place of
    ``directory`` in one atomic step (``renameat2(RENAME_EXCHANGE)`` on Linux; elsewhere two renames,
    between which an interruption leaves the previous folder as ``.<name>.old-…``). A reader, or a
    process killed at any moment, sees the whole previous artefact or the whole new one, never a
    mix. When the block raises, the staging folder is removed and ``directory`` is as before; what a
    killed save left beside ``directory`` is cleaned up by the next save.

    Example::

        with atomic_save("my-adapter") as tmp:
            config.save_pretrained(tmp)
            save_tensors(tensors, tmp / "model.safetensors")
    """
    target = Path(directory)
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"Cannot save into {target}: it exists and is a file. Choose a folder path.")
    target.parent.mkdir(parents=True, exist_ok=True)
    _clean_leftovers(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.saving-{os.getpid()}-", dir=target.parent))
    try:
        yield staging
        # mkdtemp made the folder private (0700): give it the mode the folder had, or the usual one
        os.chmod(staging, target.stat().st_mode & 0o7777 if target.exists() else 0o777 & ~_umask())
        if not target.exists():
            os.rename(staging, target)
            return
        _carry_over(target, staging, keep)
        if _exchange(staging, target):  # staging now holds the previous folder
            return
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(target, old)
        os.rename(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def save_tensors(
    tensors: Mapping[str, torch.Tensor],
    path: str | os.PathLike[str],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write ``tensors`` (any shapes) to the safetensors file ``path``.

    Each tensor is written as a detached, contiguous CPU copy, so live parameters (on any
    device, sharing storage or not) can be passed as they are. The file's metadata is
    ``{"format": "pt"}`` plus ``metadata``.
    """
    from safetensors.torch import save_file  # imports torch: only when an artefact has tensors

    copies = {key: value.detach().to("cpu").contiguous().clone() for key, value in tensors.items()}
    save_file(copies, str(path), metadata={"format": "pt", **(metadata or {})})


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- push and pull
def upload_folder(
    folder: str | os.PathLike[str],
    repo_id: str,
    *,
    repo_type: str = "model",
    token: str | bool | None = None,
    private: bool | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
    commit_description: str | None = None,
    create_pr: bool = False,
    space_sdk: str | None = None,
    delete_patterns: Sequence[str] | None = None,
) -> Any:
    """Create ``repo_id`` if needed and upload ``folder`` to it in one commit.

    ``delete_patterns`` removes remote files matching them that ``folder`` does not hold (to mirror
    a folder). Returns the client's :class:`~huggingface_hub.CommitInfo`.
    """
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True, space_sdk=space_sdk)
    if revision is not None and not is_commit_hash(revision):
        api.create_branch(repo_id, branch=revision, repo_type=repo_type, exist_ok=True)
    return api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        repo_type=repo_type,
        revision=revision,
        commit_message=commit_message or "Upload with hf-reft",
        commit_description=commit_description,
        create_pr=create_pr,
        delete_patterns=list(delete_patterns) if delete_patterns else None,
    )


def push_to_hub(save: Callable[[Path], Any], repo_id: str, **upload: Any) -> Any:
    """Save an artefact with ``save(folder)`` into a temporary folder and upload it.

    ``upload`` holds the keyword arguments of :func:`upload_folder` (``repo_type``, ``token``,
    ``private``, ``revision``, ``commit_message``, ``create_pr``, ``space_sdk``). Every hf-reft
    artefact's ``push_to_hub`` is ``hub.push_to_hub(self.save_pretrained, ...)``.
    """
    with tempfile.TemporaryDirectory(prefix="hf-reft-push-") as tmp:
        save(Path(tmp))
        return upload_folder(tmp, repo_id, **upload)


def is_commit_hash(revision: str | None) -> bool:
    """Whether ``revision`` is a full 40-hex commit hash."""
    return bool(revision) and _COMMIT_HASH.match(revision) is not None


def is_hub_cache_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` lies in a Hugging Face cache snapshot (``.../models--org--name/snapshots/<commit>/...``,
    any cache folder): files downloaded from the Hub, however the path was reached (links resolved)."""
    parts = Path(path).expanduser().resolve().parts
    return any(
        parts[i] == "snapshots" and parts[i - 1].startswith(("models--", "datasets--", "spaces--"))
        for i in range(1, len(parts) - 1)
    )


def resolve_folder(
    name_or_path: str | os.PathLike[str],
    *,
    revision: str | None = None,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
    repo_type: str = "model",
    allow_patterns: Sequence[str] | None = None,
    force_download: bool = False,
) -> Path:
    """Return a local folder for ``name_or_path``: the folder itself, or a Hub snapshot."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise NotADirectoryError(f"{path} is a file; pass the folder that holds it.")
    name = str(name_or_path)
    if not looks_like_repo_id(name):
        raise FileNotFoundError(
            f"{name!r} is neither an existing folder nor a valid Hub repo id ('user/name')."
        )
    return Path(
        snapshot_download(
            name,
            repo_type=repo_type,
            revision=revision,
            token=token,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
            allow_patterns=list(allow_patterns) if allow_patterns else None,
            force_download=force_download,
        )
    )


def pinned_revision(name_or_path: str, revision: str | None = None) -> str | None:
    """The commit hash ``revision`` (default: the default branch) of Hub repo ``name_or_path`` points at;
    ``None`` for a local folder, or when neither the Hub nor the local cache can tell.

    Never raises and never waits long on an unreachable Hub: transformers' own best-effort
    resolution (the local cache in offline mode).
    """
    if is_commit_hash(revision):
        return revision
    if os.path.isdir(name_or_path) or not looks_like_repo_id(name_or_path):
        return None
    from transformers.utils.hub import resolve_revision

    resolved = resolve_revision(name_or_path, revision)
    commit = getattr(resolved, "resolved", None) or resolved
    return commit if is_commit_hash(commit) else None
