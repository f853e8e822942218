"""The exercises: their cells (nbgrader format), every check on its solution and on typical wrong answers,
the learner-facing API, and one lesson through nbgrader's generate_assignment and autograde."""
from __future__ import annotations

import contextlib
import importlib
import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = {path.name[:2]: path for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))}
LESSONS = ["01", "02", "03", "04", "05", "06"]
SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)\n### END SOLUTION", re.S)


def read_cells(lesson: str):
    """The lesson's exercise cells, as they stand in its notebook (the one place they are kept)."""
    import jupytext
    import nbformat

    notebook = jupytext.read(NOTEBOOKS[lesson], fmt="py:percent")
    cells = [c for c in notebook.cells
             if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith(f"l{lesson}-")]
    return nbformat.v4.new_notebook(cells=cells)


def lesson_module(lesson: str):
    return importlib.import_module(f"course_exercises.lesson{lesson}")


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def message(exercise, *answers) -> str:
    """The verdict's message, asserting the answer was judged wrong."""
    verdict = exercise.verdict(*answers)
    assert verdict.status == "wrong", verdict
    return verdict.message


# ------------------------------------------------------------------ the cells files
@pytest.mark.parametrize("lesson", LESSONS)
def test_exercises_stand_together_just_before_the_closing_comparison(lesson):
    import jupytext

    cells = jupytext.read(NOTEBOOKS[lesson], fmt="py:percent").cells
    graded = [i for i, c in enumerate(cells) if "nbgrader" in c.metadata]
    assert graded, f"lesson {lesson} has no exercises"
    assert graded == list(range(graded[0], graded[-1] + 1)), "the exercise cells are not contiguous"
    following = cells[graded[-1] + 1]
    assert following.cell_type == "markdown" and "Ours beside the original lesson" in following.source


@pytest.mark.parametrize("lesson", LESSONS)
def test_cells_have_three_exercises_in_nbgrader_format(lesson):
    nb = read_cells(lesson)
    module = lesson_module(lesson)
    metas = [nbgrader_meta(cell) for cell in nb.cells]
    assert all(meta.get("schema_version") == 3 and "grade_id" in meta for meta in metas), "every cell is an nbgrader cell"
    ids = [meta["grade_id"] for meta in metas]
    assert len(ids) == len(set(ids)), f"duplicate grade_ids: {ids}"
    assert all(i.startswith(f"l{lesson}-") for i in ids)
    answers = [c for c in nb.cells if nbgrader_meta(c)["solution"]]
    checks = [c for c in nb.cells if nbgrader_meta(c)["grade"]]
    assert [nbgrader_meta(c)["grade_id"] for c in answers] == [f"l{lesson}-ex{k}-answer" for k in (1, 2, 3)]
    assert [nbgrader_meta(c)["grade_id"] for c in checks] == [f"l{lesson}-ex{k}-check" for k in (1, 2, 3)]
    for k, (answer, check) in enumerate(zip(answers, checks), start=1):
        exercise = getattr(module, f"ex{k}")
        assert answer.cell_type == "code" and not nbgrader_meta(answer)["locked"] and not nbgrader_meta(answer)["grade"]
        assert check.cell_type == "code" and nbgrader_meta(check)["locked"] and nbgrader_meta(check)["points"] > 0
        assert not nbgrader_meta(check)["solution"]
        assert nb.cells.index(check) == nb.cells.index(answer) + 1, "the check cell follows its answer cell"
        assert check.source.strip() == f"ex{k}.check({', '.join(exercise.answers)})"
        before, _, _ = answer.source.partition("### BEGIN SOLUTION")
        for name in exercise.answers:  # every answer is None before the solution, or built by the cell itself
            assert re.search(rf"^[\w, ]*\b{name}\b[\w, ]* = ", before, re.M), f"ex{k}: `{name} = ` before the solution"
        (solution,) = SOLUTION.findall(answer.source)
        assert solution.strip() == exercise.solution_code, f"ex{k}: solution() and the cell's solution differ"
    others = [c for c in nb.cells if c not in answers and c not in checks]
    assert all(nbgrader_meta(c)["locked"] and not nbgrader_meta(c)["grade"] for c in others), "task cells are read-only"


@pytest.mark.parametrize("lesson", LESSONS)
def test_cells_markdown_is_short(lesson):
    markdown = [c.source for c in read_cells(lesson).cells if c.cell_type == "markdown"]
    words = [len(re.findall(r"[\w'`.\-]+", text)) for text in markdown]
    assert sum(words) <= 250, f"{sum(words)} markdown words"
    assert max(words[1:]) <= 80, words
    assert "hint()" in markdown[0] and "solution()" in markdown[0]


