"""Removing what a program left behind, whatever shape it has.

``shutil.rmtree`` recurses once per directory level (a 3,000-deep nest raises ``RecursionError``),
builds paths longer than ``PATH_MAX`` and gives up on a directory without permissions.
:func:`remove_tree` walks down and up one directory at a time through file descriptors, so depth,
path length and ``chmod 000`` do not matter, it never follows a symbolic link, and it holds at most
two descriptors at a time.
"""

from __future__ import annotations

import contextlib
import os
import stat

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_directory(name: str, parent: int | None) -> int:
    """Open the directory ``name`` (relative to ``parent``), granting ourselves access if we own it."""
    try:
        fd = os.open(name, _DIRECTORY, dir_fd=parent)
    except PermissionError:
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
        if not stat.S_ISDIR(info.st_mode):
            raise
        os.chmod(name, 0o700, dir_fd=parent)  # a directory (no link to follow): chmod 000 undone
        fd = os.open(name, _DIRECTORY, dir_fd=parent)
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o700)  # write and search permission, to empty it
    return fd


def remove_tree(path: str | os.PathLike[str]) -> None:
    """Remove ``path`` and everything below it; a missing ``path`` is fine, a link is removed, not followed.

    Errors other than a vanished entry propagate (``OSError``): the caller decides whether a
    leftover matters.
    """
    path = os.fspath(path)
    try:
        fd = _open_directory(path, None)
    except FileNotFoundError:
        return
    except (NotADirectoryError, OSError) as error:
        if isinstance(error, NotADirectoryError) or not os.path.isdir(path) or os.path.islink(path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return
        raise
    names: list[str] = []  # the directories we went down through, from path
    try:
        while True:
            below = None
            with os.scandir(fd) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        below = entry.name
                        break
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.name, dir_fd=fd)
            if below is not None:
                child = _open_directory(below, fd)
                os.close(fd)
                fd = child
                names.append(below)
                continue
            if not names:
                break
            parent = os.open("..", _DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = parent
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(names.pop(), dir_fd=fd)
    finally:
        os.close(fd)
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(path)
