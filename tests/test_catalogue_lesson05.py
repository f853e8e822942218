"""Lesson 05's exercise checks called directly: realistic wrong answers, each rejected with its own message,
and valid but unusual answers accepted (issue 23)."""
import keras
import numpy as np
import pytest
from catalogue import right, wrong

from course_exercises import lesson05


@pytest.fixture(scope="module")
def tf():
    import tensorflow

    return tensorflow


@pytest.fixture(scope="module")
def pre_trained(tf):
    keras.utils.set_random_seed(0)
    return lesson05.backbone()  # frozen, random weights, 150x150: what the notebook's exercise cell builds


def head_on(tf, features, *, flatten=True, pool=False, hidden="relu", output="sigmoid", units=1, dropout_at=None,
            rate=0.2, extra=()):
    """The lesson's head on ``features``, with one thing changed: a learner's mistake."""
    layers = keras.layers
    stack = [layers.GlobalAveragePooling2D()] if pool else [layers.Flatten()] if flatten else []
    stack += [layers.Dense(1024, activation=hidden), *extra, layers.Dense(units, activation=output)]
    if dropout_at is not None:
        stack.insert(dropout_at, layers.Dropout(rate))
    x = features
    for layer in stack:
        x = layer(x)
    return x


SIZE = 7 * 7 * 768 * 1024 + 1024 + 1024 + 1  # 38,537,217: mixed6 and mixed7 are both 7x7x768 at 150x150


# ------------------------------------------------------------------ 05.1: cut at mixed6
def test_05_1_wrong_answers_each_have_their_own_message(tf, pre_trained):
    mixed6 = pre_trained.get_layer("mixed6").output

    def model(**change):
        return keras.Model(pre_trained.input, head_on(tf, mixed6, **change))

    messages = {
        "cut at mixed7": wrong(lesson05.ex1, SIZE, keras.Model(
            pre_trained.input, head_on(tf, pre_trained.get_layer("mixed7").output))),
        "no Flatten": wrong(lesson05.ex1, SIZE, model(flatten=False)),
        "pooled": wrong(lesson05.ex1, SIZE, model(flatten=False, pool=True)),
        "no sigmoid": wrong(lesson05.ex1, SIZE, model(output=None)),
        "softmax": wrong(lesson05.ex1, SIZE, model(output="softmax")),
        "linear hidden": wrong(lesson05.ex1, SIZE, model(hidden=None)),
        "two outputs": wrong(lesson05.ex1, SIZE, model(units=2, output="softmax")),
        "pooled 2x2, then flattened": wrong(lesson05.ex1, SIZE, keras.Model(
            pre_trained.input, head_on(tf, keras.layers.MaxPooling2D(2)(mixed6)))),
        "features squashed on the way": wrong(lesson05.ex1, SIZE, keras.Model(
            pre_trained.input, head_on(tf, keras.layers.Activation("tanh")(mixed6)))),
        "count without the bias": wrong(lesson05.ex1, SIZE - 1, model()),
        "count of the whole model": wrong(lesson05.ex1, model().count_params(), model()),
    }
    assert messages["cut at mixed7"] == ("model_mixed6 still contains mixed7: build the head on get_layer('mixed6')"
                                         ".output (the layers after the cut then drop out of the model).")
    assert messages["no Flatten"] == (
        "model_mixed6 gives an output of shape (None, 7, 7, 1), one prediction per cell of the 7x7 grid: Dense acts on "
        "the last axis only, so without Flatten it never sees the whole map. Put Flatten() before Dense(1024).")
    assert messages["pooled"] == (
        "the Dense(1024) of model_mixed6 sees 768 values per image, not the 37,632 of the flattened 7x7x768 map: you "
        "pooled where the lesson flattens. Use Flatten() (GlobalAveragePooling2D keeps only the channel averages).")
    assert messages["no sigmoid"] == ("the output unit of model_mixed6 has no sigmoid: it gives logits (any real "
                                      "number), not the probability of 'dog'. Use Dense(1, activation='sigmoid').")
    assert messages["softmax"] == ("model_mixed6 always outputs 1.0: softmax over a single unit is always 1. One unit "
                                   "for two classes needs sigmoid: Dense(1, activation='sigmoid').")
    assert messages["linear hidden"] == (
        "the Dense(1024) of model_mixed6 has no activation: without relu the two Dense layers collapse into one linear "
        "map. Use Dense(1024, activation='relu').")
    assert messages["two outputs"] == ("model_mixed6 has 2 outputs; the lesson's head ends in one unit, the "
                                       "probability of 'dog': Dense(1, activation='sigmoid').")
    assert messages["pooled 2x2, then flattened"] == (
        "the trainable weights of model_mixed6 have shapes [(6912, 1024), (1024,), (1024, 1), (1,)]; the lesson's head "
        "trains exactly [(37632, 1024), (1024,), (1024, 1), (1,)] (Flatten has none, then Dense(1024) and Dense(1)). "
        "Build the head from these three layers only.")
    assert messages["features squashed on the way"] == (
        "the output of model_mixed6 is not Flatten, Dense(1024, relu) and Dense(1, sigmoid) applied to mixed6's "
        "output: build the head directly on that output, with nothing in between.")
    assert messages["count without the bias"] == "38,537,216 leaves out the output unit's bias (1)."
    assert messages["count of the whole model"] == (
        f"{model().count_params():,} is every parameter of model_mixed6, the frozen base included: count only the "
        "head's (what trains).")
    assert len(set(messages.values())) == len(messages)  # each mistake its own message


