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


def colab_setup_source() -> str:
    """The code of every notebook's Colab cell (tests check the notebooks carry exactly this).

    Outside Colab it does nothing. On Colab it installs ``course_utils``
    without touching Colab's own TensorFlow, adds the matching ``tf-keras``
    and says when the runtime must be restarted.
    """
    return f'''# Google Colab only: install course_utils and a tf-keras matching Colab's TensorFlow.
# Anywhere else this cell does nothing.
import sys

IN_COLAB = "google.colab" in sys.modules
if IN_COLAB:
    import subprocess
    from importlib.metadata import version

    tf_minor = ".".join(version("tensorflow").split(".")[:2])
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "{pip_install_target()}"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"tf-keras=={{tf_minor}}.*",
                    "tensorflow-hub", "tensorflow-datasets", "importlib_resources"], check=True)
    if "tensorflow" in sys.modules:
        print("TensorFlow was imported before this cell ran: use Runtime > Restart session, "
              "then run the notebook from the top (Keras 2 must be chosen before TensorFlow loads).")'''
