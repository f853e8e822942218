# %% [markdown] nbgrader={"grade": false, "grade_id": "l01-practise", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Practise
# Three exercises on this lesson's skills. Write your answer in the cell
# marked for it, then run the check cell below it: it says what is right or
# what is wrong. `ex1.hint()` gives a hint, `ex1.solution()` a solution
# (likewise `ex2`, `ex3`). An exercise without an answer only waits: Run All
# never stops on it.

# %% nbgrader={"grade": false, "grade_id": "l01-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import numpy as np
import tensorflow as tf

from course_utils.exercises.lesson01 import digit_cnn, ex1, ex2, ex3

# %% [markdown] nbgrader={"grade": false, "grade_id": "l01-ex1-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 1: freeze conv1 and conv2, and prove it
# `cnn` is a fresh copy of this lesson's CNN. Freeze **only** `conv1` and
# `conv2`. Then set `trainable_params` to the number of parameters that still
# train, computed from the model. The check reads every layer's flag and
# your count.

# %% nbgrader={"grade": false, "grade_id": "l01-ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
cnn = digit_cnn()
trainable_params = None
### BEGIN SOLUTION
for layer in cnn.layers:
    layer.trainable = layer.name not in ("conv1", "conv2")
trainable_params = int(sum(np.prod(w.shape) for w in cnn.trainable_weights))
print([(layer.name, layer.trainable) for layer in cnn.layers], trainable_params)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l01-ex1-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex1.check(trainable_params, cnn)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l01-ex2-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 2: a three-class head that gives probabilities
# For a problem with three classes, build `three_way`: `cnn`'s input, the
# features of the layer before the last, and a new output layer whose
# outputs are **probabilities** (each row sums to 1).

# %% nbgrader={"grade": false, "grade_id": "l01-ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
cnn = digit_cnn()
three_way = None
### BEGIN SOLUTION
features = cnn.layers[-2].output
probabilities = tf.keras.layers.Dense(3, activation="softmax", name="three_classes")(features)
three_way = tf.keras.Model(cnn.inputs, probabilities)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l01-ex2-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex2.check(three_way, cnn)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l01-ex3-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 3: cut by name
# Build `conv2_model`: from `cnn`'s input to the output of the layer named
# `conv2`, sharing `cnn`'s weights. Select the layer by its name, not by
# counting indices.

# %% nbgrader={"grade": false, "grade_id": "l01-ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
cnn = digit_cnn()
conv2_model = None
### BEGIN SOLUTION
conv2_model = tf.keras.Model(cnn.inputs, cnn.get_layer("conv2").output)
print(conv2_model.output_shape)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l01-ex3-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex3.check(conv2_model, cnn)
