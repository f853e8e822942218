"""Lesson 04's exercise checks, called directly on a catalogue of answers (issue 23).

Each exercise gets wrong answers a learner is likely to write, each rejected with its own message, and right
answers written in unusual but valid ways, each accepted. Exercise 04.3 is judged by what a training step changes:
an unfreeze without a recompile leaves block5 as it was, whatever the layers' flags say.
"""
from __future__ import annotations

import keras
import numpy as np
import pytest
from catalogue import right, wrong


# ------------------------------------------------------------------------------------------ 04.1 preprocessing
def test_04_1_wrong_preprocessing_each_gets_its_own_message():
    from course_exercises.lesson04 import CAFFE_MEAN_BGR, ex1, photo

    x = photo().astype("float32")[None]
    caffe = keras.applications.vgg19.preprocess_input(x.copy())
    messages = {
        "no batch axis": wrong(ex1, caffe[0]),
        "divided by 255": wrong(ex1, x / 255),
        "raw pixels": wrong(ex1, x),
        "mobilenet's": wrong(ex1, keras.applications.mobilenet.preprocess_input(x.copy())),
        "torch mode": wrong(ex1, keras.applications.imagenet_utils.preprocess_input(x.copy(), mode="torch")),
        "still RGB": wrong(ex1, caffe[..., ::-1]),
        "twice": wrong(ex1, keras.applications.vgg19.preprocess_input(caffe.copy())),
        "wrong shape": wrong(ex1, np.zeros((1, 32, 32, 3))),
        "something else": wrong(ex1, x - np.array(CAFFE_MEAN_BGR).mean()),
    }
    assert messages["no batch axis"] == ("batch has no batch axis (224, 224, 3): predict() wants (1, 224, 224, 3); "
                                         "np.expand_dims(coffee, 0) adds it.")
    assert messages["divided by 255"] == (
        "values in [0, 1] (divided by 255): that is the TF Hub models' convention. VGG19's weights expect "
        "caffe-style input: BGR, 0-255 minus the ImageNet mean pixel, no scaling (vgg19.preprocess_input).")
    assert messages["raw pixels"].startswith("these are the raw pixels (0 to 255, RGB)")
    assert messages["mobilenet's"].startswith("values in [-1, 1]: that is the 'tf' preprocessing")
    assert messages["torch mode"].startswith("ImageNet mean/std normalisation in RGB (the 'torch' mode, PyTorch's)")
    assert messages["still RGB"].startswith("the mean pixel is subtracted but the channels are still in RGB order")
    assert messages["twice"].startswith("preprocessed twice")
    assert messages["wrong shape"] == ("batch has shape (1, 32, 32, 3); expected (1, 224, 224, 3): the photo with a "
                                       "batch axis.")
    assert messages["something else"].endswith(
        "are not what VGG19 expects: use keras.applications.vgg19.preprocess_input on the 0-255 photo.")
    assert len(set(messages.values())) == len(messages)


def test_04_1_valid_but_unusual_preprocessing_is_accepted():
    import tensorflow as tf

    from course_exercises.lesson04 import CAFFE_MEAN_BGR, ex1, photo

    coffee = photo()
    # a tf.Tensor in, a tf.Tensor out
    assert right(ex1, keras.applications.vgg19.preprocess_input(tf.constant(coffee[None], tf.float32)))
    # VGG16's function: the same caffe preprocessing
    assert right(ex1, keras.applications.vgg16.preprocess_input(np.expand_dims(coffee, 0)))
    # by hand, in float64: flip to BGR, subtract the mean pixel
    assert right(ex1, coffee[None, ..., ::-1].astype("float64") - np.array(CAFFE_MEAN_BGR)).startswith(
        "caffe-style input: channels flipped to BGR, the ImageNet mean pixel subtracted, no scaling")


