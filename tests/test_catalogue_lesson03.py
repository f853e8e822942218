"""Lesson 03's exercise checks, called directly on a catalogue of answers (issue 23).

Each exercise gets wrong answers a learner is likely to write, each rejected with its own message, and right
answers written in unusual but valid ways (other split orders, a ``tfds.core.ReadInstruction``, numbers and names
from numpy or TensorFlow), each accepted.
"""
from __future__ import annotations

import numpy as np
import pytest
from catalogue import lesson03_loop, right, wrong

RIGHT_SPLITS = ["train[:20%]", "train[20%:30%]", "train[30%:]"]


# ------------------------------------------------------------------------------------------ 03.1 split strings
SPLIT_MISTAKES = [
    (["train[:20]", "train[20:30]", "train[30:]"],
     "'train[:20]' selects 20 examples by count; ask for percentages, e.g. 'train[:20%]'."),
    (["train[:20%]", "train[10%:30%]", "train[30%:]"],
     "test and validation share 367 images: each split must start where the previous one ends."),
    (["train[30%:]", "train[20%:30%]", "train[:20%]"],
     "your first string selects 70% and the last 20%: the order asked for is test, validation, train."),
    (["train[:20%]", "train[20%:30%]", "train[40%:]"],
     "your splits leave 367 of the 3,670 images unused: together they must cover 0% to 100%."),
    (["train[:20%]", "train[20%:40%]", "train[40%:]"],
     "the validation split 'train[20%:40%]' selects 734 images (20.0%); the task asks for 10%, 367 images."),
    (["test[:20%]", "train[20%:30%]", "train[30%:]"],
     "'test[:20%]': tf_flowers has a single split, 'train'; cut every part from it ('train[...]')."),
    ("train[:20%], train[20%:30%], train[30%:]",
     "splits should be a list of three split strings: [test, validation, train]."),
    ([20, 10, 70], "the test split should be a string like 'train[:20%]', not int."),
]


@pytest.mark.parametrize(("splits", "message"), SPLIT_MISTAKES, ids=[m[:40] for _, m in SPLIT_MISTAKES])
def test_03_1_each_wrong_split_gets_its_own_message(splits, message):
    from course_exercises.lesson03 import ex1

    assert wrong(ex1, splits) == message


def test_03_1_wrong_split_messages_are_distinct_and_never_contradict_themselves():
    from course_exercises.lesson03 import ex1

    messages = [ex1.verdict(splits).message for splits, _ in SPLIT_MISTAKES]
    assert len(set(messages)) == len(messages)
    # The message issue 23 found: "selects 734 images; 20% of 3,670 is 734" for a valid split.
    assert not any("is 734" in message for message in messages)


def test_03_1_an_unparsable_split_says_what_tfds_could_not_read():
    from course_exercises.lesson03 import ex1

    message = wrong(ex1, ["train[:20%", "train[20%:30%]", "train[30%:]"])
    assert message.startswith("'train[:20%' is not a TFDS split string (") and message.endswith(
        "the form is 'train[a%:b%]'.")


def _read_instructions():
    import tensorflow_datasets as tfds

    return [tfds.core.ReadInstruction("train", to=20, unit="%"),
            tfds.core.ReadInstruction("train", from_=20, to=30, unit="%"),
            tfds.core.ReadInstruction("train", from_=30, unit="%")]


@pytest.mark.parametrize("splits", [
    RIGHT_SPLITS,
    ("train[80%:]", "train[70%:80%]", "train[:70%]"),  # test at the end: another order of the same cut
    ["train[-20%:]", "train[-30%:-20%]", "train[:-30%]"],  # negative percentages count from the end
    ["train[:10%]+train[90%:]", "train[10%:20%]", "train[20%:90%]"],  # a test split in two pieces
    np.array(RIGHT_SPLITS),  # a numpy array of strings
    "read instructions",  # tfds.core.ReadInstruction objects, which tfds.load takes as well
])
def test_03_1_valid_but_unusual_splits_are_accepted(splits):
    from course_exercises.lesson03 import ex1

    if isinstance(splits, str):
        splits = _read_instructions()
    assert right(ex1, splits).startswith("test 734, validation 367, train 2,569 of 3,670 images: no overlap")


