"""The course's public home, kept in one place: badges and install cells derive from it.

Both point at the release the notebooks belong to, the tag ``v<version>`` (the version in
pyproject.toml), never at a moving branch: the badge opens the release's notebook, and its Colab cell
installs the same release's course_utils. A release bumps the version, runs ``make colab-cell``
(badges and cells follow), commits, and tags that commit ``v<version>`` (docs/INSTRUCTORS.md, "Releases").
"""
from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["COLAB_CELL_MARKER", "PIP_TARGET_VAR", "colab_setup_source", "colab_url", "main", "write_colab_cell"]

# The public repository is not published yet: change REPOSITORY here only;
# tests/test_links.py checks that every notebook's badge agrees with it.
_REPOSITORY = "transfer-learning-course/tf-keras-transfer-learning"


def _release() -> str:
    """The release tag of this course: ``v`` + the version of the checkout's pyproject.toml (of the
    installed package where there is no checkout)."""
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    if pyproject.is_file():
        return "v" + tomllib.loads(pyproject.read_text())["project"]["version"]
    try:
        return "v" + version("course-utils")
    except PackageNotFoundError:  # neither a checkout nor installed: nothing to name
        raise RuntimeError("course_utils is neither in a checkout nor installed: no release to name") from None


def _pip_target() -> str:
    """What the Colab cell installs course_utils from: the release's tag on GitHub."""
    return f"git+https://github.com/{_REPOSITORY}.git@{_release()}"


def colab_url(notebook: str) -> str:
    """The "Open in Colab" address of ``notebooks/<notebook>`` at this release."""
    return f"https://colab.research.google.com/github/{_REPOSITORY}/blob/{_release()}/notebooks/{notebook}"


# The Colab cell installs from here; a test or an instructor can point it at a
# wheel or a fork instead (tools/colab_check.py points it at the local wheel).
PIP_TARGET_VAR = "COURSE_UTILS_PIP_TARGET"
COLAB_CELL_MARKER = 'IN_COLAB = "google.colab" in sys.modules'


def colab_setup_source() -> str:
    """The code of every notebook's Colab cell (tests check the notebooks carry exactly this).

    Outside Colab it does nothing. On Colab one ``pip install`` adds
    ``course_utils`` (its dependencies are ranges Colab's stack already
    satisfies) and the ``tf-keras`` of Colab's TensorFlow version (the TF Hub
    lessons build their models with it), holding that TensorFlow where it is.
    It only installs: nothing it adds is imported yet, so no restart is needed.
    """
    return f'''# Google Colab only: install course_utils and the tf-keras that matches Colab's TensorFlow
# (the TF Hub lessons need it). Anywhere else this cell does nothing.
import sys

{COLAB_CELL_MARKER}
if IN_COLAB:
    import os
    import subprocess
    from importlib.metadata import version

    tf_version = version("tensorflow")
    tf_minor = ".".join(tf_version.split(".")[:2])
    course = os.environ.get("{PIP_TARGET_VAR}",  # where course_utils comes from
                            "{_pip_target()}")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", course,
                    f"tf-keras=={{tf_minor}}.*", f"tensorflow=={{tf_version}}"], check=True)'''


def _is_colab_cell(cell) -> bool:
    return cell.get("cell_type") == "code" and COLAB_CELL_MARKER in "".join(cell.get("source", ""))


def write_colab_cell(notebook: Path) -> bool:
    """Give ``notebook``'s Colab cell (only that) the source of :func:`colab_setup_source`; True when it changed.

    Raises ``ValueError`` when the notebook has no Colab cell, or more than one.
    """
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    cells = [cell for cell in nb.cells if _is_colab_cell(cell)]
    if len(cells) != 1:
        raise ValueError(f"{notebook.name}: expected one Colab cell (with {COLAB_CELL_MARKER!r}), found {len(cells)}")
    if cells[0].source == colab_setup_source():
        return False
    cells[0].source = colab_setup_source()
    nbformat.write(nb, notebook)
    return True


def _sync_colab_cells(folder: Path) -> list[Path]:
    """Rewrite the Colab cell of every ``NN_*.ipynb`` in ``folder``; returns the notebooks that changed.

    The paired percent-format script follows through ``jupytext --sync`` (jupytext is in the dev extra).
    """
    changed = [nb for nb in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb")) if write_colab_cell(nb)]
    if changed:
        from jupytext.cli import jupytext

        jupytext(["--sync", "--quiet", *map(str, changed)])
    return changed


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Write the Colab cell of every notebook (and its paired script) "
                                                 "from course_utils.course.links.colab_setup_source().")
    parser.add_argument("folder", type=Path, nargs="?", default=Path(__file__).resolve().parents[2] / "notebooks")
    args = parser.parse_args(argv)
    changed = _sync_colab_cells(args.folder)
    print("\n".join(f"Colab cell rewritten: {nb.name} (and {nb.with_suffix('.py').name})" for nb in changed)
          or f"every notebook in {args.folder} already carries the Colab cell of course_utils.course.links")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