# ------------------------------------------------------------------------------------------ 04.2 size of the head
HEAD_MISTAKES = {
    50_178: "50,178 is the head for 224x224 inputs (a 7x7x512 map, 25,088 values after Flatten); at 32x32 the map is "
            "1x1x512.",
    1_024: "1,024 counts the weights but not the 2 biases of Dense(2).",
    4_098: "4,098 assumes a 2x2 map, after four poolings; VGG19 has five (block1_pool to block5_pool): 32 / 2**5 = 1.",
    512: "512 is the number of values after Flatten; Dense(2) has two weights per value, plus biases.",
    20_024_384: "20,024,384 includes the frozen VGG19 base; the head is only Flatten + Dense(2).",
    1_000: "1,000 is not the head's size: work out VGG19's output shape at 32x32 (base.output.shape), then Flatten, "
           "then Dense(2).",
}


@pytest.mark.parametrize("answer", list(HEAD_MISTAKES))
def test_04_2_each_wrong_count_gets_its_own_message(answer):
    from course_exercises.lesson04 import ex2

    assert wrong(ex2, answer) == HEAD_MISTAKES[answer]


def test_04_2_wrong_count_messages_are_distinct_and_non_numbers_are_named():
    from course_exercises.lesson04 import ex2

    assert len(set(HEAD_MISTAKES.values())) == len(HEAD_MISTAKES)
    assert wrong(ex2, 1026.5) == "head_params should be a whole number, not 1026.5"
    assert wrong(ex2, "1026") == "head_params should be a number, not str"


@pytest.mark.parametrize("written", ["np.int64(1026)", "tf.constant(1026)", "1026.0", "np.array([1026])",
                                     "tf.reduce_sum([1024, 2])"])
def test_04_2_the_right_count_is_accepted_however_it_is_written(written):
    import tensorflow as tf

    from course_exercises.lesson04 import ex2

    answer = eval(written, {"np": np, "tf": tf})
    assert right(ex2, answer).startswith("at 32x32 five poolings leave a 1x1x512 feature map")


# ------------------------------------------------------------------------------------------ 04.3 fine-tuning phase
def _unfreeze_block5(model):
    for layer in model.layers:
        if layer.name.startswith("block5"):
            layer.trainable = True


def _compile(model, rate, loss="categorical_crossentropy", optimizer=None):
    model.compile(optimizer=optimizer or keras.optimizers.Adam(learning_rate=rate), loss=loss)


def test_04_3_wrong_fine_tuning_each_gets_its_own_message():
    from course_exercises.lesson04 import ex3, frozen_model

    messages = {}
    model = frozen_model()
    _unfreeze_block5(model)  # ... and no compile: the flags say trainable, a training step leaves block5 as it was
    messages["no recompile"] = wrong(ex3, 1e-5, model)
    model = frozen_model()
    _compile(model, 1e-5)
    _unfreeze_block5(model)  # compiled first, unfrozen after, no step between: in Keras 3 the change counts
    assert right(ex3, 1e-5, model).startswith("a training step changes block5's 4 convolutions")

    for layer in model.layers:  # everything, recompiled
        layer.trainable = True
    _compile(model, 1e-5)
    messages["everything"] = wrong(ex3, 1e-5, model)
    for layer in model.layers:
        layer.trainable = layer.name.startswith("block5") and layer.name.endswith("conv1") or (
            not layer.name.startswith("block"))
    _compile(model, 1e-5)
    messages["one layer of block5"] = wrong(ex3, 1e-5, model)
    for layer in model.layers:
        layer.trainable = layer.name.startswith("block5")  # the head frozen too
    _compile(model, 1e-5)
    messages["head frozen"] = wrong(ex3, 1e-5, model)
    _unfreeze_block5(model)
    model.get_layer("cactus").trainable = True
    _compile(model, 1e-3)
    messages["first phase's rate"] = wrong(ex3, 1e-3, model)
    messages["rate not the one compiled"] = wrong(ex3, 1e-4, model)
    # the solution's rate, not the one compiled: written back as Python writes it (1e-05)
    assert wrong(ex3, 1e-5, model) == (
        "the model is compiled with a learning rate of 0.001, not your fine_tune_rate 1e-05: compile again after "
        "changing trainable, with learning_rate=fine_tune_rate.")
    _compile(model, 1e-7)
    messages["rate far too low"] = wrong(ex3, 1e-7, model)

    assert messages["no recompile"] == (
        "block5_conv1, block5_conv2, block5_conv3, block5_conv4 are marked trainable but did not change in a training "
        "step: compile again after changing trainable (the change takes effect only then).")
    assert messages["everything"] == ("12 layers before block5 train too (the first: block1_conv1): unfreeze only "
                                      "block5; the early blocks hold the most general features.")
    assert messages["one layer of block5"] == (
        "block5_conv2, block5_conv3, block5_conv4 still frozen: make every layer of block5 trainable.")
    assert messages["head frozen"] == ("the Dense head did not change in a training step: it keeps training in the "
                                       "second phase (leave it trainable).")
    assert messages["first phase's rate"].startswith("the learning rate is 0.001, the first phase's: recompile with")
    assert messages["rate not the one compiled"] == (
        "the model is compiled with a learning rate of 0.001, not your fine_tune_rate 0.0001: compile again after "
        "changing trainable, with learning_rate=fine_tune_rate.")
    assert messages["rate far too low"] == (
        "a learning rate of 1e-07 is not 10 to 100 times lower than the first phase's 0.001: try 1e-4 or 1e-5.")
    assert len(set(messages.values())) == len(messages)