def test_03_1_counts_that_select_the_right_images_are_accepted_with_a_note():
    from course_exercises.lesson03 import ex1

    message = right(ex1, ["train[:734]", "train[734:1101]", "train[1101:]"])
    assert message.endswith("Counting images works for these 3,670; percentages keep working if the data set changes.")


# ------------------------------------------------------------------------------------------ 03.2 prediction loop
def _answers():
    """The learner's objects: the small model, its shuffled batches, and a right answer from one loop."""
    return lesson03_loop()


def test_03_2_wrong_loops_each_get_their_own_message():
    import tensorflow as tf

    from course_exercises.lesson03 import ex2

    model, batches, logits, labels = _answers()
    first_x, first_y = next(iter(batches))
    all_logits = model.predict(batches, verbose=0)  # one pass ...
    second_pass = np.concatenate([y.numpy() for _, y in batches])  # ... and the labels from another
    messages = {
        "first batch's labels": wrong(ex2, all_logits, first_y.numpy(), model),
        "two passes": wrong(ex2, all_logits, second_pass, model),
        "first batch only": wrong(ex2, model(first_x).numpy(), first_y.numpy(), model),
        "probabilities": wrong(ex2, tf.nn.softmax(np.concatenate(logits)).numpy(), np.concatenate(labels), model),
        "batches not joined": wrong(ex2, logits, np.concatenate(labels), model),
        "argmax already": wrong(ex2, np.concatenate(logits).argmax(1), np.concatenate(labels), model),
        "labels twice": wrong(ex2, np.concatenate(logits + logits[:1]), np.concatenate(labels + labels[:1]), model),
    }
    assert messages["first batch's labels"] == (
        "70 predictions but 32 labels (the first batch's): collect the labels of every batch in the same loop as "
        "the predictions.")
    assert messages["two passes"].endswith(
        "predictions are paired with the label of another image: the dataset is shuffled on every pass, so "
        "model.predict(dataset) and a second loop for the labels see different orders. Take images and labels from "
        "the same batch, in one loop.")
    assert messages["first batch only"] == "you have predictions for the first batch only (32): loop over every batch."
    assert messages["probabilities"] == (
        "these rows sum to 1: they are probabilities; the task asks for the logits the model returns.")
    assert messages["batches not joined"] == (
        "loop_logits is a list of 3 batches: np.concatenate(...) it into one array with a row per image.")
    assert messages["argmax already"] == (
        "loop_logits holds 70 numbers, one per image: keep the model's 5 logits per image (no argmax yet).")
    assert messages["labels twice"] == "loop_logits has 102 rows; the test set has 70 images."
    assert len(set(messages.values())) == len(messages)


def test_03_2_valid_but_unusual_loops_are_accepted():
    import tensorflow as tf

    from course_exercises.lesson03 import ex2

    model, batches, _, _ = _answers()
    # tf.concat of tensors, predict_on_batch, and the labels as a plain Python list
    logits, labels = [], []
    for x, y in batches:
        logits.append(model.predict_on_batch(x))
        labels.extend(int(v) for v in y.numpy())
    assert right(ex2, tf.concat(logits, axis=0), labels, model).startswith("70 predictions from batches of 32")
    # one tf.data pass that keeps images and labels together: map the model over the batches
    pairs = [(model(x, training=False), y) for x, y in batches]
    assert right(ex2, tf.concat([p for p, _ in pairs], 0), tf.concat([y for _, y in pairs], 0), model)


