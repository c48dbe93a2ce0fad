"""Kubernetes Secret volumes: the one place a group-readable token file is how it should be.

The kubelet writes a Secret volume atomically: each key is a symlink
``KEY -> ..data/KEY``, ``..data`` a symlink to a timestamped folder that
holds the files. With a pod ``fsGroup`` and ``defaultMode: 0440`` the file is
owned by that group and readable by it, which is the documented way to let
a non-root container read it; nobody else on the node can. Such a file is
not "readable by group or others" in the sense of ``token.file_insecure``,
as long as others cannot read it and the group cannot write it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DATA_LINK = "..data"


def in_secret_volume(path: str) -> bool:
    """``path`` is a key of a Kubernetes atomic-writer volume: a symlink into ``..data/`` beside it."""
    file_path = Path(path)
    try:
        if not file_path.is_symlink() or not (file_path.parent / DATA_LINK).is_symlink():
            return False
        target = os.readlink(file_path)
    except OSError:
        return False
    return Path(target).parts[:1] == (DATA_LINK,)


def acceptable_secret_mode(path: str, mode: int) -> bool:
    """A group-readable mode that is right for a Secret volume key: no access for others, no group write."""
    no_others = not mode & stat.S_IRWXO
    no_group_write = not mode & (stat.S_IWGRP | stat.S_IXGRP)
    return no_others and no_group_write and in_secret_volume(path)