def test_04_3_the_check_leaves_the_learners_model_as_it_was():
    from course_exercises.lesson04 import ex3, frozen_model

    model = frozen_model()
    _unfreeze_block5(model)
    _compile(model, 1e-5)
    weights = model.get_weights()
    right(ex3, 1e-5, model)
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    assert int(model.optimizer.iterations.numpy()) == 0


def test_04_3_valid_but_unusual_fine_tuning_is_accepted():
    import tensorflow as tf

    from course_exercises.lesson04 import ex3, frozen_model

    # everything unfrozen layer by layer, then blocks 1-4 frozen again by name; SGD, a sparse loss,
    # and the rate handed in as a tf.Tensor
    # (SGD: tf_keras had a legacy one; Keras 3 has one SGD)
    model = frozen_model()
    for layer in model.layers:
        layer.trainable = True
    for layer in model.layers:
        if layer.name.startswith(("block1", "block2", "block3", "block4")):
            layer.trainable = False
    _compile(model, None, loss="sparse_categorical_crossentropy",
             optimizer=keras.optimizers.SGD(learning_rate=1e-4))  # Keras 3 refuses a numpy rate here
    assert right(ex3, tf.constant(1e-4), model).startswith(
        "a training step changes block5's 4 convolutions and the head (9,440,258 parameters) at a learning rate 10 "
        "times lower")
    # block5's layers one by one with get_layer, RMSprop, the rate as a numpy scalar
    model = frozen_model()
    for name in ("block5_conv1", "block5_conv2", "block5_conv3", "block5_conv4"):
        model.get_layer(name).trainable = True
    _compile(model, None, optimizer=keras.optimizers.RMSprop(learning_rate=2e-5))
    assert right(ex3, np.float64(2e-5), model).endswith("blocks 1 to 4 stay as they were.")


# ------------------------------------------------------------------------------------------ found in review (r2)
def test_04_1_preprocess_input_after_dividing_by_255_is_named():
    from course_exercises.lesson04 import ex1, photo

    x = photo().astype("float32")[None]
    assert wrong(ex1, keras.applications.vgg19.preprocess_input(x / 255.0)) == (
        "vgg19.preprocess_input on pixels already divided by 255: it subtracts the mean pixel in 0-255 units, so "
        "every value lands near -100. Give it the 0-255 photo (no rescale=1/255 before it).")


def test_04_3_a_rate_more_than_100_times_lower_is_rejected():
    from course_exercises.lesson04 import ex3, frozen_model

    model = frozen_model()
    _unfreeze_block5(model)
    _compile(model, 5e-6)
    assert wrong(ex3, 5e-6, model) == (
        "a learning rate of 5e-06 is not 10 to 100 times lower than the first phase's 0.001: try 1e-4 or 1e-5.")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3 / 100), loss="categorical_crossentropy")
    assert right(ex3, 1e-3 / 100, model)