def test_05_1_a_base_that_trains_is_rejected_from_what_fit_would_update(tf):
    keras.utils.set_random_seed(0)
    base = lesson05.backbone()
    base.trainable = True  # the learner forgot to freeze (or unfroze) the base
    model = keras.Model(base.input, head_on(tf, base.get_layer("mixed6").output))
    base_weights = keras.Model(base.input, base.get_layer("mixed6").output).trainable_weights
    message = wrong(lesson05.ex1, SIZE, model)
    assert message.startswith(f"{len(base_weights)} weights of the InceptionV3 base train "
                              f"({sum(int(np.prod(w.shape)) for w in base_weights):,} parameters, the first: "
                              "kernel)")  # the first convolution's kernel
    assert message.endswith("freeze the backbone (pre_trained.trainable = False) before you train the head; "
                            "model_mixed6.trainable_weights is what fit updates.")
    # the same model frozen through the container flag only: nothing of the base trains, so it passes
    base.trainable = False
    right(lesson05.ex1, SIZE, model)


def test_05_1_a_base_of_another_input_size_is_rejected(tf):
    keras.utils.set_random_seed(0)
    small = lesson05.backbone(75)  # the smallest InceptionV3 (a 299x299 one would need a 222 M-parameter head)
    model = keras.Model(small.input, head_on(tf, small.get_layer("mixed6").output))
    assert wrong(lesson05.ex1, 3 * 3 * 768 * 1024 + 2049, model) == (
        "model_mixed6 takes 75x75 images; pre_trained takes 150x150: build the model on pre_trained.")


def test_05_1_unusual_right_answers_are_accepted(tf, pre_trained):
    # keras.io's way: a model cut at mixed6, called on a new Input with training=False; the count as a numpy int
    cut = keras.Model(pre_trained.input, pre_trained.get_layer("mixed6").output)
    inputs = keras.Input(shape=(150, 150, 3))
    keras_io = keras.Model(inputs, head_on(tf, cut(inputs, training=False)))
    assert right(lesson05.ex1, np.int64(SIZE), keras_io).startswith("mixed6 gives 7x7x768 at 150x150")
    # Sequential around the nested cut, sigmoid as its own layer; the count as a tf.Tensor
    layers = keras.layers
    sequential = keras.Sequential([cut, layers.Flatten(), layers.Dense(1024, activation="relu"), layers.Dense(1),
                                      layers.Activation("sigmoid")])
    right(lesson05.ex1, tf.constant(SIZE), sequential)
    # the base's own preprocessing inside the model, then the nested cut; the count worked out from the model
    scaled = layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    with_preprocessing = keras.Model(inputs, head_on(tf, cut(scaled, training=False)))
    right(lesson05.ex1, sum(int(np.prod(w.shape)) for w in with_preprocessing.trainable_weights), with_preprocessing)


# ------------------------------------------------------------------ 05.2: augment the training data only
def test_05_2_wrong_answers_each_have_their_own_message(tf):
    layers = keras.layers
    random_changes = keras.Sequential([layers.RandomFlip("horizontal"), layers.RandomTranslation(0.2, 0.2)])
    scale = keras.applications.inception_v3.preprocess_input

    def seeded_inside(images, training):  # new layers with a fixed seed on every call: the same "random" change
        images = scale(images)
        if training:
            images = layers.RandomTranslation(0.2, 0.2, seed=1)(images, training=True)
        return images

    messages = {
        "augments validation too": wrong(lesson05.ex2, lambda images, training: random_changes(
            scale(images), training=True)),
        "no scaling": wrong(lesson05.ex2, lambda images, training: images),
        "the lesson's 1/255": wrong(lesson05.ex2, lambda images, training: random_changes(
            images / 255.0, training=training)),
        "scaled twice": wrong(lesson05.ex2, lambda images, training: scale(scale(images))),
        "layers in inference mode": wrong(lesson05.ex2, lambda images, training: random_changes(
            scale(images), training=False)),
        "not random": wrong(lesson05.ex2, lambda images, training: tf.image.flip_left_right(scale(images))
                            if training else scale(images)),
        "seeded inside": wrong(lesson05.ex2, seeded_inside),
        "training unscaled": wrong(lesson05.ex2, lambda images, training: random_changes(
            images / 255.0, training=True) if training else scale(images)),
    }
    assert messages["augments validation too"].startswith("two calls with training=False gave different images")
    assert messages["no scaling"] == ("validation values go up to 255: scale them to [-1, 1] with "
                                      "keras.applications.inception_v3.preprocess_input (pixels / 127.5 - 1).")
    assert messages["the lesson's 1/255"].startswith("validation values are in [0, 1]: that is the lesson's "
                                                     "rescale=1/255, but InceptionV3 was trained on pixels in [-1, 1]")
    assert messages["scaled twice"].endswith("you scaled twice. Scale the 0-255 pixels once.")
    assert messages["layers in inference mode"] == (
        "training images come out unchanged: when training is True, pass them through the random layers, called with "
        "training=True (in inference mode they do nothing).")
    assert messages["not random"].startswith("training images change, but the same way on every call")
    assert messages["seeded inside"] == messages["not random"]  # the same mistake, seen by its effect
    assert messages["training unscaled"].startswith("training values are not in [-1, 1] like the validation values")
    distinct = {k: v for k, v in messages.items() if k != "seeded inside"}
    assert len(set(distinct.values())) == len(distinct)


