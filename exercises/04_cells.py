# %% [markdown] nbgrader={"grade": false, "grade_id": "l04-practise", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Practise
# Three exercises on this lesson's skills. Write your answer in the cell
# marked for it, then run the check cell below it: it says what is right or
# what is wrong. `ex1.hint()` gives a hint, `ex1.solution()` a solution
# (likewise `ex2`, `ex3`). An exercise without an answer only waits: Run All
# never stops on it.

# %% nbgrader={"grade": false, "grade_id": "l04-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import numpy as np
import tensorflow as tf

from course_utils.exercises.lesson04 import ex1, ex2, ex3, frozen_model, photo

# %% [markdown] nbgrader={"grade": false, "grade_id": "l04-ex1-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 1: the preprocessing VGG19 expects
# `coffee` is a 224x224 RGB photo, values 0 to 255. Set `batch` to the
# input that VGG19's ImageNet weights expect, with a batch axis, and print
# its range.

# %% nbgrader={"grade": false, "grade_id": "l04-ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
coffee = photo()
batch = None
### BEGIN SOLUTION
batch = tf.keras.applications.vgg19.preprocess_input(np.expand_dims(coffee.astype("float32"), 0))
print("range:", batch.min(), "to", batch.max(), "| channel means (B, G, R):", batch.mean(axis=(0, 1, 2)))
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l04-ex1-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex1.check(batch)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l04-ex2-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 2: the size of Part B's head
# Part B puts `Flatten` and `Dense(2, softmax)` on VGG19 without its top at
# 32x32. Set `head_params` to the number of parameters that train, worked
# out from VGG19's output shape.

# %% nbgrader={"grade": false, "grade_id": "l04-ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
head_params = None
### BEGIN SOLUTION
vgg19_32 = tf.keras.applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
print(vgg19_32.output_shape)  # (None, 1, 1, 512)
head_params = 1 * 1 * 512 * 2 + 2
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l04-ex2-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex2.check(head_params)

# %% [markdown] nbgrader={"grade": false, "grade_id": "l04-ex3-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise 3: the fine-tuning phase
# `part_b` is Part B's model after training its head (VGG19 frozen, Adam at
# 0.001). Unfreeze only block5, keep the head trainable, choose
# `fine_tune_rate` 10 to 100 times lower and compile again with it.

# %% nbgrader={"grade": false, "grade_id": "l04-ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
part_b = frozen_model()
fine_tune_rate = None
### BEGIN SOLUTION
fine_tune_rate = 1e-5
for layer in part_b.layers:
    if layer.name.startswith("block5"):
        layer.trainable = True
part_b.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=fine_tune_rate),
               loss="categorical_crossentropy", metrics=["accuracy"])
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l04-ex3-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ex3.check(fine_tune_rate, part_b)
