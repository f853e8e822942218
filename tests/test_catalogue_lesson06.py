"""Lesson 06's exercise checks, called directly on answers built here: for each exercise, wrong answers
(each rejected with its own message) and valid but unusual right answers (accepted).

Models are built with ``weights=None`` (no network) and shared within an exercise where only flags change.
"""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from catalogue import right, wrong

from course_exercises.lesson06 import ex1, ex2, ex3, transfer_model

FC1_32 = 512 * 4096 + 4096  # fc1 on the 1x1x512 map of a 32x32 VGG16
VGG16_CONV = 14_714_688  # VGG16 without its top
OUTPUT = 4096 * 10 + 10
FC2 = 4096 * 4096 + 4096
TRAINS = FC1_32 + FC2 + OUTPUT  # fc1, fc2 and output of transfer_model()


def vgg16(shape=(32, 32, 3), **kwargs):
    return keras.applications.VGG16(weights=None, include_top=False, input_shape=shape, **kwargs)


def distinct(messages):
    assert len(set(messages)) == len(messages), messages


# ------------------------------------------------------------------ 06.1 fc1's size at 32x32
@pytest.fixture(scope="module")
def base32():
    return vgg16()


def test_ex1_rejects_each_wrong_answer_with_its_own_message(base32):
    messages = [
        wrong(ex1, 102_764_544, base32),
        wrong(ex1, FC1_32 - 4096, base32),
        wrong(ex1, FC2, base32),
        wrong(ex1, 2 * 2 * 512 * 4096 + 4096, base32),
        wrong(ex1, VGG16_CONV, base32),
        wrong(ex1, 12345, base32),
        wrong(ex1, 2.5, base32),
        wrong(ex1, "2101248", base32),
        wrong(ex1, FC1_32, 2_101_248),
        wrong(ex1, FC1_32, vgg16((64, 64, 3))),
        wrong(ex1, FC1_32, vgg16((None, None, 3))),
        wrong(ex1, FC1_32, vgg16(pooling="avg")),
        wrong(ex1, FC1_32, keras.applications.VGG16(weights=None, include_top=True, input_shape=(32, 32, 3),
                                                       classes=10)),
        wrong(ex1, FC1_32, keras.applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))),
    ]
    assert messages[0] == ("102,764,544 is fc1 on a 7x7x512 map (25,088 values): that is 224x224 inputs, or 32x32 "
                           "with the bridge. Without it the 32x32 map is 1x1x512.")
    assert messages[1] == "2,097,152 counts the weights but not fc1's 4,096 biases."
    assert messages[2] == ("16,781,312 is fc2 (4,096 inputs x 4,096 units + 4,096 biases); fc1's inputs are the "
                           "flattened feature map.")
    assert messages[3] == "8,392,704 assumes a 2x2 map, after four poolings; VGG16 has five: 32 / 2**5 = 1."
    assert messages[4] == "14,714,688 is vgg16_32's own parameters, the convolutions; fc1 comes after them."
    assert messages[5] == ("12,345 is not fc1's size at 32x32 without the bridge: flatten vgg16_32's output shape, "
                           "then count weights and biases of Dense(4096).")
    assert messages[6] == "fc1_params should be a whole number, not 2.5"
    assert messages[7] == "fc1_params should be a number, not str"
    assert messages[8] == "vgg16_32 should be a Keras model, not int"
    assert messages[9] == "vgg16_32 takes 64x64 images: build it with input_shape=(32, 32, 3), the size asked."
    assert messages[10] == ("vgg16_32 takes any image size, so its output shape holds None: build it with "
                            "input_shape=(32, 32, 3).")
    assert messages[11] == ("vgg16_32 pools its feature map (its output has shape (None, 512)): leave pooling=None, "
                            "so that its output is the map that Flatten hands to fc1.")
    assert messages[12] == ("vgg16_32 has its top (its output has shape (None, 10)): build it with "
                            "include_top=False; fc1 is the layer you are sizing, so it must not be in it yet.")
    assert messages[13] == ("vgg16_32 has 16 convolutions with 64, 64, 128, 128, 256, 256, ... filters, not VGG16's "
                            "13 (64, 64, 128, 128, 256, ..., 512): build the base with "
                            "keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3)).")
    distinct(messages)