def test_05_2_unusual_right_answers_are_accepted(tf):
    layers = keras.layers
    # a Keras model as the function: the random layers act only when it is called with training=True
    stack = keras.Sequential([layers.Rescaling(1 / 127.5, offset=-1), layers.RandomFlip("horizontal"),
                                 layers.RandomRotation(40 / 360, fill_mode="nearest"),
                                 layers.RandomZoom(0.2, fill_mode="nearest")])
    assert right(lesson05.ex2, stack).startswith("validation: only scaled to [-1, 1], the same on every call")

    # tf.image's random ops and numpy out
    def with_tf_image(images, training):
        images = keras.applications.inception_v3.preprocess_input(images)
        if training:
            images = tf.image.random_flip_left_right(tf.image.random_flip_up_down(images))
        return images.numpy()

    right(lesson05.ex2, with_tf_image)

    # its own names for the parameters, and the random layers switched by the flag itself
    random_changes = keras.Sequential([layers.RandomFlip("horizontal"), layers.RandomTranslation(0.2, 0.2)])

    def own_names(batch, is_training):
        return random_changes(layers.Rescaling(1 / 127.5, offset=-1)(batch), training=is_training)

    right(lesson05.ex2, own_names)


# ------------------------------------------------------------------ 05.3: Dropout in the right place
def test_05_3_wrong_answers_each_have_their_own_message(tf):
    def head(**change):
        features = lesson05.mixed7_features()
        return keras.Model(features, head_on(tf, features, **change))

    messages = {
        "no dropout": wrong(lesson05.ex3, head()),
        "after the output": wrong(lesson05.ex3, head(dropout_at=3)),
        "before Dense(1024)": wrong(lesson05.ex3, head(dropout_at=1)),
        "rate kept, not dropped": wrong(lesson05.ex3, head(dropout_at=2, rate=0.8)),
        "no Flatten": wrong(lesson05.ex3, head(flatten=False, dropout_at=1)),
        "no sigmoid": wrong(lesson05.ex3, head(dropout_at=2, output=None)),
        "pooled": wrong(lesson05.ex3, head(flatten=False, pool=True, dropout_at=2)),
        "an extra Dense": wrong(lesson05.ex3, head(dropout_at=2, extra=[keras.layers.Dense(64)])),
        "hidden tanh": wrong(lesson05.ex3, head(dropout_at=2, hidden="tanh")),
    }
    assert messages["no dropout"] == "head has no Dropout layer: add Dropout(0.2) after the Dense(1024)."
    assert messages["after the output"] == ("Dropout comes after the output unit: it would zero the predictions "
                                            "themselves. Put it between Dense(1024) and Dense(1).")
    assert messages["before Dense(1024)"].startswith("Dropout comes before the Dense(1024)")
    assert messages["rate kept, not dropped"] == (
        "Dropout(0.8) drops 80% of the values in training: the rate is the fraction dropped, and the lesson's "
        "Dropout(0.2) drops 20%.")
    assert messages["no Flatten"].startswith("head gives an output of shape (None, 7, 7, 1)")
    assert messages["no sigmoid"].startswith("the output unit of head has no sigmoid")
    assert messages["pooled"].startswith("the Dense(1024) of head sees 768 values per image")
    assert messages["an extra Dense"] == "head has 3 Dense layers; the lesson's has two: Dense(1024, relu) and " \
                                         "Dense(1, sigmoid)."
    assert messages["hidden tanh"] == "the Dense(1024) of head uses tanh; the lesson's uses relu."
    assert len(set(messages.values())) == len(messages)


def test_05_3_dropout_switched_off_for_good_is_rejected_by_its_effect(tf):
    """In tf_keras (Keras 2) a training=False given when the graph is built sticks: the Dropout never drops."""
    import tf_keras

    features = tf_keras.Input(shape=(7, 7, 768))
    layers = tf_keras.layers
    x = layers.Dense(1024, activation="relu")(layers.Flatten()(features))
    x = layers.Dropout(0.2)(x, training=False)  # never drops, not even in fit
    message = wrong(lesson05.ex3, tf_keras.Model(features, layers.Dense(1, activation="sigmoid")(x)))
    assert message.startswith("in training, head gives the same output on every call: its Dropout drops nothing")