# ------------------------------------------------------------------------------------------ 03.3 logits to names
def test_03_3_wrong_answers_each_get_their_own_message():
    import tensorflow as tf

    from course_exercises.lesson03 import CLASS_NAMES, ex3, example_logits

    logits = example_logits()
    ids = logits.argmax(1)
    probs = tf.nn.softmax(logits).numpy()
    alphabetical = sorted(CLASS_NAMES)
    column_probs = tf.nn.softmax(logits, axis=0).numpy()
    messages = {
        "alphabetical": wrong(ex3, [(alphabetical[i], probs[r, i]) for r, i in enumerate(ids)]),
        "logits": wrong(ex3, [(CLASS_NAMES[i], logits[r, i]) for r, i in enumerate(ids)]),
        "names only": wrong(ex3, [CLASS_NAMES[i] for i in ids]),
        "argmax over images": wrong(ex3, [(CLASS_NAMES[i], 0.5) for i in ids[:5]]),  # one per class
        "percent": wrong(ex3, [(CLASS_NAMES[i], 100 * probs[r, i]) for r, i in enumerate(ids)]),
        "argmin": wrong(ex3, [(CLASS_NAMES[i], probs[r, i]) for r, i in enumerate(logits.argmin(1))]),
        "softmax over images": wrong(ex3, [(CLASS_NAMES[i], column_probs[r, i]) for r, i in enumerate(ids)]),
    }
    assert messages["alphabetical"] == (
        "image 0: 'tulips' comes from the names in alphabetical order; label i is info.features['label'].names[i] "
        "(CLASS_NAMES here), where 0 is 'dandelion'.")
    assert messages["logits"] == "image 0: 4.136 is a logit, not a probability: apply tf.nn.softmax to the row first."
    assert messages["names only"] == "answer[0] should be a (name, probability) pair, not 'roses'."
    assert messages["argmax over images"] == (
        "5 answers for 6 images (argmax over axis 0 gives one per class): take argmax over each row (axis=1).")
    assert messages["percent"] == (
        f"image 0: {100 * probs[0, ids[0]]:.1f} is a percentage; give the probability as a fraction between 0 and 1.")
    assert messages["argmin"].startswith("image 0: ") and messages["argmin"].endswith(
        "is not the class with the largest logit in row 0.")
    assert messages["softmax over images"].startswith("image ") and "is not the softmax probability of" in (
        messages["softmax over images"])
    assert len(set(messages.values())) == len(messages)


def test_03_3_valid_but_unusual_answers_are_accepted():
    import tensorflow as tf

    from course_exercises.lesson03 import CLASS_NAMES, ex3, example_logits

    logits = example_logits()
    probabilities = tf.nn.softmax(logits)
    ids = tf.argmax(logits, axis=1)
    names = tf.gather(tf.constant(CLASS_NAMES), ids)  # tf.string tensors: bytes
    # names as tf.string tensors, probabilities as tf scalars, pairs as lists in a tuple
    answer = tuple([names[r], probabilities[r, i]] for r, i in enumerate(ids.numpy()))
    assert right(ex3, answer).startswith("roses ")
    # names as numpy strings, probabilities as numpy float32, from a numpy softmax
    exp = np.exp(logits - logits.max(1, keepdims=True))
    p = (exp / exp.sum(1, keepdims=True)).astype("float32")
    assert right(ex3, [(np.array(CLASS_NAMES)[i], p[r, i]) for r, i in enumerate(p.argmax(1))])


# ------------------------------------------------------------------------------------------ found in review (r2)
def test_03_2_the_models_own_predictions_as_labels_are_named():
    from course_exercises.lesson03 import ex2

    model, _, logits, _ = _answers()
    joined = np.concatenate(logits)
    assert wrong(ex2, joined, joined.argmax(axis=1), model) == (
        "loop_labels are the model's own predictions (the argmax of loop_logits): collect the true labels, batch_y, "
        "from each batch.")


def test_03_3_a_class_id_and_a_rounded_percentage_are_named_for_what_they_are():
    import tensorflow as tf

    from course_exercises.lesson03 import CLASS_NAMES, ex3, example_logits

    logits = example_logits()
    ids = logits.argmax(1)
    probs = tf.nn.softmax(logits).numpy()
    assert wrong(ex3, [(int(i), probs[r, i]) for r, i in enumerate(ids)]) == (
        f"image 0: {int(ids[0])} is a class id; give its name, class_names[{int(ids[0])}] "
        f"({CLASS_NAMES[ids[0]]!r}).")
    assert wrong(ex3, [(CLASS_NAMES[i], round(100 * float(probs[r, i]))) for r, i in enumerate(ids)]) == (
        f"image 0: {round(100 * float(probs[0, ids[0]])):.1f} is a percentage; give the probability as a fraction "
        "between 0 and 1.")


def test_03_3_probabilities_rounded_to_two_decimals_are_accepted():
    import tensorflow as tf

    from course_exercises.lesson03 import CLASS_NAMES, ex3, example_logits

    logits = example_logits()
    probs = tf.nn.softmax(logits).numpy()
    assert right(ex3, [(CLASS_NAMES[i], round(float(probs[r, i]), 2)) for r, i in enumerate(logits.argmax(1))])
