"""Setting up a lesson: environment, profiles, paths, staged writes and locks, `start_lesson`."""

__all__: list[str] = []