def _nested_part_b():
    """Part B with the base nested as one layer, Sequential([vgg19, Flatten, Dense]), compiled for its head."""
    base = keras.applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    base.trainable = False
    model = keras.Sequential([base, keras.layers.Flatten(),
                                 keras.layers.Dense(2, activation="softmax", name="cactus")])
    _compile(model, 1e-3)
    return model, base


def test_04_3_a_nested_base_is_judged_layer_by_layer():
    from course_exercises.lesson04 import ex3

    model, base = _nested_part_b()
    base.trainable = True  # the whole base, recompiled: blocks 1-4 train too
    _compile(model, 1e-5)
    assert wrong(ex3, 1e-5, model) == ("12 layers before block5 train too (the first: block1_conv1): unfreeze only "
                                       "block5; the early blocks hold the most general features.")
    base.trainable = False  # nothing of the base trains
    _compile(model, 1e-5)
    assert wrong(ex3, 1e-5, model) == (
        "block5_conv1, block5_conv2, block5_conv3, block5_conv4 sit inside 'vgg19', whose trainable is False: set that "
        "model's trainable to True and block5's layers' trainable to True, the layers before block5 False, then "
        "compile again.")
    for layer in base.layers:  # block5 set trainable after the base was frozen: Keras 3 trains it (tf_keras did not)
        layer.trainable = layer.name.startswith("block5")
    _compile(model, 1e-5)
    assert right(ex3, 1e-5, model).startswith("a training step changes block5's 4 convolutions")
    base.trainable = True  # only block5 inside the nested base: right
    for layer in base.layers:
        layer.trainable = layer.name.startswith("block5")
    _compile(model, 1e-5)
    assert right(ex3, 1e-5, model) == (
        "a training step changes block5's 4 convolutions and the head (9,440,258 parameters) at a learning rate 100 "
        "times lower; blocks 1 to 4 stay as they were.")


# ------------------------------------------------------------------------------------------ found by mutation testing
def test_04_1_each_wrong_preprocessing_message_is_whole():
    from course_exercises.lesson04 import ex1, photo

    x = photo().astype("float32")[None]
    caffe = keras.applications.vgg19.preprocess_input(x.copy())
    assert wrong(ex1, x) == ("these are the raw pixels (0 to 255, RGB): VGG19 also needs the channels flipped to BGR "
                             "and the ImageNet mean pixel subtracted. vgg19.preprocess_input does both.")
    assert wrong(ex1, x / 127.5 - 1) == (
        "values in [-1, 1]: that is the 'tf' preprocessing of MobileNet and Inception. VGG19 expects caffe-style "
        "input: BGR, 0-255 minus the ImageNet mean pixel (vgg19.preprocess_input).")
    assert wrong(ex1, keras.applications.imagenet_utils.preprocess_input(x.copy(), mode="torch")) == (
        "ImageNet mean/std normalisation in RGB (the 'torch' mode, PyTorch's): Keras's VGG19 weights come from "
        "Caffe: BGR, 0-255 minus the mean pixel, no std (vgg19.preprocess_input).")
    assert wrong(ex1, caffe[..., ::-1]) == ("the mean pixel is subtracted but the channels are still in RGB order: "
                                            "VGG19 expects BGR (vgg19.preprocess_input flips them).")
    assert wrong(ex1, keras.applications.vgg19.preprocess_input(caffe.copy())) == (
        "preprocessed twice (the channels flipped back to RGB, the mean pixel subtracted twice): call "
        "vgg19.preprocess_input once; it changes a float array in place.")


