"""What a learner sees besides the lesson's own code: plots and timers."""

__all__: list[str] = []