def test_ex1_accepts_unusual_right_answers(base32):
    # numpy arithmetic on the shape, and a Dense(4096) built on the flattened map and asked its size
    assert right(ex1, np.prod(base32.output.shape[1:]) * 4096 + 4096, base32).startswith(
        "at 32x32 the last feature map is 1x1x512")
    fc1 = keras.layers.Dense(4096)
    fc1.build((None, int(np.prod(base32.output.shape[1:]))))
    right(ex1, tf.add_n([tf.size(w) for w in fc1.weights]), base32)  # a tf.Tensor
    # a float, and the base wrapped in a Sequential built on an explicit Input
    wrapped = keras.Sequential([keras.Input((32, 32, 3)), vgg16()])
    right(ex1, float(FC1_32), wrapped)


# ------------------------------------------------------------------ 06.2 retrain fc1, fc2 and output
@pytest.fixture(scope="module")
def transfer():
    return transfer_model()


def set_flags(model, *, model_flag=True, frozen=(), requires_grad=()):
    """Every layer trainable except those in ``frozen``; ``requires_grad`` set on the named layers."""
    model.trainable = True
    for layer in model.layers:
        layer.trainable = layer.name not in frozen
        if hasattr(layer, "requires_grad"):
            del layer.requires_grad
    for name in requires_grad:
        model.get_layer(name).requires_grad = True
    if not model_flag:
        fc = [model.get_layer(name) for name in ("fc1", "fc2", "output")]
        model.trainable = False
        for layer in fc:  # re-enabled under a frozen model: their own flags say True, fit trains nothing
            layer.trainable = True
    return model


def test_ex2_rejects_each_wrong_answer_with_its_own_message(transfer):
    messages = []
    set_flags(transfer, model_flag=False)
    assert [transfer.get_layer(name).trainable for name in ("fc1", "fc2", "output")] == [True] * 3
    messages.append(wrong(ex2, 0, transfer))  # the case: "correct: 0 parameters train" before
    messages.append(wrong(ex2, TRAINS, transfer))
    assert messages[0] == messages[1] == (
        "transfer.trainable = False froze the whole model: Keras trains a layer only while every model around it "
        "is trainable too, so fc1, fc2 and output do not train whatever their own flags say "
        "(transfer.trainable_weights is empty). Leave transfer trainable and set the flag layer by layer: loop "
        "over transfer.layers.")
    messages.pop()
    set_flags(transfer)  # nothing frozen
    messages.append(wrong(ex2, TRAINS + VGG16_CONV, transfer))
    set_flags(transfer, frozen=("vgg16", "flatten", "fc1", "fc2"), requires_grad=("fc1", "fc2"))  # PyTorch habit
    messages.append(wrong(ex2, OUTPUT, transfer))
    set_flags(transfer, frozen=("vgg16", "fc2"))
    messages.append(wrong(ex2, FC1_32 + OUTPUT, transfer))
    set_flags(transfer, frozen=("vgg16", "output"))
    messages.append(wrong(ex2, FC1_32 + FC2, transfer))
    set_flags(transfer, frozen=("vgg16",))  # right layers; now the counts
    counts = [TRAINS + VGG16_CONV, OUTPUT, TRAINS - (4096 + 4096 + 10), FC1_32 + FC2, VGG16_CONV, 6, 1234]
    messages += [wrong(ex2, count, transfer) for count in counts]
    messages.append(wrong(ex2, TRAINS, keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])))
    messages.append(wrong(ex2, TRAINS, "transfer"))
    assert messages[1] == ("vgg16 still trains (14,714,688 parameters): the convolutional base must be frozen. "
                           "Freeze every layer first, then re-enable fc1, fc2 and output.")
    assert messages[2] == ("fc1 is frozen: set transfer.get_layer('fc1').trainable = True. You set requires_grad, "
                           "PyTorch's flag: Keras never reads it.")
    assert messages[3] == "fc2 is frozen: set transfer.get_layer('fc2').trainable = True."
    assert messages[4] == "the new output layer is frozen: it starts from random weights, so it must train."
    assert messages[5:12] == [
        "33,638,218 is every parameter, the frozen base's too: count transfer.trainable_weights only.",
        "40,970 is only the output layer: what trained in the lecture's code. fc1 and fc2 train too.",
        "18,915,328 leaves out the 8,202 biases of fc1, fc2 and output.",
        "18,882,560 is fc1 and fc2 alone: the new output layer trains too.",
        "14,714,688 is what stays frozen (the convolutional base): the question asks what trains.",
        "6 is the number of weight tensors (a kernel and a bias per layer) in transfer.trainable_weights: add up "
        "their sizes instead.",
        "1,234 is not the number of trainable parameters: add up the sizes of transfer.trainable_weights.",
    ]
    assert messages[12] == ("transfer has no layer named 'fc1': run transfer = transfer_model() again and change "
                            "only the trainable flags.")
    assert messages[13] == "transfer should be a Keras model, not str"
    distinct(messages)


