"""The exercise checks held to what they do where the other exercise tests left a planted bug unnoticed
(`make mutation`, docs/MUTATION.md): each case is an answer or a call whose verdict, message or value a
mutated check would get wrong.

The decorator's own behaviour is tested by calling it here: the lesson modules run it once, at import,
before a mutant is switched on.
"""
from __future__ import annotations

import contextlib
import io

from course_exercises import Wrong, exercise


def wrong(ex, *answers) -> str:
    verdict = ex.verdict(*answers)
    assert verdict.status == "wrong", verdict
    return verdict.message


def right(ex, *answers) -> str:
    verdict = ex.verdict(*answers)
    assert verdict.status == "correct", verdict
    return verdict.message


def printed(call) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        call()
    return out.getvalue()


# ------------------------------------------------------------------ course_exercises: the decorator
def _toy():
    @exercise("07", 2, "toy", hints="""
        - first hint,
          over two lines
        - second hint - with a dash inside
    """, solution="\n    X = 1\n    print(X)  \n")
    def ex2(answer, model):
        if answer != 1:
            raise Wrong(f"{answer} is not 1")
        return f"1 it is, with {model}"

    return ex2


def test_the_decorator_makes_an_exercise_of_the_checker_it_decorates():
    ex2 = _toy()
    assert (ex2.lesson, ex2.number, ex2.title, ex2.answers) == ("07", 2, "toy", ("answer", "model"))
    assert repr(ex2) == "<Exercise 07.2 (toy): ex2.check(answer, model), ex2.hint(), ex2.solution()>"
    assert right(ex2, 1, "a model") == "1 it is, with a model"
    assert wrong(ex2, 2, "a model") == "2 is not 1"
    assert ex2.verdict(None, "a model").message == ("set `answer` in the cell above and run this cell again "
                                                    "(ex2.hint() for a hint).")


def test_each_dash_item_at_a_line_start_is_one_hint_on_one_line():
    ex2 = _toy()
    assert printed(ex2.hint) == "Hint 1 for Exercise 07.2 (toy) (more: ex2.hint(2)): first hint, over two lines\n"
    assert printed(lambda: ex2.hint(2)) == "Hint 2 for Exercise 07.2 (toy): second hint - with a dash inside\n"
    assert printed(lambda: ex2.hint(3)) == "Exercise 07.2 (toy) has hints 1 to 2.\n"


def test_the_solution_is_printed_as_written_without_the_blank_lines_around_it():
    ex2 = _toy()
    assert ex2.solution_code == "X = 1\nprint(X)  "  # a leading X and trailing spaces are the learner's code
    assert printed(ex2.solution) == "Solution to Exercise 07.2 (toy):\n\nX = 1\nprint(X)  \n"


# ------------------------------------------------------------------ lesson 03.1: split strings
def test_03_1_a_string_is_not_a_list_of_splits_even_of_length_three():
    from course_exercises.lesson03 import ex1

    for splits in ("abc", b"abc"):
        assert wrong(ex1, splits) == "splits should be a list of three split strings: [test, validation, train]."


def test_03_1_a_seventy_percent_test_split_is_named_by_its_size_when_the_order_is_not_the_reverse():
    from course_exercises.lesson03 import ex1

    assert wrong(ex1, ["train[:70%]", "train[70%:90%]", "train[90%:]"]) == (
        "the test split 'train[:70%]' selects 2,569 images (70.0%); the task asks for 20%, 734 images.")


def test_03_1_one_image_left_out_is_one_too_many():
    import tensorflow_datasets as tfds

    from course_exercises.lesson03 import ex1

    test = tfds.core.ReadInstruction("train", from_=1, to=734, unit="abs")
    assert wrong(ex1, [test, "train[20%:30%]", "train[30%:]"]) == (
        "your splits leave 1 of the 3,670 images unused: together they must cover 0% to 100%.")


def test_03_1_read_instructions_count_as_percentages_and_get_no_note_on_counting():
    import tensorflow_datasets as tfds

    from course_exercises.lesson03 import ex1

    splits = [tfds.core.ReadInstruction("train", to=20, unit="%"),
              tfds.core.ReadInstruction("train", from_=20, to=30, unit="%"),
              tfds.core.ReadInstruction("train", from_=30, unit="%")]
    assert right(ex1, splits) == ("test 734, validation 367, train 2,569 of 3,670 images: no overlap, nothing left "
                                  "out (TFDS rounds each boundary to a whole image).")
