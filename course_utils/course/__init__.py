"""The course around the notebooks: the runner, the run report, the original lessons' figures, Colab links."""

__all__: list[str] = []
