"""The exercise checks held to what they do where the other exercise tests left a planted bug unnoticed
(`make mutation`, docs/MUTATION.md): each case is an answer or a call whose verdict, message or value a
mutated check would get wrong.

The decorator's own behaviour is tested by calling it here: the lesson modules run it once, at import,
before a mutant is switched on.
"""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from catalogue import lesson03_loop, right, wrong

from course_exercises import Wrong, exercise


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


# ------------------------------------------------------------------ lesson 03.2 and 03.3: predictions to names
def test_03_2_a_right_loop_is_told_the_batches_and_the_untrained_accuracy():

    from course_exercises.lesson03 import ex2

    model, logits, labels = _loop()
    assert right(ex2, np.concatenate(logits), np.concatenate(labels), model) == (
        "70 predictions from batches of 32, 32 and 6, each paired with its own label (this untrained model's "
        "accuracy: 0.20, chance is 0.20).")


def _flowers():
    import tensorflow as tf

    from course_exercises.lesson03 import CLASS_NAMES, example_logits

    logits = example_logits()
    probabilities = tf.nn.softmax(logits, axis=-1).numpy()
    ids = logits.argmax(axis=1)
    return [(CLASS_NAMES[i], float(probabilities[row, i])) for row, i in enumerate(ids)]


def test_03_3_the_example_logits_are_float32_rounded_to_three_decimals_like_a_prediction():
    from course_exercises.lesson03 import example_logits

    logits = example_logits()
    assert logits.dtype == np.float32 and logits.shape == (6, 5)
    assert np.array_equal(logits, logits.astype("float64").round(3).astype("float32"))


def test_03_3_a_right_answer_is_read_back_with_each_name_and_percentage():
    from course_exercises.lesson03 import ex3

    answer = _flowers()
    expected = "roses 95%; dandelion 73%; tulips 50%; daisy 92%; sunflowers 70%; dandelion 95%."
    assert right(ex3, answer) == expected
    # probabilities rounded to 3 decimals are still the softmax's (within 0.001)
    assert right(ex3, [(name, round(p, 3)) for name, p in answer]) == expected


@pytest.mark.parametrize(("answer", "message"), [
    ("roses", "answer should be a list of (class name, probability) pairs, one per image."),
    ("array of names", "answer should be a list of (class name, probability) pairs, one per image."),
    ("four pairs", "4 answers for 6 images: take argmax over each row (axis=1)."),
    ("a triple", "answer[0] should be a (name, probability) pair, not ('roses', 0.95, 4)."),
    ("a wrong name as a tensor", "image 0: 'daisy' is not the class with the largest logit in row 0."),
    ("a probability as text", "the probability of image 0 should be a number, not str"),
    ("a rounded percentage", "image 0: 95.4 is a percentage; give the probability as a fraction between 0 and 1."),
    ("zero", "image 0: 0.000 is not the softmax probability of 'roses' (softmax over the row's 5 logits, axis=-1)."),
    ("one", "image 0: 1.000 is not the softmax probability of 'roses' (softmax over the row's 5 logits, axis=-1)."),
    ("one and a half", "image 0: 1.500 is a logit, not a probability: apply tf.nn.softmax to the row first."),
])
def test_03_3_each_wrong_answer_gets_its_message(answer, message):
    import tensorflow as tf

    from course_exercises.lesson03 import ex3

    pairs = _flowers()
    (name, p), rest = pairs[0], pairs[1:]
    answers = {
        "array of names": np.array([n for n, _ in pairs]),
        "four pairs": pairs[:4],
        "a triple": [(name, round(p, 2), 4)] + rest,
        "a wrong name as a tensor": [(tf.constant("daisy"), p)] + rest,
        "a probability as text": [(name, str(p))] + rest,
        "a rounded percentage": [(name, round(100 * p, 1))] + rest,
        "zero": [(name, 0.0)] + rest,
        "one": [(name, 1.0)] + rest,
        "one and a half": [(name, 1.5)] + rest,
    }
    assert wrong(ex3, answers.get(answer, answer)) == message


