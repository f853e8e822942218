# %% [markdown] nbgrader={"grade": false, "grade_id": "l05-practise", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Practise
# Three exercises on this lesson's skills. Write your answer in the cell
# marked for it, then run the check cell below it: it says what is right or
# what is wrong. `ex1.hint()` gives a hint, `ex1.solution()` a solution
# (likewise `ex2`, `ex3`). An exercise without an answer only waits: Run All
# never stops on it.

# %% nbgrader={"grade": false, "grade_id": "l05-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import tensorflow as tf

from course_utils.exercises.lesson05 import backbone, ex1, ex2, ex3, mixed7_features

# %% [markdown] nbgrader={"grade": false, "grade_id": "l05-ex1-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 1: cut at mixed6
# `pre_trained` is a frozen InceptionV3 at 150x150 (random weights). Set
# `mixed6_head_params` to the size of the lesson's head (`Flatten`,
# `Dense(1024, relu)`, `Dense(1, sigmoid)`) on `mixed6` instead of `mixed7`,
# from `mixed6`'s output shape; then build it as `model_mixed6`.

# %% nbgrader={"grade": false, "grade_id": "l05-ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
pre_trained = backbone()
mixed6_head_params = None
model_mixed6 = None
### BEGIN SOLUTION
mixed6 = pre_trained.get_layer("mixed6")
print(mixed6.output_shape)
h, w, c = mixed6.output_shape[1:]
mixed6_head_params = (h * w * c) * 1024 + 1024 + 1024 + 1
x = tf.keras.layers.Flatten()(mixed6.output)
x = tf.keras.layers.Dense(1024, activation="relu")(x)
x = tf.keras.layers.Dense(1, activation="sigmoid")(x)
model_mixed6 = tf.keras.Model(pre_trained.input, x)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l05-ex1-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex1.check(mixed6_head_params, model_mixed6)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l05-ex2-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 2: augment the training data only
# Set `prepare` to a function `(images, training)` that rescales 0-255
# pixels to [0, 1] always and applies random rotation, shift, zoom and flip
# only when `training` is true. Validation images must come out the same on
# every call.

# %% nbgrader={"grade": false, "grade_id": "l05-ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
prepare = None
### BEGIN SOLUTION
random_changes = tf.keras.Sequential([
    tf.keras.layers.RandomRotation(40 / 360, fill_mode="nearest"),
    tf.keras.layers.RandomTranslation(0.2, 0.2, fill_mode="nearest"),
    tf.keras.layers.RandomZoom(0.2, fill_mode="nearest"),
    tf.keras.layers.RandomFlip("horizontal"),
])

def prepare_images(images, training):
    images = tf.cast(images, tf.float32) / 255.0
    if training:
        images = random_changes(images, training=True)
    return images

prepare = prepare_images
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l05-ex2-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex2.check(prepare)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l05-ex3-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 3: Dropout in the right place
# `features` stands for `mixed7`'s output (7x7x768). Build `head`: the
# lesson's head on `features` with `Dropout(0.2)` where the lesson adds it.

# %% nbgrader={"grade": false, "grade_id": "l05-ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
features = mixed7_features()
head = None
### BEGIN SOLUTION
x = tf.keras.layers.Flatten()(features)
x = tf.keras.layers.Dense(1024, activation="relu")(x)
x = tf.keras.layers.Dropout(0.2)(x)
x = tf.keras.layers.Dense(1, activation="sigmoid")(x)
head = tf.keras.Model(features, x)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l05-ex3-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex3.check(head)