def test_exercise_modules_pass_ruff():
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run([ruff, "check", "course_exercises"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]


# ------------------------------------------------------------------ the API
@pytest.fixture
def toy():
    from course_exercises import Exercise, Wrong

    def checker(answer):
        if answer == 41:
            raise Wrong("41 is one short")
        if answer != 42:
            raise ValueError("boom")
        return "42 it is"

    return Exercise("00", 1, "toy", ("answer",), checker, hints=["first", "second"], solution="answer = 42\n")


def printed(call) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        call()
    return out.getvalue()


def test_unanswered_prints_waiting_and_never_raises(toy, monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    for missing in (None, ...):
        assert printed(lambda m=missing: toy.check(m)) == (
            "Exercise 00.1 (toy) - waiting for your answer: set `answer` in the cell above and run this cell "
            "again (ex1.hint() for a hint).\n")


def test_wrong_and_right_answers_print_what_is_wrong(toy, monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert printed(lambda: toy.check(41)) == "Exercise 00.1 (toy) - not yet: 41 is one short\n"
    assert printed(lambda: toy.check(42)) == "Exercise 00.1 (toy) - correct: 42 it is\n"
    assert printed(lambda: toy.check(7)) == "Exercise 00.1 (toy) - not yet: your answer could not be checked: ValueError: boom\n"
    assert toy.verdict(1, 2).message == "check takes 1 argument(s): check(answer)"


@pytest.mark.parametrize("mode", ["autograde", "validate"])
def test_under_nbgrader_wrong_or_missing_answers_raise(toy, monkeypatch, mode):
    from course_exercises import ExerciseFailed

    monkeypatch.setenv("NBGRADER_EXECUTION", mode)
    with pytest.raises(ExerciseFailed, match=r"^Exercise 00.1 \(toy\) - not yet: 41 is one short$"):
        toy.check(41)
    with pytest.raises(AssertionError, match="waiting for your answer"):
        toy.check(None)
    assert printed(lambda: toy.check(42)) == "Exercise 00.1 (toy) - correct: 42 it is\n"


def test_hint_and_solution(toy):
    assert printed(toy.hint) == "Hint 1 for Exercise 00.1 (toy) (more: ex1.hint(2)): first\n"
    assert printed(lambda: toy.hint(2)) == "Hint 2 for Exercise 00.1 (toy): second\n"
    assert printed(lambda: toy.hint(3)) == "Exercise 00.1 (toy) has hints 1 to 2.\n"
    assert printed(toy.solution) == "Solution to Exercise 00.1 (toy):\n\nanswer = 42\n"


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_exercise_has_hints_and_a_solution(lesson):
    module = lesson_module(lesson)
    for k in (1, 2, 3):
        exercise = getattr(module, f"ex{k}")
        assert exercise.lesson == lesson and exercise.number == k
        assert printed(exercise.hint).startswith(f"Hint 1 for Exercise {lesson}.{k} ")
        shown = printed(exercise.solution)
        assert shown.startswith(f"Solution to Exercise {lesson}.{k} ") and exercise.solution_code in shown
        waiting = exercise.verdict(*([None] * len(exercise.answers)))
        assert waiting.status == "waiting" and f"`{exercise.answers[0]}`" in waiting.message


# ------------------------------------------------------------------ every check on its solution
_SOLVED: dict[str, dict] = {}
_INCEPTION: list = []


def shared_inception():
    """One InceptionV3 (its top included, 150x150, random weights, frozen) for lessons 02 and 05.

    It stands in for lesson02.inception_with_top() and lesson05.backbone() (one-line builders that
    the notebook runs exercise): building InceptionV3 costs seconds, and the checks need only its
    layers' names and shapes.
    """
    if not _INCEPTION:
        import tensorflow as tf

        model = tf.keras.applications.InceptionV3(weights=None, include_top=True, input_shape=(150, 150, 3))
        for layer in model.layers:
            layer.trainable = False
        _INCEPTION.append(model)
    return _INCEPTION[0]


def solved(lesson: str) -> dict:
    """The namespace after running the lesson's exercise cells with their solutions (once per session)."""
    if lesson not in _SOLVED:
        import tensorflow as tf

        from course_exercises import lesson02, lesson05

        tf.keras.utils.set_random_seed(0)
        namespace: dict = {}
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.MonkeyPatch.context() as patch:
            patch.setattr(lesson02, "inception_with_top", shared_inception)
            patch.setattr(lesson05, "backbone", shared_inception)
            for cell in read_cells(lesson).cells:
                if cell.cell_type == "code":
                    exec(compile(cell.source, f"{NOTEBOOKS[lesson].name} (exercise cells)", "exec"), namespace)
        namespace["__printed__"] = out.getvalue()
        _SOLVED[lesson] = namespace
    return _SOLVED[lesson]


@pytest.mark.parametrize("lesson", LESSONS)
def test_solutions_pass_their_checks(lesson):
    namespace = solved(lesson)
    corrects = re.findall(rf"Exercise {lesson}\.(\d) \(.*?\) - correct: ", namespace["__printed__"])
    assert corrects == ["1", "2", "3"], namespace["__printed__"]


def test_lesson01_exercises_build_the_notebooks_own_cnn():
    """The exercises build lesson 01's CNN themselves (the student copy's names may differ): the same model."""
    import ast

    import keras

    from course_exercises.lesson01 import digit_cnn

    tree = ast.parse(NOTEBOOKS["01"].read_text())
    (build,) = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "build_digit_cnn"]
    namespace = {"keras": keras, "layers": keras.layers}
    exec(compile(ast.Module([build], []), "notebook 01", "exec"), namespace)
    theirs, ours = digit_cnn(), namespace["build_digit_cnn"]()
    assert theirs.name == ours.name and theirs.inputs[0].shape == ours.inputs[0].shape
    # the layers' configs (to_json would also hold the Input's automatic name, input_layer_N, which differs)
    assert [layer.get_config() for layer in theirs.layers] == [layer.get_config() for layer in ours.layers]


# ------------------------------------------------------------------ typical wrong answers, per lesson
# Lessons 01, 02, 04 and 05: tests/test_catalogue_lesson0N.py (every exercise: wrong answers, each with its own
# message, and right answers written in unusual ways).


def test_lesson03_wrong_answers():
    import tensorflow as tf

    from course_exercises.lesson03 import CLASS_NAMES, ex1, ex2, ex3, example_logits, setup

    assert message(ex1, ["train[:20]", "train[20:30]", "train[30:]"]) == (
        "'train[:20]' selects 20 examples by count; ask for percentages, e.g. 'train[:20%]'.")
    assert message(ex1, ["train[:20%]", "train[10%:30%]", "train[30%:]"]) == (
        "test and validation share 367 images: each split must start where the previous one ends.")
    assert message(ex1, ["train[30%:]", "train[20%:30%]", "train[:20%]"]) == (
        "your first string selects 70% and the last 20%: the order asked for is test, validation, train.")
    assert message(ex1, ["train[:20%]", "train[20%:30%]", "train[40%:]"]) == (
        "your splits leave 367 of the 3,670 images unused: together they must cover 0% to 100%.")
    assert message(ex1, ["test[:20%]", "train[20%:30%]", "train[30%:]"]).startswith("'test[:20%]': tf_flowers has a")

    model, batches = setup()
    first_x, first_y = next(iter(batches))
    all_logits = model.predict(batches, verbose=0)
    assert message(ex2, all_logits, first_y.numpy(), model) == (
        "70 predictions but 32 labels (the first batch's): collect the labels of every batch in the same loop as "
        "the predictions.")
    second_pass = np.concatenate([y.numpy() for _, y in batches])
    wrong = message(ex2, all_logits, second_pass, model)
    assert re.fullmatch(r"\d+ of 70 predictions are paired with the label of another image: the dataset is shuffled "
                        r"on every pass, so model\.predict\(dataset\) and a second loop for the labels see different "
                        r"orders\. Take images and labels from the same batch, in one loop\.", wrong), wrong
    assert message(ex2, model(first_x).numpy(), first_y.numpy(), model) == (
        "you have predictions for the first batch only (32): loop over every batch.")
    namespace = solved("03")
    probabilities = tf.nn.softmax(namespace["loop_logits"]).numpy()
    assert message(ex2, probabilities, namespace["loop_labels"], model) == (
        "these rows sum to 1: they are probabilities; the task asks for the logits the model returns.")

    logits = example_logits()
    ids = logits.argmax(1)
    probs = tf.nn.softmax(logits).numpy()
    alphabetical = sorted(CLASS_NAMES)
    assert message(ex3, [(alphabetical[i], probs[r, i]) for r, i in enumerate(ids)]) == (
        "image 0: 'tulips' comes from the names in alphabetical order; label i is info.features['label'].names[i] "
        "(CLASS_NAMES here), where 0 is 'dandelion'.")
    assert message(ex3, [(CLASS_NAMES[i], logits[r, i]) for r, i in enumerate(ids)]) == (
        "image 0: 4.136 is a logit, not a probability: apply tf.nn.softmax to the row first.")
    assert message(ex3, [CLASS_NAMES[i] for i in ids]) == (
        "answer[0] should be a (name, probability) pair, not 'roses'.")
    assert message(ex3, [(CLASS_NAMES[i], 0.5) for i in ids[:5]]) == (
        "5 answers for 6 images (argmax over axis 0 gives one per class): take argmax over each row (axis=1).")


def test_lesson06_wrong_answers():
    import keras

    from course_exercises.lesson06 import ex1, ex2, ex3

    vgg16_32 = solved("06")["vgg16_32"]  # the catalogue (tests/test_catalogue_lesson06.py) has the rest
    assert message(ex1, 102_764_544, vgg16_32) == (
        "102,764,544 is fc1 on a 7x7x512 map (25,088 values): that is 224x224 inputs, or 32x32 with the bridge. "
        "Without it the 32x32 map is 1x1x512.")
    assert message(ex1, 2_097_152, vgg16_32) == "2,097,152 counts the weights but not fc1's 4,096 biases."
    assert message(ex1, 16_781_312, vgg16_32).startswith("16,781,312 is fc2 (4,096 inputs x 4,096 units + 4,096 biases)")

    transfer = solved("06")["transfer"]
    assert message(ex2, 40_970, transfer) == (
        "40,970 is only the output layer: what trained in the lecture's code. fc1 and fc2 train too.")
    assert message(ex2, transfer.count_params(), transfer) == (
        "33,638,218 is every parameter, the frozen base's too: count transfer.trainable_weights only.")
    for name in ("fc1", "fc2"):  # the lecture's PyTorch habit
        transfer.get_layer(name).trainable = False
        transfer.get_layer(name).requires_grad = True
    assert message(ex2, 40_970, transfer) == (
        "fc1 is frozen: set transfer.get_layer('fc1').trainable = True. You set requires_grad, PyTorch's flag: "
        "Keras never reads it.")
    for layer in transfer.layers:
        layer.trainable = True
    assert message(ex2, 33_638_218, transfer).startswith("vgg16 still trains (14,714,688 parameters)")

    fixed = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    flat = keras.Model(fixed.input, keras.layers.Dense(10)(keras.layers.Flatten()(fixed.output)))
    wrong = message(ex3, flat)
    assert wrong.startswith("your model fails on 64x64 inputs (") and wrong.endswith(
        "Build the base with input_shape=(None, None, 3) and pool the feature map instead of Flatten."), wrong
    any_base = keras.applications.VGG16(weights=None, include_top=False, input_shape=(None, None, 3))
    unpooled = keras.Model(any_base.input, keras.layers.Dense(10)(any_base.output))
    assert message(ex3, unpooled) == (
        "at 64x64 the output has shape (1, 2, 2, 10): the Dense layers ran on every cell of the feature map. Pool "
        "it to one vector first (GlobalAveragePooling2D).")


# ------------------------------------------------------------------ nbgrader: student version and autograde
def _answer(cell, code: str) -> None:
    cell.source = cell.source.replace("# YOUR CODE HERE", code)


@pytest.mark.notebooks
def test_lesson01_through_generate_assignment_and_autograde(tmp_path, monkeypatch):
    """Instructor notebook -> student version (runs top to bottom, every exercise waiting) -> a submission
    with one right, one wrong and one missing answer (and a deleted check) -> autograde scores 1 / 3."""
    try:
        import nbgrader  # noqa: F401
    except ImportError:
        pytest.fail("nbgrader is not installed: `make test` installs the grading extra (pip install -e '.[grading]')")
    import nbformat

    from course_exercises import grading

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    nb = read_cells("01")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    instructor = tmp_path / "instructor" / "01_practice.ipynb"
    instructor.parent.mkdir()
    nbformat.write(nb, instructor)

    (student,) = grading.generate_student([instructor], tmp_path / "course", tmp_path / "student")
    released = nbformat.read(student, as_version=4)
    text = "\n".join(cell.source for cell in released.cells)
    assert "BEGIN SOLUTION" not in text and "layer.trainable" not in text, "the solutions are gone"
    assert "NotImplementedError" not in text, "the stub must not raise: Run All has to reach every check"
    answers = {c.metadata["nbgrader"]["grade_id"]: c for c in released.cells if "nbgrader" in c.metadata}
    assert answers["l01-ex1-answer"].source == "cnn = digit_cnn()\ncount_trainable = None\n# YOUR CODE HERE"

    out = io.StringIO()  # a learner's Run All of the student version: nothing raises, every exercise waits
    with contextlib.redirect_stdout(out):
        namespace: dict = {}
        for cell in released.cells:
            if cell.cell_type == "code":
                exec(cell.source, namespace)
    assert out.getvalue().count("waiting for your answer") == 3

    _answer(answers["l01-ex1-answer"], 'for layer in cnn.layers:\n    layer.trainable = layer.name in ("add_channel", '
                                       '"pool1", "pool2", "conv3", "flatten", "digits")\n'
                                       'count_trainable = lambda model: model.count_params() - sum('
                                       'w.numpy().size for w in model.non_trainable_weights)')
    _answer(answers["l01-ex2-answer"], "three_way = keras.Model(cnn.inputs, keras.layers.Dense(3)(cnn.layers[-2].output))")
    answers["l01-ex1-check"].source = "pass  # a check deleted by the student: autograde restores it"
    submitted = tmp_path / "submitted" / "01_practice.ipynb"
    submitted.parent.mkdir()
    nbformat.write(released, submitted)

    grades = grading.autograde(submitted, "alice", tmp_path / "course", timeout=300)
    scores = {s.grade_id: (s.score, s.max_score, s.message) for s in grades.scores}
    assert scores["l01-ex1-check"] == (1.0, 1.0, "")
    assert scores["l01-ex2-check"][:2] == (0.0, 1.0)
    assert scores["l01-ex2-check"][2].startswith(
        "ExerciseFailed: Exercise 01.2 (a three-class head that gives probabilities) - not yet: your model's outputs:")
    assert scores["l01-ex3-check"][:2] == (0.0, 1.0)
    assert "waiting for your answer: set `conv2_model`" in scores["l01-ex3-check"][2]
    assert (grades.total, grades.max_total) == (1.0, 3.0)
    assert grades.table().splitlines()[0] == "01_practice.ipynb: 1 / 3 points"


@pytest.mark.parametrize("written", [7, 7.0, np.int32(7), np.int64(7), np.array(7), np.array([7]),
                                     "tf.constant(7)", "tf.constant(7.0)", "tf.Variable(7)"])
def test_a_whole_number_is_taken_however_it_was_written(written):
    from course_exercises import as_int

    if isinstance(written, str):
        import tensorflow as tf

        written = eval(written, {"tf": tf})
    assert as_int(written, "n") == 7 and type(as_int(written, "n")) is int


@pytest.mark.parametrize(("written", "message"), [(7.5, "n should be a whole number, not 7.5"),
                                                  (True, "n should be a number, not bool"),
                                                  ("7", "n should be a number, not str"),
                                                  (np.array([7, 8]), "n should be a number, not ndarray")])
def test_what_is_not_a_whole_number_is_named(written, message):
    from course_exercises import Wrong, as_int

    with pytest.raises(Wrong) as caught:
        as_int(written, "n")
    assert str(caught.value) == message


@pytest.mark.parametrize("package", ["keras", "tf_keras"])
def test_layers_within_opens_nested_models_in_order_in_either_keras(package):
    from course_exercises import layers_within

    k = importlib.import_module(package)
    inner = k.Sequential([k.Input((4,)), k.layers.Dense(3, name="inner_dense"), k.layers.Dropout(0.1, name="drop")],
                         name="base")
    inputs = k.Input((4,))
    shared = k.layers.Dense(4, name="shared")
    outputs = k.layers.Dense(1, name="head")(inner(shared(shared(inputs))))
    model = k.Model(inputs, outputs)
    leaves = [layer.name for layer in layers_within(model)]
    assert leaves[1:] == ["shared", "inner_dense", "drop", "head"]  # the shared layer once; no model among them
    assert leaves[0].startswith("input")  # a functional model lists its Input layer
    assert [layer.name for layer in layers_within(model, models=True)][1:] == ["shared", "base", "inner_dense",
                                                                                 "drop", "head"]
    assert layers_within(shared) == []  # a layer that is not a model holds no layers here