# ------------------------------------------------------------------ lesson 02: include_top, the hub head
def test_02_1_the_exercise_model_is_inception_v3_at_75x75_with_its_imagenet_top():
    from course_exercises.lesson02 import ex1, inception_with_top

    model = inception_with_top()
    assert tuple(model.inputs[0].shape) == (None, 75, 75, 3)
    assert tuple(model.outputs[0].shape) == (None, 1000)
    assert right(ex1, 2_049_000, model) == (
        f"include_top=True adds 2,049,000 parameters (avg_pool, predictions): 2,048 x 1,000 weights + 1,000 biases. "
        f"That is {2_049_000 / model.count_params():.0%} of the model; the new Dense(5) head needs only 10,245.")


def test_02_2_an_activation_without_a_name_is_shown_as_it_is():
    import tensorflow_hub as hub
    import tf_keras

    from course_exercises.lesson02 import ex2, feature_module

    softmax = tf_keras.layers.Softmax()  # a layer as the activation: it has no __name__
    model = tf_keras.Sequential([hub.KerasLayer(feature_module(), trainable=True, input_shape=(64, 64, 3)),
                                 tf_keras.layers.Dense(128, activation="relu"),
                                 tf_keras.layers.Dense(64, activation="relu"),
                                 tf_keras.layers.Dense(5, activation=softmax)])
    assert wrong(ex2, 1, model) == (f"the last Dense(5) has activation {str(softmax)!r}: Part B's gives logits (no "
                                    "activation), as its loss (from_logits=True) expects.")


def _loop():
    """03.2's objects and a right answer: the model, its logits and labels from one pass over the batches."""
    model, _, logits, labels = lesson03_loop()
    return model, logits, labels


def test_03_2_the_small_model_gives_five_logits_per_8x8_image():
    from course_exercises.lesson03 import setup

    model, batches = setup()
    assert (model.name, model.layers[-1].name) == ("small_flower_model", "logits")
    assert [tuple(x.shape) for x, _ in batches] == [(32, 8, 8, 3), (32, 8, 8, 3), (6, 8, 8, 3)]
    assert tuple(model(next(iter(batches))[0]).shape) == (32, 5)


def test_03_2_labels_as_a_column_are_read_as_one_label_per_image():
    from course_exercises.lesson03 import ex2

    model, logits, labels = _loop()
    assert right(ex2, np.concatenate(logits), np.concatenate(labels)[:, None], model).startswith("70 predictions")


@pytest.mark.parametrize("case, message", [
    ("not a model", "small_model should be a Keras model, not str"),
    ("labels in batches", "loop_labels is a list of 3 batches: np.concatenate(...) it into one array with a row per "
                          "image."),
    ("logits in one batch in a list", "loop_logits is a list of 1 batches: np.concatenate(...) it into one array "
                                      "with a row per image."),
    ("one label short", "70 predictions but 69 labels: collect the labels of every batch in the same loop as the "
                        "predictions."),
    ("zeros", "some rows are not the model's output for any test image: use model(images) (or "
              "model.predict_on_batch(images)) on each batch."),
    ("one image twice", "some images appear twice and others not at all: go over the dataset exactly once."),
])
def test_03_2_each_wrong_loop_gets_its_message(case, message):
    from course_exercises.lesson03 import ex2

    model, logits, labels = _loop()
    all_logits, all_labels = np.concatenate(logits), np.concatenate(labels)
    twice = all_logits.copy()
    twice[-1] = twice[0]
    answers = {
        "not a model": (all_logits, all_labels, "model"),
        "labels in batches": (all_logits, labels, model),
        "logits in one batch in a list": ([all_logits], all_labels, model),
        "one label short": (all_logits, all_labels[:-1], model),
        "zeros": (np.zeros_like(all_logits), all_labels, model),
        "one image twice": (twice, all_labels, model),
    }
    assert wrong(ex2, *answers[case]) == message


