"""What every exercise catalogue test (tests/test_catalogue_lesson0N.py) asks of a check: its verdict on one answer."""


def wrong(exercise, *answers) -> str:
    """The check's message for ``answers``, which it must reject."""
    verdict = exercise.verdict(*answers)
    assert verdict.status == "wrong", verdict
    return verdict.message


def right(exercise, *answers) -> str:
    """The check's message for ``answers``, which it must accept."""
    verdict = exercise.verdict(*answers)
    assert verdict.status == "correct", verdict
    return verdict.message