def test_05_a_training_flag_fixed_in_a_keras_3_graph_is_overridden_by_fit_and_predict_so_it_is_accepted(tf):
    """Keras 3's functional model passes the training flag of its own call (fit: True, evaluate and predict:
    False) to every layer, over one given when the graph was built: judged by effect, such a Dropout is right."""
    features = lesson05.mixed7_features()
    layers = keras.layers
    for fixed in (False, True):
        x = layers.Dense(1024, activation="relu")(layers.Flatten()(features))
        x = layers.Dropout(0.2)(x, training=fixed)
        right(lesson05.ex3, keras.Model(features, layers.Dense(1, activation="sigmoid")(x)))


def test_05_3_unusual_right_answers_are_accepted(tf):
    layers = keras.layers
    sequential = keras.Sequential([keras.Input((7, 7, 768)), layers.Flatten(), layers.Dense(1024, activation="relu"),
                                   layers.Dropout(0.2), layers.Dense(1, activation="sigmoid")])
    assert right(lesson05.ex3, sequential).startswith("Dropout(0.2) between Dense(1024) and the output adds no "
                                                      "parameters (still 38,537,217 trainable)")
    # its own Input instead of `features`, relu and sigmoid as layers of their own
    inputs = keras.Input(shape=(7, 7, 768))
    x = layers.Activation("relu")(layers.Dense(1024)(layers.Flatten()(inputs)))
    x = layers.Dense(1)(layers.Dropout(0.2)(x))
    right(lesson05.ex3, keras.Model(inputs, layers.Activation("sigmoid")(x)))


# ------------------------------------------------------------------ review (issue 23, item 6): more answers
def test_05_dropout_fixed_on_at_inference_is_named_in_both_head_checks(tf):
    """Dropout(...)(x, training=True) in a tf_keras (Keras 2) graph drops in evaluate and predict too: the head
    then gives a different output on every inference call. Said as such, not as 'not Flatten, Dense(1024) ...'."""
    import tf_keras

    layers = tf_keras.layers

    def with_fixed_dropout(features):
        x = layers.Dense(1024, activation="relu")(layers.Flatten()(features))
        x = layers.Dropout(0.2)(x, training=True)
        return layers.Dense(1, activation="sigmoid")(x)

    features = tf_keras.Input(shape=(7, 7, 768))
    message = wrong(lesson05.ex3, tf_keras.Model(features, with_fixed_dropout(features)))
    assert message == (
        "head gives a different output on every call in inference mode (training=False): a layer in it is called with "
        "training=True, so it drops units in evaluate() and predict() too. Call Dropout without training=...: fit() "
        "switches it on, evaluate() and predict() off.")
    tf_keras.utils.set_random_seed(0)
    pre_trained = tf_keras.applications.InceptionV3(input_shape=(150, 150, 3), include_top=False, weights=None)
    pre_trained.trainable = False
    mixed6 = pre_trained.get_layer("mixed6").output
    message = wrong(lesson05.ex1, SIZE, tf_keras.Model(pre_trained.input, with_fixed_dropout(mixed6)))
    assert message.startswith("model_mixed6 gives a different output on every call in inference mode")


def test_05_2_random_changes_that_move_no_pixel_are_not_the_tasks_augmentation(tf):
    scale = keras.applications.inception_v3.preprocess_input

    def brightness(images, training):
        images = scale(images)
        return tf.image.random_brightness(images, 0.2) if training else images

    def noise(images, training):
        images = scale(images)
        return images + tf.random.normal(tf.shape(images), stddev=0.05) if training else images

    messages = [wrong(lesson05.ex2, brightness), wrong(lesson05.ex2, noise)]
    for message in messages:
        assert message.startswith("training images change in value, not in place (only ")
    # the map-function habit: (images, labels) out instead of the images
    message = wrong(lesson05.ex2, lambda images, training: (scale(images), training))
    assert message == ("prepare returns a tuple of 2 items; it should return the batch of images alone (a tensor or "
                       "an array of shape (4, 64, 64, 3)).")


def test_05_more_unusual_right_answers_are_accepted(tf):
    layers = keras.layers
    # 05.3: a seeded Dropout (it still draws a new mask at every call), relu as its own layer after the Dropout
    # (relu and dropout commute), Reshape in place of Flatten
    features = lesson05.mixed7_features()
    x = layers.Dense(1024)(layers.Reshape((7 * 7 * 768,))(features))
    x = layers.ReLU()(layers.Dropout(0.2, seed=1)(x))
    right(lesson05.ex3, keras.Model(features, layers.Dense(1, activation=tf.nn.sigmoid)(x)))
    # 05.2: numpy only, a random horizontal flip per image; the pipeline's scaling then the lesson's geometric
    # layers with constant fill (zeros enter the corners)
    rng = np.random.default_rng(0)

    def numpy_flips(images, training):
        x = np.asarray(images) / 127.5 - 1
        if training:
            flip = rng.random(len(x)) < 0.5
            flip[0] = True  # at least one image changes on every call
            x = np.where(flip[:, None, None, None], x[:, :, ::-1], x)
        return x

    right(lesson05.ex2, numpy_flips)
    random_changes = keras.Sequential([
        layers.RandomRotation(40 / 360, fill_mode="constant"), layers.RandomTranslation(0.2, 0.2, fill_mode="constant"),
        layers.RandomZoom(0.2, fill_mode="constant"), layers.RandomFlip("horizontal")])

    def constant_fill(images, training):
        images = keras.applications.inception_v3.preprocess_input(images)
        return random_changes(images, training=True) if training else images

    right(lesson05.ex2, constant_fill)