def test_03_1_every_part_of_a_split_is_cut_from_train_and_tfds_says_what_it_could_not_read():
    import tensorflow_datasets as tfds

    from course_exercises.lesson03 import ex1

    assert wrong(ex1, ["train[:10%]+test[90%:]", "train[10%:20%]", "train[20%:90%]"]) == (
        "'train[:10%]+test[90%:]': tf_flowers has a single split, 'train'; cut every part from it ('train[...]').")
    try:
        tfds.core.ReadInstruction.from_spec("train[:20%")
    except Exception as error:  # noqa: BLE001 - whatever TFDS raises, the check quotes its first line
        said = str(error).splitlines()[0]
    assert wrong(ex1, ["train[:20%", "train[20%:30%]", "train[30%:]"]) == (
        f"'train[:20%' is not a TFDS split string ({said}); the form is 'train[a%:b%]'.")


# ------------------------------------------------------------------ lesson 01.2 and 01.3: the head, the cut
def _three_way(cnn, *between, activation="softmax", name="three"):
    import keras

    x = cnn.layers[-2].output
    dense = keras.layers.Dense(3, activation=activation, name=name)
    x = dense(x)
    for layer in between:
        x = layer(x)
    return keras.Model(cnn.inputs, x), dense


def test_01_2_a_head_with_biases_that_are_not_zero_is_still_the_softmax_of_its_dense_layer():
    from course_exercises.lesson01 import digit_cnn, ex2

    cnn = digit_cnn()
    model, dense = _three_way(cnn)
    dense.bias.assign([0.5, -1.0, 2.0])
    assert right(ex2, model, cnn) == ("3 probabilities per image, summing to 1: the softmax of your Dense(3) on cnn's "
                                      "1,152 flatten features; 3,459 new parameters (1,152 x 3 weights + 3 biases).")


def _01_2_answers(case):
    import keras

    from course_exercises.lesson01 import digit_cnn

    cnn = digit_cnn()
    features = cnn.layers[-2].output
    dense = keras.layers.Dense
    if case == "cnn not a model":
        return _three_way(cnn)[0], "cnn"
    if case == "three_way not a model":
        return "three_way", cnn
    if case == "two outputs":
        probabilities = dense(3, activation="softmax")(features)
        return keras.Model(cnn.inputs, [probabilities, probabilities]), cnn
    if case == "another cnn":
        return _three_way(digit_cnn())[0], cnn
    if case == "no new weights":
        pick = keras.layers.Lambda(lambda t: keras.ops.softmax(t[:, :3]))
        return keras.Model(cnn.inputs, pick(cnn.layers[-1].output)), cnn
    if case == "two new layers":
        hidden = dense(16, activation="relu", name="hidden")(features)
        return keras.Model(cnn.inputs, dense(3, activation="softmax", name="three")(hidden)), cnn
    if case == "not a Dense":
        einsum = keras.layers.EinsumDense("ab,bc->ac", output_shape=3, name="einsum")(features)
        return keras.Model(cnn.inputs, keras.layers.Softmax()(einsum)), cnn
    if case == "on conv3 pooled":
        pooled = keras.layers.GlobalAveragePooling2D()(cnn.get_layer("conv3").output)
        return keras.Model(cnn.inputs, dense(3, activation="softmax")(pooled)), cnn
    if case == "softmax of doubled logits":
        return _three_way(cnn, keras.layers.Lambda(lambda t: keras.ops.softmax(2.0 * t)), activation=None)[0], cnn
    if case == "head frozen":
        model, head = _three_way(cnn)
        head.trainable = False
        return model, cnn
    if case == "head weights frozen":
        model, head = _three_way(cnn)
        head.kernel.trainable = False  # the layer's flag still says True; fit leaves the kernel alone
        return model, cnn
    raise AssertionError(case)


KEEP = "fit would never change its random weights. Freeze cnn's layers if you like, never the new head."


