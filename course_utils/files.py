"""Put a finished folder in place: the last step of every build-then-rename in the course."""
from __future__ import annotations

import os
import shutil
from pathlib import Path


def replace_folder(ready: str | Path, target: str | Path) -> Path:
    """Move the complete folder ``ready`` to ``target``, replacing what was there.

    Builders write into a staging folder next to ``target`` and call this only
    when everything checked out, so a reader never sees a half-built folder.
    """
    ready, target = Path(ready), Path(target)
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(ready, target)
    return target
