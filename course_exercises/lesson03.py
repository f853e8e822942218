"""Lesson 03 exercises: TFDS split strings, the batch-safe prediction loop, logits to flower names."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from course_exercises import Wrong, as_number, exercise, expect, require_model

NUM_FLOWERS = 3670
# tf_flowers' label order (info.features["label"].names): not alphabetical.
CLASS_NAMES = ("dandelion", "daisy", "tulips", "sunflowers", "roses")
WANTED = {"test": (0.0, 0.2), "validation": (0.2, 0.3), "train": (0.3, 1.0)}


def _selected(spec, total: int = NUM_FLOWERS) -> set[int]:
    """The example indices a TFDS split (a string such as ``'train[:20%]'`` or ``'train[:10%]+train[90%:]'``, or a
    ``tfds.core.ReadInstruction``) selects from ``total`` examples of ``train``."""
    import tensorflow_datasets as tfds

    info = tfds.core.SplitInfo(name="train", shard_lengths=[total], num_bytes=0)
    instruction = spec if isinstance(spec, tfds.core.ReadInstruction) else tfds.core.ReadInstruction.from_spec(spec)
    selected: set[int] = set()
    for part in instruction.to_absolute({"train": info}):
        start = 0 if part.from_ is None else part.from_
        end = total if part.to is None else part.to
        selected.update(range(start, end))
    return selected


def _read(name: str, spec) -> tuple[set[int], bool]:
    """What one split string selects, and whether it counts images instead of percentages; :class:`Wrong` if it is
    not a TFDS split of tf_flowers' ``train``."""
    import tensorflow_datasets as tfds

    if isinstance(spec, tfds.core.ReadInstruction):
        return _selected(spec), False
    expect(isinstance(spec, str), f"the {name} split should be a string like 'train[:20%]', not {type(spec).__name__}.")
    parts = [part.strip() for part in spec.split("+")]
    expect(all(part.startswith("train") for part in parts),
           f"{spec!r}: tf_flowers has a single split, 'train'; cut every part from it ('train[...]').")
    try:
        selected = _selected(spec)
    except Exception as error:  # TFDS's parser says what it could not read
        raise Wrong(f"{spec!r} is not a TFDS split string ({str(error).splitlines()[0]}); "
                    "the form is 'train[a%:b%]'.") from None
    by_count = any("[" in part and "%" not in part for part in parts)
    return selected, by_count


@exercise("03", 1, "split strings for 20% / 10% / 70%", hints="""
    - The lesson's split was ['train[:10%]', 'train[10%:25%]', 'train[25%:]']: test, validation, train.
    - Each part starts where the previous one ends: 0% to 20%, 20% to 30%, 30% to the end.
""", solution="""
    splits = ["train[:20%]", "train[20%:30%]", "train[30%:]"]
""")
def ex1(splits) -> str:
    return _ex1(splits)


def _ex1(splits) -> str:
    expect(not isinstance(splits, (str, bytes)) and hasattr(splits, "__len__") and len(splits) == 3,
           "splits should be a list of three split strings: [test, validation, train].")
    names = list(WANTED)
    read = [_read(name, spec) for name, spec in zip(names, list(splits))]
    chosen = [selected for selected, _ in read]
    sizes = [len(selected) for selected in chosen]
    wanted = {name: round((end - start) * NUM_FLOWERS) for name, (start, end) in WANTED.items()}
    for (selected, by_count), spec in zip(read, splits):
        expect(not by_count or len(selected) in wanted.values(),
               f"{spec!r} selects {len(selected):,} examples by count; ask for percentages, e.g. 'train[:20%]'.")
    expect(sizes[0] != wanted["train"] or sizes[2] != wanted["test"],
           "your first string selects 70% and the last 20%: the order asked for is test, validation, train.")
    for i in range(3):
        for j in range(i + 1, 3):
            shared = len(chosen[i] & chosen[j])
            expect(not shared, f"{names[i]} and {names[j]} share {shared:,} images: each split must start where the "
                               "previous one ends.")
    unused = NUM_FLOWERS - sum(sizes)
    expect(unused <= 0, f"your splits leave {unused:,} of the {NUM_FLOWERS:,} images unused: together they must "
                        "cover 0% to 100%.")
    for name, size, spec in zip(names, sizes, splits):
        share = WANTED[name][1] - WANTED[name][0]
        expect(size == wanted[name], f"the {name} split {spec!r} selects {size:,} images ({size / NUM_FLOWERS:.1%}); "
                                     f"the task asks for {share:.0%}, {wanted[name]:,} images.")
    note = (" Counting images works for these 3,670; percentages keep working if the data set changes."
            if any(by_count for _, by_count in read) else "")
    return (f"test {sizes[0]:,}, validation {sizes[1]:,}, train {sizes[2]:,} of {NUM_FLOWERS:,} images: no overlap, "
            f"nothing left out (TFDS rounds each boundary to a whole image).{note}")