def test_ex2_accepts_unusual_right_answers(transfer):
    # only the base frozen (everything after it is trainable already), the count as a numpy integer
    set_flags(transfer, frozen=("vgg16",))
    message = right(ex2, np.int64(TRAINS), transfer)
    assert message.startswith("18,923,530 parameters train (fc1 2,101,248, fc2 16,781,312, output 40,970)")
    # every layer inside the base frozen one by one (the base itself left trainable), the count as a tf.Tensor
    set_flags(transfer)
    for layer in transfer.get_layer("vgg16").layers:
        layer.trainable = False
    right(ex2, tf.add_n([tf.size(w) for w in transfer.trainable_weights]), transfer)
    # the lesson's two loops, the count as a float
    set_flags(transfer, frozen=[layer.name for layer in transfer.layers])
    for name in ("fc1", "fc2", "output"):
        transfer.get_layer(name).trainable = True
    right(ex2, float(TRAINS), transfer)


# ------------------------------------------------------------------ 06.3 a head for any input size
def head(base_output, *stack):
    x = base_output
    for layer in stack:
        x = layer(x)
    return x


@pytest.fixture(scope="module")
def any_base():
    return vgg16((None, None, 3))


class IgnoresItsBase(keras.Model):
    """Holds a VGG16 but its head sits on the image: pooled pixels, not VGG16's features."""

    def __init__(self):
        super().__init__()
        self.base = vgg16((None, None, 3))
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.dense = keras.layers.Dense(10)

    def call(self, images):
        return self.dense(self.pool(images))


class Uses(keras.Model):
    """A subclassed model that does use its base."""

    def __init__(self):
        super().__init__()
        self.base = vgg16((None, None, 3))
        self.pool = keras.layers.GlobalMaxPooling2D()
        self.dense = keras.layers.Dense(10, activation="softmax")

    def call(self, images):
        return self.dense(self.pool(self.base(images)))