@pytest.mark.parametrize("case, message", [
    ("cnn not a model", "cnn should be a Keras model, not str"),
    ("three_way not a model", "three_way should be a Keras model, not str"),
    ("two outputs", "three_way has several outputs; build it with one: keras.Model(cnn.inputs, probabilities)."),
    ("another cnn", "your model does not reuse cnn's layers: build it from cnn's input (cnn.inputs) and "
                    "cnn.layers[-2].output, so the new head sits on what cnn has learnt."),
    ("no new weights", "your model has no new layer with weights: the head is a new Dense(3) on the features."),
    ("two new layers", "your head has 2 new layers with weights (hidden and three): the task asks for one new output "
                       "layer on the features."),
    ("not a Dense", "your new layer einsum is a EinsumDense; the head is a Dense(3)."),
    ("on conv3 pooled", "your Dense(3) reads 128 numbers per image; cnn's flatten gives 1,152: take the features from "
                        "cnn.layers[-2].output."),
    ("softmax of doubled logits", "your outputs are probabilities, but not the softmax of your Dense(3) applied to "
                                  "cnn's flatten features: something between the features and the softmax changes "
                                  "them; use Dense(3, activation='softmax') right on cnn.layers[-2].output."),
    ("head frozen", f"your new Dense(3) (three) has trainable=False: {KEEP}"),
    ("head weights frozen", "your new Dense(3) (three) has weights that fit would not update (they are not in "
                            "three_way.trainable_weights: frozen one by one, or, in tf_keras, under a frozen part): "
                            f"{KEEP}"),
])
def test_01_2_each_wrong_head_gets_its_message(case, message):
    from course_exercises.lesson01 import ex2

    assert wrong(ex2, *_01_2_answers(case)) == message


def _01_3_answers(case):
    import keras

    from course_exercises.lesson01 import digit_cnn

    cnn = digit_cnn()
    conv2 = cnn.get_layer("conv2").output
    if case == "cnn not a model":
        return keras.Model(cnn.inputs, conv2), "cnn"
    if case == "two outputs":
        return keras.Model(cnn.inputs, [conv2, conv2]), cnn
    if case == "a shape no layer has":
        return keras.Model(cnn.inputs, keras.layers.Conv2D(5, 1)(conv2)), cnn
    if case == "another cnn's conv2":
        other = digit_cnn()
        return keras.Model(other.inputs, other.get_layer("conv2").output), cnn
    if case == "conv2 shifted":
        return keras.Model(cnn.inputs, keras.layers.Lambda(lambda t: t + 0.5)(conv2)), cnn
    raise AssertionError(case)


@pytest.mark.parametrize("case, message", [
    ("cnn not a model", "cnn should be a Keras model, not str"),
    ("two outputs", "your model's output has shape None; conv2's output is (None, 11, 11, 64): end the model at "
                    "cnn.get_layer('conv2').output."),
    ("a shape no layer has", "your model's output has shape (None, 11, 11, 5); conv2's output is (None, 11, 11, 64): "
                             "end the model at cnn.get_layer('conv2').output."),
    ("another cnn's conv2", "your conv2 is a new layer with random weights of its own: build the model from cnn's own "
                            "tensors (cnn.inputs, cnn.get_layer('conv2').output) so it reuses what cnn has learnt."),
    ("conv2 shifted", "your model ends in a layer of conv2's shape, but on the same images it does not give conv2's "
                      "output: build it as keras.Model(cnn.inputs, cnn.get_layer('conv2').output)."),
])
def test_01_3_each_wrong_cut_gets_its_message(case, message):
    from course_exercises.lesson01 import ex3

    assert wrong(ex3, *_01_3_answers(case)) == message


# ------------------------------------------------------------------ lesson 06: the exercise's own model
def test_06_the_exercise_model_is_the_lessons_recipe_at_32x32():
    import keras

    from course_exercises.lesson06 import transfer_model

    model = transfer_model()
    base = model.layers[1]
    assert model.name == "vgg16_cifar10_exercise"
    assert [layer.name for layer in model.layers[2:]] == ["flatten", "fc1", "fc2", "output"]
    assert isinstance(base, keras.Model) and base.name == "vgg16"  # Keras 3, as the lesson
    assert tuple(model.inputs[0].shape) == tuple(base.inputs[0].shape) == (None, 32, 32, 3)
    assert tuple(base.outputs[0].shape) == (None, 1, 1, 512)
    assert [model.get_layer(name).activation.__name__ for name in ("fc1", "fc2", "output")] == [
        "relu", "relu", "linear"]
    assert tuple(model.outputs[0].shape) == (None, 10)