NUM_TEST = 70
BATCH = 32


def _test_arrays():
    rng = np.random.default_rng(3)
    images = rng.random((NUM_TEST, 8, 8, 3)).astype("float32")
    labels = rng.integers(0, 5, NUM_TEST).astype("int64")
    return images, labels


def setup():
    """A small model (8x8 images -> 5 logits) and a *shuffled* test set of 70 images in batches of 32: the
    dataset comes in a new order on every pass, as a training set would."""
    import tf_keras  # lesson 03's models are tf_keras models (its hub.KerasLayer needs Keras 2)

    images, labels = _test_arrays()
    model = tf_keras.Sequential([
        tf_keras.Input(shape=(8, 8, 3)),
        tf_keras.layers.Flatten(),
        tf_keras.layers.Dense(5, kernel_initializer=tf_keras.initializers.GlorotUniform(seed=3), name="logits"),
    ], name="small_flower_model")
    dataset = (tf.data.Dataset.from_tensor_slices((images, labels))
               .shuffle(NUM_TEST, seed=3, reshuffle_each_iteration=True)
               .batch(BATCH))
    return model, dataset


@exercise("03", 2, "the batch-safe prediction loop", hints="""
    - for batch_x, batch_y in shuffled_batches: ... runs once over the dataset and gives each batch's images with their
      own labels.
    - Append small_model(batch_x).numpy() and batch_y.numpy() to two lists inside the loop, then np.concatenate each.
""", solution="""
    batch_logits, batch_labels = [], []
    for batch_x, batch_y in shuffled_batches:
        batch_logits.append(small_model(batch_x, training=False).numpy())
        batch_labels.append(batch_y.numpy())
    loop_logits = np.concatenate(batch_logits)
    loop_labels = np.concatenate(batch_labels)
""")
def ex2(loop_logits, loop_labels, small_model) -> str:
    return _ex2(loop_logits, loop_labels, small_model)


def _ex2(loop_logits, loop_labels, small_model) -> str:
    model = require_model(small_model, "small_model")
    for name, value, rank in (("loop_logits", loop_logits, 2), ("loop_labels", loop_labels, 1)):
        if isinstance(value, (list, tuple)) and len(value) and np.ndim(value[0]) == rank:
            raise Wrong(f"{name} is a list of {len(value)} batches: np.concatenate(...) it into one array with a row "
                        "per image.")
    logits = np.asarray(loop_logits, dtype="float32")
    labels = np.asarray(loop_labels).reshape(-1)
    images, true_labels = _test_arrays()
    expect(logits.ndim != 1, f"loop_logits holds {logits.size} numbers, one per image: keep the model's 5 logits per "
                             "image (no argmax yet).")
    expect(len(logits) != BATCH, f"you have predictions for the first batch only ({BATCH}): loop over every batch.")
    expect(len(logits) == NUM_TEST, f"loop_logits has {len(logits)} rows; the test set has {NUM_TEST} images.")
    if len(labels) != NUM_TEST:
        first = " (the first batch's)" if len(labels) == BATCH else ""
        raise Wrong(f"{NUM_TEST} predictions but {len(labels)} labels{first}: collect the labels of every batch "
                    "in the same loop as the predictions.")
    reference = np.asarray(model(images, training=False))
    distance = np.abs(logits[:, None, :] - reference[None, :, :]).max(axis=-1)
    match = distance.argmin(axis=1)
    if not np.all(distance[np.arange(NUM_TEST), match] < 1e-4):
        expect(not np.allclose(logits.sum(axis=1), 1.0, atol=1e-4), "these rows sum to 1: they are probabilities; the "
                                                                    "task asks for the logits the model returns.")
        raise Wrong("some rows are not the model's output for any test image: use model(images) (or "
                    "model.predict_on_batch(images)) on each batch.")
    expect(len(set(match.tolist())) == NUM_TEST, "some images appear twice and others not at all: go over the dataset "
                                                 "exactly once.")
    mismatched = int(np.sum(true_labels[match] != labels))
    expect(not (mismatched and np.array_equal(labels, logits.argmax(axis=1))),
           "loop_labels are the model's own predictions (the argmax of loop_logits): collect the true labels, batch_y, "
           "from each batch.")
    expect(not mismatched, f"{mismatched} of {NUM_TEST} predictions are paired with the label of another image: the "
                           "dataset is shuffled on every pass, so model.predict(dataset) and a second loop for the "
                           "labels see different orders. Take images and labels from the same batch, in one loop.")
    accuracy = float(np.mean(reference.argmax(axis=1) == true_labels))
    return (f"{NUM_TEST} predictions from batches of 32, 32 and 6, each paired with its own label "
            f"(this untrained model's accuracy: {accuracy:.2f}, chance is 0.20).")


