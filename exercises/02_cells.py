# %% [markdown] nbgrader={"grade": false, "grade_id": "l02-practise", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Practise
# Three exercises on this lesson's skills. Write your answer in the cell
# marked for it, then run the check cell below it: it says what is right or
# what is wrong. `ex1.hint()` gives a hint, `ex1.solution()` a solution
# (likewise `ex2`, `ex3`). An exercise without an answer only waits: Run All
# never stops on it.

# %% nbgrader={"grade": false, "grade_id": "l02-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import numpy as np
import tensorflow as tf
import tensorflow_hub as hub

from course_utils.exercises.lesson02 import ex1, ex2, ex3, example_logits, feature_module, inception_with_top

# %% [markdown] nbgrader={"grade": false, "grade_id": "l02-ex1-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 1: what does `include_top` add?
# `with_top` is InceptionV3 with its ImageNet top (random weights, at a
# small input size: the top does not depend on it). Set `top_params` to the
# number of parameters the top adds, computed from the model.

# %% nbgrader={"grade": false, "grade_id": "l02-ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
with_top = inception_with_top()
top_params = None
### BEGIN SOLUTION
top_params = sum(layer.count_params() for layer in with_top.layers[-2:])  # avg_pool, predictions
print(f"{top_params:,}")
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l02-ex1-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex1.check(top_params, with_top)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l02-ex2-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 2: a trainable TF Hub layer
# `module` stands in for the Inception-v3 feature vector (images in [0, 1]
# to 2,048 features). Wrap it in `hub.KerasLayer` with `trainable=True`,
# build Part B's model on it as `hub_model` for 64x64 images, and set
# `trainable_params` to what `fit` would train.

# %% nbgrader={"grade": false, "grade_id": "l02-ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
module = feature_module()
hub_model = None
trainable_params = None
### BEGIN SOLUTION
hub_layer = hub.KerasLayer(module, trainable=True, input_shape=(64, 64, 3))
hub_model = tf.keras.Sequential([
    hub_layer,
    tf.keras.layers.Dense(128, activation="relu"),
    tf.keras.layers.Dense(64, activation="relu"),
    tf.keras.layers.Dense(5),
])
trainable_params = int(sum(np.prod(w.shape) for w in hub_model.trainable_weights))
print(f"{trainable_params:,} trainable")
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l02-ex2-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex2.check(trainable_params, hub_model)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l02-ex3-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 3: from logits to probabilities
# `logits` holds one row of five logits per image, as Part A's `new_model`
# returns them. Set `probabilities` (each row summing to 1) and `predicted`,
# the class of each image.

# %% nbgrader={"grade": false, "grade_id": "l02-ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
logits = example_logits()
probabilities = None
predicted = None
### BEGIN SOLUTION
probabilities = tf.nn.softmax(logits, axis=-1).numpy()
predicted = np.argmax(probabilities, axis=1)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l02-ex3-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex3.check(probabilities, predicted)