def test_ex3_rejects_each_wrong_answer_with_its_own_message(any_base):
    layers = keras.layers
    fixed = vgg16()
    small = keras.Sequential([keras.Input((None, None, 3)), layers.Conv2D(8, 3, activation="relu"),
                                 layers.GlobalAveragePooling2D(), layers.Dense(10)])
    cut = keras.Model(any_base.input, head(any_base.get_layer("block4_pool").output,
                                              layers.GlobalAveragePooling2D(), layers.Dense(10)))
    vgg19 = keras.applications.VGG19(weights=None, include_top=False, input_shape=(None, None, 3))
    messages = [
        wrong(ex3, keras.Model(fixed.input, head(fixed.output, layers.Flatten(), layers.Dense(10)))),
        wrong(ex3, keras.Model(any_base.input, head(any_base.output, layers.Dense(10)))),
        wrong(ex3, small),
        wrong(ex3, cut),
        wrong(ex3, keras.Model(vgg19.input, head(vgg19.output, layers.GlobalAveragePooling2D(), layers.Dense(10)))),
        wrong(ex3, keras.Model(any_base.input, head(any_base.output, layers.GlobalAveragePooling2D(),
                                                       layers.Dense(5)))),
        wrong(ex3, IgnoresItsBase()),
        wrong(ex3, "any_size"),
    ]
    assert messages[0].startswith("your model fails on 64x64 inputs (") and messages[0].endswith(
        "Build the base with input_shape=(None, None, 3) and pool the feature map instead of Flatten."), messages[0]
    assert messages[1] == ("at 64x64 the output has shape (1, 2, 2, 10): the Dense layers ran on every cell of the "
                           "feature map. Pool it to one vector first (GlobalAveragePooling2D).")
    assert messages[2] == ("any_size has 1 convolution with 8 filters, not VGG16's 13 (64, 64, 128, 128, 256, ..., "
                           "512): build the base with keras.applications.VGG16(weights=None, include_top=False, "
                           "input_shape=(None, None, 3)).")
    assert messages[3] == ("any_size holds only the first 10 of VGG16's 13 convolutions (it ends at block4_conv3): "
                           "the layers after it sit on a cut VGG16. Use the whole base, up to its output after block5.")
    assert messages[4].startswith("any_size has 16 convolutions with 64, 64, 128, 128, 256, 256, ... filters")
    assert messages[5] == ("the output has shape (1, 5) at both sizes; CIFAR-10 needs 10 values per image, one per "
                           "class: end with Dense(10).")
    assert messages[6] == ("the output does not depend on VGG16's last convolution (block5_conv3): the head sits on "
                           "something else. Put it on the base's output.")
    assert messages[7] == "any_size should be a Keras model, not str"
    distinct(messages)
    none = ex3.verdict(None)
    assert none.status == "waiting"


def test_ex3_accepts_unusual_right_answers(any_base):
    layers = keras.layers
    pooled_by_keras = vgg16((None, None, 3), pooling="avg")  # VGG16's own pooling argument
    right(ex3, keras.Model(pooled_by_keras.input, layers.Dense(10)(pooled_by_keras.output)))
    inputs = keras.Input((None, None, 3))  # the base nested as a layer, max pooling, softmax
    right(ex3, keras.Model(inputs, head(any_base(inputs), layers.GlobalMaxPooling2D(),
                                           layers.Dense(10, activation="softmax"))))
    assert right(ex3, Uses()).startswith("the same weights give 10 logits at 32x32 and at 64x64")


def test_the_checks_take_tf_keras_models_too():
    """One code path for Keras 3 and tf_keras (Keras 2, the TF Hub lessons' package): a right answer and a
    wrong one built with tf_keras are judged like their Keras 3 twins."""
    import tf_keras

    base = tf_keras.applications.VGG16(weights=None, include_top=False, input_shape=(None, None, 3))
    pooled = tf_keras.layers.GlobalAveragePooling2D()(base.output)
    right(ex3, tf_keras.Model(base.input, tf_keras.layers.Dense(10)(pooled)))
    base32 = tf_keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    right(ex1, FC1_32, base32)
    assert wrong(ex1, FC1_32 - 4096, base32) == f"{FC1_32 - 4096:,} counts the weights but not fc1's 4,096 biases."


# ------------------------------------------------------------------ review (issue 23, item 6): more answers
def test_ex1_rejects_a_base_cut_before_its_last_pooling(base32):
    """VGG16 up to block5_conv3 has all 13 convolutions but a 2x2 map: not the base without its top."""
    cut = keras.Model(base32.input, base32.get_layer("block5_conv3").output)
    message = wrong(ex1, 2 * 2 * 512 * 4096 + 4096, cut)
    assert message == ("vgg16_32 has 4 of VGG16's 5 max-pooling layers (it ends at block5_conv3): its output is not "
                       "the base's. Use the whole base, built with include_top=False.")


def test_ex1_accepts_a_base_built_on_an_input_tensor():
    base = keras.applications.VGG16(weights=None, include_top=False, input_tensor=keras.Input((32, 32, 3)))
    right(ex1, np.array([FC1_32]), base)  # the count as a one-element array