# ------------------------------------------------------------------ mutation testing: the helpers' own properties
def test_05_sigmoid_is_one_half_at_zero_and_symmetric():
    assert lesson05._sigmoid(0.0) == 0.5
    z = np.array([-3.0, -0.5, 2.0])
    assert np.allclose(lesson05._sigmoid(z), [0.04742587, 0.37754067, 0.88079708])
    assert np.allclose(lesson05._sigmoid(-z), 1 - lesson05._sigmoid(z))


def test_05_same_is_scale_free_and_inclusive():
    # an all-zero output equals an all-zero reference (a head whose logits are all 0)
    assert lesson05._same(np.zeros(3), [0.0, 0.0, 0.0])
    # exactly 1% of the reference's largest magnitude (plus the 1e-9 floor) still counts as the same
    assert lesson05._same([1e-2 * 100.0 + 1e-9, 100.0], [0.0, 100.0])
    assert not lesson05._same([1.1, 100.0], [0.0, 100.0])
    assert lesson05._same([1e-5, 2.0e-3], [0.0, 2.0e-3])  # small logits are judged against their own scale
    assert not lesson05._same([1e-4, 2.0e-3], [0.0, 2.0e-3])
    assert not lesson05._same([1.0, 2.0], [[1.0], [2.0]])  # a column is not a flat vector


def test_05_is_sigmoid_of_saturated_and_tiny_logits():
    logits = np.array([-200.0, 0.3, 2.0, -1.7])
    # float32 probabilities, one of them exactly 0 (saturated): still sigmoid of those logits
    assert lesson05._is_sigmoid_of(lesson05._sigmoid(logits).astype("float32"), logits)
    # one exactly 1
    assert lesson05._is_sigmoid_of(lesson05._sigmoid(-logits).astype("float32"), -logits)
    assert not lesson05._is_sigmoid_of(lesson05._sigmoid(logits + 0.5).astype("float32"), logits)
    # tiny logits (a random-weights base gives small features): 10% off is told apart, in logit space
    tiny = np.array([1e-5, -2e-5, 3e-5])
    assert lesson05._is_sigmoid_of(lesson05._sigmoid(tiny), tiny)
    assert not lesson05._is_sigmoid_of(lesson05._sigmoid(tiny * 1.1), tiny)


def test_05_share_of_values_kept_counts_moved_values_and_the_fill():
    original = np.array([[0.5, 0.25], [0.75, 0.25]])
    # -1 and 0 (a constant fill of 0 after or before the scaling) count as kept
    assert lesson05._share_of_values_kept(np.array([-1.0, 0.0]), original) == 1.0
    # the smallest and the largest values, moved, and one just above each neighbour, are kept
    assert lesson05._share_of_values_kept(np.array([-1.0, 0.75, 0.75 + 1e-4, 0.25 + 1e-4, 0.5]), original) == 1.0
    assert lesson05._share_of_values_kept(np.array([0.6, 0.5, 0.1, -0.5]), original) == 0.25
    # tolerance inclusive: with 0 an exact copy is still kept, with 0.125 a value 0.125 away too
    assert lesson05._share_of_values_kept(original, original, tolerance=0.0) == 1.0
    assert lesson05._share_of_values_kept(np.array([0.625]), np.array([0.5]), tolerance=0.125) == 1.0


def test_05_fixed_samples_are_the_same_on_every_call_and_in_range():
    images = lesson05._probe_images(75)
    assert images.shape == (4, 75, 75, 3) and images.dtype == np.float32
    assert np.array_equal(images, lesson05._probe_images(75))
    assert images.min() >= 0 and images.max() <= 255
    assert images[0].min() < 0.1 and images[0].max() <= 0.25 * 255  # dark to bright
    assert [round(float(image.max()) / 255, 2) for image in images] == [0.25, 0.5, 0.75, 1.0]
    assert np.array_equal(lesson05.sample_batch(), lesson05.sample_batch())
    assert lesson05.sample_batch().shape == (4, 64, 64, 3)
    assert lesson05.mixed7_features().name == "mixed7_output"


# ------------------------------------------------------------------ mutation testing: more answers, whole messages
def _ex3_head(tf, **change):
    features = lesson05.mixed7_features()
    return keras.Model(features, head_on(tf, features, dropout_at=2, **change))


def _with_biases(model, hidden=0.05, output=1.0):
    """``model`` as after some training: its Dense biases no longer zero."""
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    rng = np.random.default_rng(3)
    dense[0].bias.assign(rng.normal(0, hidden, dense[0].bias.shape).astype("float32"))
    dense[-1].bias.assign(np.full(dense[-1].bias.shape, output, dtype="float32"))
    return model


