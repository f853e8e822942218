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


def lesson03_loop():
    """Exercise 03.2's objects and a right answer from one loop: the small model, its shuffled batches, and the
    logits and labels of one pass over them."""
    import tf_keras

    from course_exercises.lesson03 import setup

    tf_keras.utils.set_random_seed(0)
    model, batches = setup()
    logits, labels = [], []
    for x, y in batches:
        logits.append(model(x, training=False).numpy())
        labels.append(y.numpy())
    return model, batches, logits, labels
