"""The one way the course speaks in a notebook: :func:`say`, a line that starts ``[course]``, apart from
TensorFlow's, Keras's, TF Hub's and TFDS's own. Progress bars are tqdm's (``tqdm.auto``), drawn by the
libraries that do the work (pooch, TFDS, the runner's nbclient). Errors are raised, not said (``CourseError``).
"""

__all__ = ["say"]


def say(text: str) -> None:
    """Print ``text`` after ``[course]``, flushed (a message before a long step shows before it starts)."""
    print(f"[course] {text}", flush=True)