def test_05_3_more_wrong_answers_whole_messages(tf):
    keras.utils.set_random_seed(1)
    layers = keras.layers
    features = lesson05.mixed7_features()
    x = layers.Dense(1024, activation="relu")(layers.Dropout(0.2)(layers.Flatten()(features)))
    two_dropouts = keras.Model(features, head_on(tf, layers.Dropout(0.2)(features), dropout_at=2))
    on_299 = keras.Input(shape=(17, 17, 768))  # mixed7 of a 299x299 InceptionV3
    reshaped = layers.Reshape((49, 768))(features)  # one row per cell, not one flat vector
    messages = {
        "before Dense(1024)": wrong(lesson05.ex3, keras.Model(features, layers.Dense(1, activation="sigmoid")(x))),
        "two Dropouts": wrong(lesson05.ex3, two_dropouts),
        "built for 299x299": wrong(lesson05.ex3, keras.Model(on_299, head_on(tf, on_299, dropout_at=2))),
        "rows, not flattened": wrong(lesson05.ex3, keras.Model(features, head_on(tf, reshaped, flatten=False,
                                                                                 dropout_at=1))),
        "512 units": wrong(lesson05.ex3, _hidden(tf, features, 512, model=True)),
        "pooled, 512 units": wrong(lesson05.ex3, _hidden(tf, features, 512, pool=True, model=True)),
        # relu copied from the hidden layer; a negative bias (as after some training) makes it 0 on both images
        "relu output": wrong(lesson05.ex3, _with_biases(_ex3_head(tf, output="relu"), output=-10.0)),
        "no activation at all": wrong(lesson05.ex3, _ex3_head(tf, hidden=None, output=None)),
        "leaky relu as activation": wrong(lesson05.ex3, _ex3_head(tf, hidden=layers.LeakyReLU(0.3))),
        "not a model": wrong(lesson05.ex3, layers.Flatten()),
    }
    assert messages["before Dense(1024)"] == (
        "Dropout comes before the Dense(1024): it drops input features. The lesson drops the Dense(1024)'s outputs: "
        "put it right after that layer.")
    assert messages["two Dropouts"] == ("head has more than one Dropout layer; the lesson adds one, after the "
                                        "Dense(1024).")
    assert messages["built for 299x299"] == ("head cannot take mixed7's 7x7x768 output (ValueError): build it on "
                                             "features (or an Input of shape (7, 7, 768)).")
    assert messages["rows, not flattened"] == (
        "head gives an output of shape (None, 49, 1), one prediction per cell of the 7x7 grid: Dense acts on the last "
        "axis only, so without Flatten it never sees the whole map. Put Flatten() before Dense(1024).")
    assert messages["512 units"] == "the hidden Dense layer of head has 512 units; the lesson's has 1024."
    assert messages["pooled, 512 units"] == (
        "the trainable weights of head have shapes [(768, 512), (512,), (512, 1), (1,)]; the lesson's head trains "
        "exactly [(37632, 1024), (1024,), (1024, 1), (1,)] (Flatten has none, then Dense(1024) and Dense(1)). Build "
        "the head from these three layers only.")
    assert messages["relu output"] == "the output unit of head uses relu; one probability for 'dog' needs sigmoid."
    generic = ("the output of head is not Flatten, Dense(1024, relu) and Dense(1, sigmoid) applied to mixed7's 7x7x768 "
               "output: build the head directly on that output, with nothing in between.")
    assert messages["no activation at all"] == generic
    assert messages["leaky relu as activation"] == generic
    assert messages["not a model"] == "head should be a Keras model, not Flatten"


def _hidden(tf, features, units, pool=False, model=False):
    layers = keras.layers
    x = (layers.GlobalAveragePooling2D() if pool else layers.Flatten())(features)
    x = layers.Dense(1, activation="sigmoid")(layers.Dropout(0.2)(layers.Dense(units, activation="relu")(x)))
    return keras.Model(features, x) if model else x


def test_05_3_a_head_after_some_training_is_judged_with_its_biases(tf):
    """After fit the biases are no longer zero: the head's output is compared with what its own biases give."""
    keras.utils.set_random_seed(2)
    assert right(lesson05.ex3, _with_biases(_ex3_head(tf))) == (
        "Dropout(0.2) between Dense(1024) and the output adds no parameters (still 38,537,217 trainable); it drops "
        "20% of the 1,024 activations in fit() only (training=True), never in evaluate() or predict().")
    assert wrong(lesson05.ex3, _with_biases(_ex3_head(tf, output=None))) == (
        "the output unit of head has no sigmoid: it gives logits (any real number), not the probability of 'dog'. "
        "Use Dense(1, activation='sigmoid').")
    assert wrong(lesson05.ex3, _with_biases(_ex3_head(tf, hidden=None), output=-0.5)) == (
        "the Dense(1024) of head has no activation: without relu the two Dense layers collapse into one linear map. "
        "Use Dense(1024, activation='relu').")
    assert wrong(lesson05.ex3, _with_biases(_ex3_head(tf, output="softmax"))) == (
        "head always outputs 1.0: softmax over a single unit is always 1. One unit for two classes needs sigmoid: "
        "Dense(1, activation='sigmoid').")


def test_05_3_a_head_wrapped_in_a_model_of_its_own_is_accepted(tf):
    layers = keras.layers
    inner = keras.Sequential([layers.Flatten(), layers.Dense(1024, activation="relu"), layers.Dropout(0.2),
                              layers.Dense(1, activation="sigmoid")])
    features = lesson05.mixed7_features()
    right(lesson05.ex3, keras.Model(features, inner(features)))


