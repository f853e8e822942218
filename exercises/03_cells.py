# %% [markdown] nbgrader={"grade": false, "grade_id": "l03-practise", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Practise
# Three exercises on this lesson's skills. Write your answer in the cell
# marked for it, then run the check cell below it: it says what is right or
# what is wrong. `ex1.hint()` gives a hint, `ex1.solution()` a solution
# (likewise `ex2`, `ex3`). An exercise without an answer only waits: Run All
# never stops on it.

# %% nbgrader={"grade": false, "grade_id": "l03-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import numpy as np
import tensorflow as tf

from course_utils.exercises.lesson03 import CLASS_NAMES, ex1, ex2, ex3, example_logits, setup

# %% [markdown] nbgrader={"grade": false, "grade_id": "l03-ex1-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 1: split strings
# Set `splits` to the three TFDS split strings that cut tf_flowers' single
# `train` split into 20% test, 10% validation and 70% training, in that
# order.

# %% nbgrader={"grade": false, "grade_id": "l03-ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
splits = None
### BEGIN SOLUTION
splits = ["train[:20%]", "train[20%:30%]", "train[30%:]"]
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l03-ex1-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex1.check(splits)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l03-ex2-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 2: the batch-safe prediction loop
# `small_model` predicts five classes; `shuffled_batches` holds 70 images in
# batches of 32 and comes in a new order on every pass. Collect
# `loop_logits` (one row per image) and `loop_labels` so that row *i* of
# both belongs to the same image.

# %% nbgrader={"grade": false, "grade_id": "l03-ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
small_model, shuffled_batches = setup()
loop_logits = None
loop_labels = None
### BEGIN SOLUTION
batch_logits, batch_labels = [], []
for batch_x, batch_y in shuffled_batches:
    batch_logits.append(small_model(batch_x, training=False).numpy())
    batch_labels.append(batch_y.numpy())
loop_logits = np.concatenate(batch_logits)
loop_labels = np.concatenate(batch_labels)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l03-ex2-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex2.check(loop_logits, loop_labels, small_model)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l03-ex3-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 3: from logits to flower names
# `flower_logits` holds six rows of logits; `class_names` is in label order
# (`info.features["label"].names`). Set `answer` to a list of (name,
# probability) pairs: each image's most likely flower and its softmax
# probability.

# %% nbgrader={"grade": false, "grade_id": "l03-ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
flower_logits = example_logits()
class_names = list(CLASS_NAMES)
answer = None
### BEGIN SOLUTION
probabilities = tf.nn.softmax(flower_logits, axis=-1).numpy()
ids = np.argmax(flower_logits, axis=1)
answer = [(class_names[i], float(probabilities[row, i])) for row, i in enumerate(ids)]
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l03-ex3-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex3.check(answer)