def example_logits() -> np.ndarray:
    """Six rows of flower logits, as mobile_model.predict returns them (label order of CLASS_NAMES)."""
    rng = np.random.default_rng(5)
    logits = rng.normal(0, 1.0, (6, 5))
    logits[np.arange(6), [4, 0, 2, 1, 3, 0]] += 3.0
    return logits.round(3).astype("float32")


@exercise("03", 3, "logits to flower names and confidences", hints="""
    - np.argmax(flower_logits, axis=1) gives one class id per image; class_names[i] its name.
    - tf.nn.softmax(flower_logits, axis=-1) gives the probabilities; pick the one at the predicted id.
""", solution="""
    probabilities = tf.nn.softmax(flower_logits, axis=-1).numpy()
    ids = np.argmax(flower_logits, axis=1)
    answer = [(class_names[i], float(probabilities[row, i])) for row, i in enumerate(ids)]
""")
def ex3(answer) -> str:
    return _ex3(answer)


def _ex3(answer) -> str:
    logits = example_logits()
    expect(not isinstance(answer, (str, bytes)) and isinstance(answer, (list, tuple)),
           "answer should be a list of (class name, probability) pairs, one per image.")
    if len(answer) != len(logits):
        hint = " (argmax over axis 0 gives one per class)" if len(answer) == logits.shape[1] else ""
        raise Wrong(f"{len(answer)} answers for {len(logits)} images{hint}: take argmax over each row (axis=1).")
    probabilities = tf.nn.softmax(logits, axis=-1).numpy()
    top = probabilities.argmax(axis=1)
    alphabetical = sorted(CLASS_NAMES)
    for row, pair in enumerate(answer):
        expect(isinstance(pair, (list, tuple)) and len(pair) == 2, f"answer[{row}] should be a (name, probability) "
                                                                   f"pair, not {pair!r}.")
        name, probability = pair
        name = name.numpy() if hasattr(name, "numpy") else name  # a tf.string tensor (tf.gather on the names)
        name = name.decode() if isinstance(name, bytes) else name
        if isinstance(name, (int, np.integer)) and not isinstance(name, bool):
            index = f"class_names[{int(name)}] ({CLASS_NAMES[int(name)]!r})" if 0 <= name < len(CLASS_NAMES) else (
                "from class_names")
            raise Wrong(f"image {row}: {int(name)} is a class id; give its name, {index}.")
        if name != CLASS_NAMES[top[row]]:
            expect(name != alphabetical[top[row]], f"image {row}: {name!r} comes from the names in alphabetical order; "
                                                   "label i is info.features['label'].names[i] (CLASS_NAMES here), "
                                                   "where 0 is 'dandelion'.")
            raise Wrong(f"image {row}: {name!r} is not the class with the largest logit in row {row}.")
        probability = as_number(probability, f"the probability of image {row}")
        # 5e-3: a probability rounded to 2 decimals (a percentage to a whole number) is still the right one
        expect(not (1 < probability <= 100 and np.isclose(probability / 100, probabilities[row, top[row]], atol=5e-3)),
               f"image {row}: {probability:.1f} is a percentage; give the probability as a fraction between 0 and 1.")
        expect(0 <= probability <= 1, f"image {row}: {probability:.3f} is a logit, not a probability: apply "
                                      "tf.nn.softmax to the row first.")
        expect(np.isclose(probability, probabilities[row, top[row]], atol=5e-3),
               f"image {row}: {probability:.3f} is not the softmax probability of {name!r} (softmax over the row's 5 "
               "logits, axis=-1).")
    return "; ".join(f"{CLASS_NAMES[i]} {probabilities[row, i]:.0%}" for row, i in enumerate(top)) + "."