def test_05_3_dropout_that_never_drops_whole_message(tf):
    import tf_keras

    features = tf_keras.Input(shape=(7, 7, 768))
    layers = tf_keras.layers
    x = layers.Dense(1024, activation="relu")(layers.Flatten()(features))
    x = layers.Dropout(0.2)(x, training=False)
    assert wrong(lesson05.ex3, tf_keras.Model(features, layers.Dense(1, activation="sigmoid")(x))) == (
        "in training, head gives the same output on every call: its Dropout drops nothing. Call the layer without "
        "training=False, so that fit switches it on.")


def test_05_2_more_wrong_answers_whole_messages(tf):
    layers = keras.layers
    scale = keras.applications.inception_v3.preprocess_input
    random_changes = keras.Sequential([layers.RandomFlip("horizontal"), layers.RandomTranslation(0.2, 0.2)])
    crop = layers.RandomCrop(56, 56)
    messages = {
        "the batch, not the function": wrong(lesson05.ex2, scale(lesson05.sample_batch())),
        "resized to 150x150": wrong(lesson05.ex2, lambda images, training: tf.image.resize(scale(images), (150, 150))),
        "pixels / 127.5, no - 1": wrong(lesson05.ex2, lambda images, training: images / 127.5),
        "pixels / 255 - 1": wrong(lesson05.ex2, lambda images, training: images / 255.0 - 1),
        "divided by 255 twice": wrong(lesson05.ex2, lambda images, training: images / 255.0 / 255.0),
        "the lesson's 1/255": wrong(lesson05.ex2, lambda images, training: random_changes(
            images / 255.0, training=training)),
        "a random crop in training": wrong(lesson05.ex2, lambda images, training: crop(scale(images), training=True)
                                           if training else scale(images)),
        "training not scaled": wrong(lesson05.ex2, lambda images, training: random_changes(
            images, training=True) if training else scale(images)),
        "training / 127.5": wrong(lesson05.ex2, lambda images, training: random_changes(
            images / 127.5, training=True) if training else scale(images)),
        "training / 255": wrong(lesson05.ex2, lambda images, training: random_changes(
            images / 255.0, training=True) if training else scale(images)),
        "not random": wrong(lesson05.ex2, lambda images, training: tf.image.flip_left_right(scale(images))
                            if training else scale(images)),
        "augments validation too": wrong(lesson05.ex2, lambda images, training: random_changes(
            scale(images), training=True)),
        "noise on validation too": wrong(lesson05.ex2, lambda images, training: scale(images) + tf.random.normal(
            tf.shape(images), stddev=0.05)),
    }
    assert messages["the batch, not the function"] == ("prepare should be a function of (images, training), not "
                                                       "ndarray.")
    assert messages["resized to 150x150"] == "prepare changed the shape from (4, 64, 64, 3) to (4, 150, 150, 3)."
    assert messages["pixels / 127.5, no - 1"] == (
        "validation values go up to 2: scale them to [-1, 1] with keras.applications.inception_v3.preprocess_input "
        "(pixels / 127.5 - 1).")
    assert messages["pixels / 255 - 1"] == ("with training=False the images should only be scaled to [-1, 1] "
                                            "(preprocess_input: pixels / 127.5 - 1), nothing else.")
    assert messages["divided by 255 twice"] == ("validation values lie in [0.000, 0.004]: you scaled twice. Scale the "
                                                "0-255 pixels once.")
    assert messages["the lesson's 1/255"] == (
        "validation values are in [0, 1]: that is the lesson's rescale=1/255, but InceptionV3 was trained on pixels "
        "in [-1, 1]. Use keras.applications.inception_v3.preprocess_input (pixels / 127.5 - 1).")
    assert messages["a random crop in training"] == "prepare(images, training=True) changed the shape of the batch."
    assert messages["training not scaled"] == "training values go above 1: scale the training images too."
    assert messages["training / 127.5"] == messages["training not scaled"]
    assert messages["training / 255"] == ("training values are not in [-1, 1] like the validation values: scale both "
                                          "the same way (preprocess_input), then augment.")
    assert messages["not random"] == (
        "training images change, but the same way on every call: that is not random augmentation. Use random layers "
        "(RandomFlip, RandomRotation ...) built once, outside prepare: a layer built inside with a fixed seed, or "
        "tf.image.flip_left_right, repeats itself.")
    assert messages["augments validation too"] == (
        "two calls with training=False gave different images: augmentation runs on the validation data too. Apply it "
        "only when training is True.")
    assert messages["noise on validation too"] == messages["augments validation too"]