def test_04_1_the_mean_pixel_typed_from_memory_is_not_accepted():
    from course_exercises.lesson04 import ex1, photo

    # a learner's own caffe preprocessing with the means rounded: off by under one grey level, still not VGG19's
    by_hand = photo()[None, ..., ::-1].astype("float64") - np.array([104.0, 117.0, 124.0])
    assert wrong(ex1, by_hand).endswith(
        "are not what VGG19 expects: use keras.applications.vgg19.preprocess_input on the 0-255 photo.")
    # divided by 256, not 255: not the [0, 1] of the message about 255 (the tolerance is finer than 1/255)
    assert wrong(ex1, photo()[None] / 256.0).endswith("are not what VGG19 expects: use "
                                                      "keras.applications.vgg19.preprocess_input on the 0-255 photo.")


def test_04_3_answers_that_are_not_a_model_or_a_rate_or_not_compiled_are_named():
    from course_exercises.lesson04 import ex3, frozen_model

    model = frozen_model()
    assert wrong(ex3, 1e-5, "part_b") == "part_b should be a Keras model, not str"
    assert wrong(ex3, "1e-5", model) == "fine_tune_rate should be a number, not str"
    bare = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(2)])
    assert wrong(ex3, 1e-5, bare) == "the model is not compiled: compile it again after changing trainable."


def test_04_3_a_recompile_with_the_old_optimizer_is_named():
    from course_exercises.lesson04 import ex3, frozen_model

    model = frozen_model()
    _unfreeze_block5(model)
    _compile(model, None, optimizer=model.optimizer)  # built for the head's variables by the first phase's step
    assert wrong(ex3, 1e-5, model) == (
        "the optimizer was built for the variables that trained before the change, and Keras 3 refuses new ones: "
        "compile again with a new optimizer, keras.optimizers.Adam(learning_rate=fine_tune_rate), not "
        "model.optimizer.")


def test_04_3_one_layer_flagged_without_a_recompile_and_rates_out_of_range_are_named():
    from course_exercises.lesson04 import ex3, frozen_model

    model = frozen_model()
    model.get_layer("block5_conv1").trainable = True
    assert wrong(ex3, 1e-5, model) == (
        "block5_conv1 is marked trainable but did not change in a training step: compile again after changing "
        "trainable (the change takes effect only then).")
    _unfreeze_block5(model)
    _compile(model, 1e-3)
    assert wrong(ex3, 1e-3, model) == (
        "the learning rate is 0.001, the first phase's: recompile with a rate 10 to 100 times lower (1e-4 to 1e-5), "
        "or the large updates undo the pretrained weights. (A change of trainable takes effect only when you "
        "compile.)")
    _compile(model, 2e-4)
    assert wrong(ex3, 2e-4, model) == (
        "a learning rate of 0.0002 is not 10 to 100 times lower than the first phase's 0.001: try 1e-4 or 1e-5.")
    _compile(model, 1e-4)
    assert right(ex3, 1e-4, model).startswith("a training step changes block5's 4 convolutions and the head "
                                              "(9,440,258 parameters) at a learning rate 10 times lower")


def test_04_3_sparse_losses_as_a_function_or_an_object_are_accepted():
    from course_exercises.lesson04 import ex3, frozen_model

    model = frozen_model()
    _unfreeze_block5(model)
    for loss in (keras.losses.sparse_categorical_crossentropy, keras.losses.SparseCategoricalCrossentropy(),
                 keras.losses.CategoricalCrossentropy()):
        _compile(model, 1e-5, loss=loss)
        assert right(ex3, 1e-5, model).endswith("blocks 1 to 4 stay as they were.")


def test_04_3_the_check_puts_back_the_optimizers_state_after_a_step():
    from course_exercises.lesson04 import _step_batch, ex3, frozen_model

    model = frozen_model()
    _unfreeze_block5(model)
    _compile(model, 1e-5)
    model.train_on_batch(*_step_batch(model))  # the learner has trained the second phase for one step
    state = [v.numpy().copy() for v in model.optimizer.variables]
    right(ex3, 1e-5, model)
    after = [v.numpy() for v in model.optimizer.variables]
    assert len(after) == len(state) and all(np.array_equal(a, b) for a, b in zip(state, after))
    assert int(model.optimizer.iterations.numpy()) == 1
