# %% [markdown] nbgrader={"grade": false, "grade_id": "l06-practise", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Practise
# Three exercises on this lesson's skills. Write your answer in the cell
# marked for it, then run the check cell below it: it says what is right or
# what is wrong. `ex1.hint()` gives a hint, `ex1.solution()` a solution
# (likewise `ex2`, `ex3`). An exercise without an answer only waits: Run All
# never stops on it.

# %% nbgrader={"grade": false, "grade_id": "l06-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import numpy as np
import tensorflow as tf

from course_utils.exercises.lesson06 import ex1, ex2, ex3, transfer_model

# %% [markdown] nbgrader={"grade": false, "grade_id": "l06-ex1-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 1: fc1 without the bridge
# Without the bridge, `fc1` (4,096 units) sits on the flattened last feature
# map. Set `fc1_params` to its number of parameters for 32x32 inputs,
# worked out from VGG16's output shape.

# %% nbgrader={"grade": false, "grade_id": "l06-ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
fc1_params = None
### BEGIN SOLUTION
vgg16_32 = tf.keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
h, w, c = vgg16_32.output_shape[1:]   # 1, 1, 512
fc1_params = (h * w * c) * 4096 + 4096
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l06-ex1-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex1.check(fc1_params)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l06-ex2-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 2: retrain the classifier, the Keras way
# `transfer` is the transfer model with every layer trainable. Freeze
# everything, let `fc1`, `fc2` and `output` train again, and set
# `trainable_params` from the model.

# %% nbgrader={"grade": false, "grade_id": "l06-ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
transfer = transfer_model()
trainable_params = None
### BEGIN SOLUTION
for layer in transfer.layers:
    layer.trainable = False
for name in ("fc1", "fc2", "output"):
    transfer.get_layer(name).trainable = True
trainable_params = int(sum(np.prod(w.shape) for w in transfer.trainable_weights))
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l06-ex2-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex2.check(trainable_params, transfer)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l06-ex3-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 3: a head for any input size
# Build `any_size`: VGG16 without its top (random weights) and a 10-way
# head, such that the same weights work on 32x32 and on 64x64 images.

# %% nbgrader={"grade": false, "grade_id": "l06-ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
any_size = None
### BEGIN SOLUTION
any_base = tf.keras.applications.VGG16(weights=None, include_top=False, input_shape=(None, None, 3))
pooled = tf.keras.layers.GlobalAveragePooling2D()(any_base.output)
hidden = tf.keras.layers.Dense(256, activation="relu")(pooled)
any_size = tf.keras.Model(any_base.input, tf.keras.layers.Dense(10)(hidden))
print(any_size(np.zeros((1, 32, 32, 3))).shape, any_size(np.zeros((1, 64, 64, 3))).shape)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l06-ex3-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex3.check(any_size)