def test_05_2_noise_whole_message_and_the_share_of_values_changed(tf):
    scale = keras.applications.inception_v3.preprocess_input

    def noise(images, training):
        images = scale(images)
        return images + tf.random.normal(tf.shape(images), stddev=0.05) if training else images

    message = wrong(lesson05.ex2, noise)
    assert message.startswith("training images change in value, not in place (only ")
    assert message.endswith(" of the values are the image's own): brightness, contrast or noise is not the task's "
                            "augmentation. Rotation, shift, zoom and flip move the pixels and keep their values: use "
                            "RandomRotation, RandomTranslation, RandomZoom and RandomFlip, and nothing else.")
    # a numpy answer that flips image 1 on odd calls, image 2 on even ones (random enough to pass)
    expected = lesson05.sample_batch() / 127.5 - 1
    calls = []

    def flips(images, training):
        x = np.asarray(images) / 127.5 - 1
        if training:
            calls.append(None)
            chosen = [1] if len(calls) % 2 else [2]
            x = x.copy()
            x[chosen] = x[chosen][:, :, ::-1]
        return x

    one = expected.copy()
    one[[1]] = one[[1]][:, :, ::-1]
    share = np.mean(~np.isclose(one, expected, atol=1e-3))
    other = expected.copy()
    other[[2]] = other[[2]][:, :, ::-1]
    share = (share + np.mean(~np.isclose(other, expected, atol=1e-3))) / 2
    assert right(lesson05.ex2, flips) == (
        "validation: only scaled to [-1, 1], the same on every call; training: scaled and randomly changed, "
        f"differently on each call ({share:.0%} of the values differ on average).")
    assert 0.1 < share < 0.4  # a quarter of the images, most of their values moved


def test_05_2_a_layer_of_the_learners_own_is_called_with_training_as_a_keyword(tf):
    class Prepare(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.flip = keras.layers.RandomFlip("horizontal")

        def call(self, images, training=None):
            images = keras.applications.inception_v3.preprocess_input(images)
            return self.flip(images, training=training)

    right(lesson05.ex2, Prepare())


def test_05_1_more_wrong_answers_whole_messages(tf, pre_trained):
    model = keras.Model(pre_trained.input, head_on(tf, pre_trained.get_layer("mixed6").output))
    flat = 7 * 7 * 768
    messages = {
        "cut at mixed5": wrong(lesson05.ex1, SIZE, keras.Model(
            pre_trained.input, head_on(tf, pre_trained.get_layer("mixed5").output))),
        "the output tensor, not a model": wrong(lesson05.ex1, SIZE, model.output),
        "no biases, no output unit": wrong(lesson05.ex1, flat * 1024 + 1024, model),
        "first layer's weights only": wrong(lesson05.ex1, flat * 1024, model),
        "values after Flatten": wrong(lesson05.ex1, flat, model),
        "the 299x299 head": wrong(lesson05.ex1, 17 * 17 * 768 * 1024 + 2049, model),
        "a guess": wrong(lesson05.ex1, 1_000_000, model),
        "not whole": wrong(lesson05.ex1, SIZE + 0.5, model),
    }
    assert messages["cut at mixed5"] == ("model_mixed6 has no layer mixed6: you cut earlier. Build the head on "
                                         "pre_trained.get_layer('mixed6').output.")
    assert messages["the output tensor, not a model"] == "model_mixed6 should be a Keras model, not KerasTensor"
    assert messages["no biases, no output unit"] == (
        "38,536,192 is 37,632 x 1,024 + 1,024: something is missing. Dense(1024) has 37,632 x 1,024 weights and 1,024 "
        "biases; the output Dense(1) adds 1,024 weights and 1 bias.")
    assert messages["first layer's weights only"] == (
        "38,535,168 counts only the first Dense layer's weights: add its 1,024 biases and the output unit (1,024 "
        "weights + 1 bias).")
    assert messages["values after Flatten"] == "37,632 is the number of values after Flatten, not the head's parameters."
    assert messages["the 299x299 head"] == ("227,280,897 is the head for 299x299 inputs (a 17x17x768 map); this model "
                                            "takes 150x150.")
    assert messages["a guess"] == (
        "1,000,000 is not your head's size (37,632 values after Flatten): read pre_trained.get_layer('mixed6')"
        ".output.shape, then count Flatten (no weights), Dense(1024) and Dense(1).")
    assert messages["not whole"] == "mixed6_head_params should be a whole number, not 38537217.5"


def test_05_1_right_answer_whole_message_and_a_dropout_already_in_the_head(tf, pre_trained):
    """The lesson's next step (Dropout between the Dense layers) in this model too: it drops nothing in inference."""
    mixed6 = pre_trained.get_layer("mixed6").output
    expected = ("mixed6 gives 7x7x768 at 150x150, the same shape as mixed7 (mixed3 to mixed7 all keep that grid), so "
                "your head has the same 38,537,217 trainable parameters: 37,632 x 1,024 + 1,024, then 1,024 + 1.")
    assert right(lesson05.ex1, SIZE, keras.Model(pre_trained.input, head_on(tf, mixed6, dropout_at=2))) == expected


def test_05_backbone_is_frozen_without_its_top(pre_trained):
    """What the exercise cell builds: every layer frozen (trainable is False, as printed), the top left out, so its
    output is mixed10's 3x3x2048 maps at 150x150, not the 1,000 ImageNet classes."""
    assert pre_trained.trainable is False and pre_trained.trainable_weights == []
    assert tuple(pre_trained.output.shape) == (None, 3, 3, 2048)
