"""The course's public home, kept in one place: badges and install cells derive from it."""
from __future__ import annotations

# The public repository is not published yet: change REPOSITORY here only;
# tests/test_links.py checks that every notebook's badge agrees with it.
REPOSITORY = "transfer-learning-course/tf-keras-transfer-learning"
BRANCH = "main"


def colab_url(notebook: str) -> str:
    """The "Open in Colab" address of ``notebooks/<notebook>``."""
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/notebooks/{notebook}"


def colab_badge(notebook: str) -> str:
    """The markdown badge line for the top of a notebook."""
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(notebook)})"
    )


def pip_install_target() -> str:
    """What ``pip install`` takes to get ``course_utils`` on Colab."""
    return f"git+https://github.com/{REPOSITORY}.git@{BRANCH}"
