"""What the original lessons reported and the settings they used (seeds, LESSONS.md and lesson 06's published
notebook, quoted), in the repository.

:data:`REFERENCES` is keyed by the name a notebook records; :data:`ORIGINAL_SETTINGS` and :data:`_ORIGINAL_CODE`
(at the end) hold the original lessons' own settings and code literals that the full profile and the notebooks keep.

Each entry says what the lesson reported and, for the ``full`` profile, whether our figure compares
like for like (same data, size and schedule) and why not when it does not; the quick profile never does.
:func:`course_utils.course.report.comparison_table` puts them beside our figures (notebooks, run report).
"""
from __future__ import annotations

from typing import NamedTuple

__all__ = ["ORIGINAL_SETTINGS", "QUICK_IS_NOT_LIKE_FOR_LIKE", "REFERENCES", "reference_for"]


class _Reference(NamedTuple):
    reported: str  # what the original lesson reported, in its own terms
    like_for_like: str  # full profile: "yes: ...", "partly: ..." or "no: ..." with the reason


QUICK_IS_NOT_LIKE_FOR_LIKE = "no: quick profile (generated data, stand-in weights): proves the code runs, not the result"

REFERENCES: dict[str, dict[str, _Reference]] = {
    "01": {
        "accuracy_after_1_epoch": _Reference(
            "over 97% after 1 epoch (the lesson does not say on which split)",
            "partly: MNIST and 1 epoch of Adam alike; ours is the training accuracy fit printed for "
            "that epoch, and the lesson's base model is not shown"),
        "train_accuracy": _Reference(
            "almost 99% after 3 epochs",
            "partly: MNIST and 3 epochs of Adam alike; ours is the training accuracy fit printed for "
            "epoch 3 (the lesson names no split), and the lesson's base model is not shown"),
        "test_accuracy": _Reference(
            "almost 99% after 3 epochs",
            "partly: MNIST and 3 epochs of Adam alike; ours is on the 10,000 test images (the lesson "
            "names no split), and the lesson's base model is not shown"),
        "test_accuracy_frozen": _Reference(
            "'it actually got better performance in this case. sort of the same' with the base frozen "
            "(no figure given)",
            "partly: ours is on the 10,000 test images after 3 epochs; set it beside test_accuracy, "
            "as the lesson set its two runs side by side"),
        "frozen_accuracy_gap": _Reference(
            "'better performance in this case. sort of the same' (no figures; the lesson's frozen run was "
            "frozen by model.trainable = False: its loop's typo 'doesn't really matter', the presenter says)",
            "partly: both our runs start from the same saved model, seed and batches; the test images judge "
            "the difference (McNemar), the lesson judged by eye"),
        "epoch_time_unfrozen_s": _Reference(
            "about 15-16 s per epoch unfrozen (presenter's machine)",
            "no: another machine, and the lesson's model is not shown; ours times training only "
            "(mean of epochs 2-3); compare the frozen/unfrozen ratio instead"),
        "epoch_time_frozen_s": _Reference(
            "about half the unfrozen epoch time",
            "no: another machine and model; ours times training only; compare the ratio instead"),
        "frozen_speedup": _Reference(
            "about 2x (frozen epoch about half as long)",
            "partly: a ratio of training-epoch times on one machine each, but the models differ "
            "(the lesson's is not shown)"),
    },
    "02": {
        "app_train_accuracy": _Reference(
            "100% training accuracy, very low loss (memorised 5 points)",
            "yes: InceptionV3 with ImageNet weights, five tf.random.normal 299x299 images with labels "
            "0-4 (other random values), Adam, 15 epochs; both are what fit printed"),
        "app_final_loss": _Reference(
            "'very low' (no figure given)",
            "partly: same model, data and 15 epochs; the lesson gives a word, not a number"),
        "hub_train_accuracy": _Reference(
            "100% training accuracy after 15 epochs",
            "partly: same recipe and 15 epochs; the lesson names no module version (we use "
            "inception_v3/feature_vector/5)"),
        "hub_final_loss": _Reference(
            "no figure: it 'didn't actually overfit too much' in 15 epochs and would need more",
            "partly: same recipe and 15 epochs; the lesson gives no number and names no module version"),
    },
    "03": {
        "num_classes": _Reference("shown by `class_labels, num_classes` (the text prints no output; tf_flowers has 5)",
                                 "yes: the same data set"),
        "num_test": _Reference("367 test images, implied: at batch 1024 the first test batch's labels ran out at "
                              "index 367 (the lesson's batch size)",
                              "yes: the same data and split strings"),
        "test_batches": _Reference(
            "1 (batch 367 = the whole test split; pairing predict's rows with the first batch's labels holds for "
            "any batch up to 367 on the unshuffled test batches; batch 1024 failed with an IndexError)",
            "yes: the same batch size on the same test split"),
        "mobilenet_val_accuracy": _Reference(
            "above 80% after 6 epochs for both models, no overfitting (the summary names no split; "
            "the curves show training and validation)",
            "partly: same data, split, TF Hub module, head, batch, Adam and 6 epochs (our head trains on "
            "features computed once: the same model and loss, another batch order); the lesson's 80% names no split"),
        "mobilenet_test_accuracy": _Reference(
            "no test accuracy computed (30 test predictions plotted); 'above 80%' without a split",
            "partly: same data, split, module, head and schedule; the lesson reports no test figure"),
        "image_epoch_s": _Reference(
            "no figure (the seed, in Chinese: '训练时间很合理', the training time is very reasonable; Colab GPU; "
            "batch 367 trained faster than 1024)",
            "no: nothing reported to compare; ours is one epoch of model.fit on images on this machine"),
        "inception_val_accuracy": _Reference(
            "above 80% after 6 epochs, similar to MobileNet-v2 (no split named)",
            "partly: same data, split, TF Hub module, head, batch, Adam and 6 epochs (our head trains on "
            "features computed once: the same model and loss, another batch order); the lesson's 80% names no split"),
        "inception_test_accuracy": _Reference(
            "no test accuracy computed (30 test predictions plotted); 'above 80%' without a split",
            "partly: same data, split, module, head and schedule; the lesson reports no test figure"),
        "inception_epoch_s": _Reference(
            "not reported (Colab GPU)",
            "no: nothing reported; ours is a head epoch on features computed once, the lesson's were on images"),
    },
    "04": {
        "a_top1_chelsea": _Reference(
            "top-5 ImageNet classes for a minivan, a taxi and a pug (Wikimedia photos; output as an image)",
            "no: other photos (ours are bundled with scikit-image), the same VGG19 and ImageNet weights"),
        "num_train": _Reference(
            "a 70/30 training/validation split of train.csv (validation_split=0.30)",
            "yes: the same CSV and split (12,250 of 17,500 for training)"),
        "majority_baseline": _Reference(
            "value_counts of has_cactus printed (its output is not in the article's text); the data hold "
            "13,136 cactus images of 17,500, about 3:1",
            "partly: the same labels; ours is always-cactus accuracy on the validation 30%, "
            "the lesson's the share over all 17,500"),
        "b_val_accuracy": _Reference(
            "learning curves only (no figure reported)",
            "no: no figure to compare; same data, split, model and 5 epochs, but trained on "
            "predicted features (the same model) in another batch order"),
        "c_val_accuracy": _Reference(
            "learning curves only (no figure reported)",
            "no: no figure to compare; same data, split, model, optimiser and 5 epochs"),
        "d_val_accuracy": _Reference(
            "learning curves only (no figure reported)",
            "no: no figure to compare; same data, split, model, optimiser and 5 epochs"),
        "b_epoch_s": _Reference("not reported (Kaggle notebook)", "no: nothing reported to compare"),
    },
    "05": {
        "gap_without_dropout": _Reference(
            "a curve, no number: validation accuracy 'diverging away from the training' over 100 epochs",
            "partly: same data, model, RMSprop 1e-4 and 100 x 100-step schedule; augmentation through "
            "layers (same ranges) and bilinear resizing (the generator's is nearest); the lesson shows a "
            "curve of fit's training accuracy (augmented, epoch mean), ours is one final gap with the "
            "training accuracy from evaluate (inference mode, un-augmented images)"),
        "fit_gap_without_dropout": _Reference(
            "a curve, no number: 'the accuracy of training versus validation' from fit_generator's history",
            "partly: the lesson's measure (fit's training accuracy, augmented, epoch mean) at the final epoch "
            "of the same schedule; augmentation through layers, bilinear resizing"),
        "gap_with_dropout": _Reference(
            "nothing: Dropout(0.2) is introduced as a remedy, with its code but no curve or figure",
            "no: the lesson shows no result for the dropout run"),
        "val_accuracy_without_dropout": _Reference(
            "no figure (the curve of the no-dropout run only)", "no: no figure to compare"),
        "val_accuracy_with_dropout": _Reference(
            "nothing (no curve for the dropout run)", "no: nothing reported to compare"),
        "mixed7_shape": _Reference("7x7 (mixed7 chosen over the last layer's 3x3)", "yes: same model and input size"),
    },
    "06": {
        "head_test_accuracy": _Reference(
            "\"it's only 77%\" (the lecture, of its small-image run); its published notebook "
            "(rasbt/stat453-deep-learning-ss21, L14/5-transfer-learning-vgg16_small.ipynb) prints \"Test accuracy "
            "77.99%\"; only the output layer trained (the freezing bug)",
            "partly: the same trained layer (the output layer alone), optimiser, schedule, batch and 50 epochs "
            "(default parameters); but 32x32 images, not the lecture's random 64x64 crops (see "
            "crop_test_accuracy), features computed once (so the dropout after the frozen fc1 does not run), "
            "and Keras's VGG16 weights (converted from Caffe), not torchvision's"),
        "small_test_accuracy": _Reference(
            "nothing: the lecture meant fc1 and fc2 to train, but its code never trained them",
            "no: the lecture has no such run; set it beside head_test_accuracy, the same model before "
            "fc1 and fc2 were fine-tuned"),
        "crop_test_accuracy": _Reference(
            "77.99% (its published notebook's \"Test accuracy\", after \"Total Training Time: 38.32 min\": the run "
            "the talk calls \"only 77%\" and \"38 minutes\"; PyTorch: resized to 70, random 64x64 crops "
            "for training, the central crop for testing, 50 epochs; only the output layer trained)",
            "partly: the same recipe (70 -> random 64x64 crop, central crop for testing), trained layer (the "
            "output layer alone), optimiser, schedule, batch and 50 epochs, on images (default parameters); "
            "but Keras's VGG16 weights (converted from Caffe), not torchvision's"),
        "large_test_accuracy": _Reference(
            "84.9% at 224x224 (the lecture; its published notebook prints \"Test accuracy 84.90%\"; PyTorch, "
            "50 epochs, 213 min on a GPU; only the output layer trained)",
            "partly: the same data, size, trained layer (the output layer alone), optimiser, schedule and 50 "
            "epochs (default parameters, LARGE_TRAIN_LIMIT unset); but Keras's VGG16 weights, and features "
            "computed once (so the dropout after the frozen fc1 does not run)"),
        "crop_epoch_s": _Reference(
            "about 46 s (38.3 min for 50 epochs, PyTorch, GPU, 64x64 crops)",
            "no: the same recipe and batch, on images, but another framework and machine"),
        "frozen_epoch_s": _Reference(
            "about 46 s (38 min / 50 epochs; frozen but the output layer, PyTorch, GPU, 64x64 crops)",
            "no: ours is an estimate at 32x32 from the fastest of a few steps, the output layer alone "
            "training as in the lecture's run, on another framework and machine"),
        "full_epoch_s": _Reference(
            "about 108 s (90 min / 50 epochs, VGG16 from scratch, PyTorch, GPU)",
            "no: ours is an estimate at 32x32 from the fastest of a few steps, on another framework and machine"),
        "frozen_vs_full_epoch_ratio": _Reference(
            "38 min frozen vs 90 min from scratch (PyTorch, GPU; the notebook prints the ratio)",
            "partly: a ratio on one machine each; another framework and hardware, ours at 32x32 (the "
            "lecture's from-scratch run does not show its input size)"),
        "trainable_params_with_lecture_bug": _Reference(
            "40,970: only the new output layer (the lecture's code)", "yes: the same layer sizes"),
        "trainable_params_base": _Reference("0 (all convolutions frozen)", "yes: the same layers"),
        "trainable_params_fc1": _Reference("102,764,544 intended (25088 x 4096 + 4096)", "yes: the same layer sizes"),
        "trainable_params_fc2": _Reference("16,781,312 intended (4096 x 4096 + 4096)", "yes: the same layer sizes"),
        "trainable_params_output": _Reference("40,970 (4096 x 10 + 10)", "yes: the same layer sizes"),
        "dataset_vs_imagenet_mean_gap": _Reference(
            "CIFAR-10's statistics 'essentially the same' as ImageNet's; no meaningful accuracy difference",
            "partly: the same statistics; the lecture compared accuracies, we compare the means"),
    },
}


def reference_for(lesson: str, metric: str) -> str:
    """What the original lesson reported for ``metric``, or an empty string."""
    return getattr(REFERENCES.get(lesson, {}).get(metric), "reported", "")


# The lecture's published notebook for its small run, which LESSONS.md's brief summarises (momentum, factor and
# patience are in its code, not in the brief). Its training log: "Validation: xx.xx%" for epochs 1-50, and its one
# rate cut, "Epoch    20: reducing learning rate of group 0 to 1.0000e-03."
_PUBLISHED_06 = ("the lecture's published notebook (rasbt/stat453-deep-learning-ss21, "
                 "L14/5-transfer-learning-vgg16_small.ipynb, commit 73e7f22)")
_PUBLISHED_06_VALIDATION_PERCENT = (
    72.54, 73.66, 74.14, 74.00, 74.26, 73.64, 74.12, 72.76, 75.90, 74.72,
    74.00, 73.74, 73.90, 74.20, 74.46, 74.34, 74.60, 74.30, 75.14, 74.78,
    77.32, 77.16, 77.16, 77.84, 77.56, 77.58, 77.58, 77.80, 77.78, 77.94,
    77.70, 77.94, 77.94, 77.52, 77.94, 77.94, 77.76, 78.00, 78.02, 77.98,
    78.02, 77.80, 77.96, 78.06, 78.14, 77.84, 78.08, 78.06, 77.98, 78.00,
)
_PUBLISHED_06_RATE_CUTS = ((20, 1e-3),)  # (epoch, the rate from then on)


class _Original(NamedTuple):
    value: object  # the original lesson's value, in the units of the profile setting it matches
    source: str  # where it is stated: the seed transcript's own words or code, the course brief's, or lesson 06's
    # published notebook's code
    as_written: str = ""  # where the original counts in other terms than the setting: its value in them


# The original lessons' own settings, each with the words that state it (seeds/ and LESSONS.md beside the
# course's workspace, and lesson 06's published notebook, quoted here so that the repository holds them).
# tests/test_full_profile_settings.py holds the full profile (course_utils/setup/profiles.py) to every value
# here; `make facts` marks them "the lesson's" in the notebooks' parameter comments and the settings tables.
ORIGINAL_SETTINGS: dict[str, dict[str, _Original]] = {
    "01": {
        "epochs": _Original(3, "seed 01, the transcript: \"after three epochs， it has almost 99%\""),
    },
    "02": {
        "epochs": _Original(15, "seed 01, the transcript: \"new model dot fit。X and Y， and then epox are say 15\""),
        "image_size": _Original(299, "brief: \"`tf.random.normal((5, 299, 299, 3))` as images\""),
        "num_examples": _Original(5, "brief: \"`tf.random.normal((5, 299, 299, 3))` as images\""),
    },
    "03": {
        "batch_size": _Original(367, "seed 03, the code: \"BATCH_SIZE = 367\""),
        "epochs": _Original(6, "seed 03, the code: \"EPOCHS = 6\""),
    },
    "04": {
        "validation_split": _Original(0.3, "seed 04, the code: \"ImageDataGenerator(rescale=1/255,validation_split=0.30)\""),
        "batch_size": _Original(64, "seed 04, the code: \"bs = 64\""),
        "image_size": _Original(32, "seed 04, the code: \"target_size=(32,32)\""),
        "epochs": _Original(5, "seed 04, the code of B, C and D: \"epochs = 5\""),
    },
    "05": {
        "image_size": _Original(150, "seed 05, the code: \"target_size = (150, 150)\""),
        "cut_layer": _Original("mixed7", "seed 05, the code: \"pre_trained_model.get_layer('mixed7')\""),
        "learning_rate": _Original(1e-4, "seed 05, the code: \"RMSprop(lr=0.0001)\""),
        "batch_size": _Original(20, "seed 05, the code: \"batch_size = 20\""),
        "epochs": _Original(100, "seed 05, the code: \"epochs = 100\""),
        "steps_per_epoch": _Original(100, "seed 05, the code: \"steps_per_epoch = 100\""),
        "validation_steps": _Original(50, "seed 05, the code: \"validation_steps = 50\""),
        "dropout_rate": _Original(0.2, "seed 05, the code: \"x = layers.Dropout(0.2)(x)\""),
    },
    "06": {
        "num_classes": _Original(10, "seed 06, the transcript: \"Cypher 10 only has 10 classes\""),
        "small_size": _Original(32, "brief: \"CIFAR-10 (50k/10k, 32x32 colour, 10 classes)\""),
        "learning_rate": _Original(0.01, "brief: \"(in PyTorch, SGD 0.01 with a plateau scheduler, batch 256, 50 epochs)\""),
        "batch_size": _Original(256, "brief: \"(in PyTorch, SGD 0.01 with a plateau scheduler, batch 256, 50 epochs)\""),
        "epochs": _Original(50, "brief: \"(in PyTorch, SGD 0.01 with a plateau scheduler, batch 256, 50 epochs)\""),
        "crop_epochs": _Original(50, "brief, of both runs: \"(in PyTorch, SGD 0.01 with a plateau scheduler, batch 256, "
                                "50 epochs): about 77-78% test accuracy for the small run\""),
        "large_epochs": _Original(50, "brief, of both runs: \"(in PyTorch, SGD 0.01 with a plateau scheduler, batch 256, "
                                 "50 epochs): ... and 84.9% at 224x224\""),
        "large_size": _Original(224, "seed 06, the transcript: \"Just increase the size of the images to 224\""),
        "crop_resize": _Original(70, "brief: \"The lecture's published code for the small run resized to 70 and "
                                "cropped 64x64\""),
        "crop_size": _Original(64, "brief: \"The lecture's published code for the small run resized to 70 and "
                              "cropped 64x64\""),
        "validation_fraction": _Original(0.1, _PUBLISHED_06 + ", the code: \"get_dataloaders_cifar10(\" ... "
                                         "\"validation_fraction=0.1,\""),
        "momentum": _Original(0.9, _PUBLISHED_06 + ", the code: \"torch.optim.SGD(model.parameters(), momentum=0.9, "
                              "lr=0.01)\""),
        "plateau_factor": _Original(0.1, _PUBLISHED_06 + ", the code: \"ReduceLROnPlateau(optimizer, factor=0.1, "
                                    "mode='max', verbose=True)\""),
        # No patience is passed: PyTorch's default, 10, "will only decrease the LR after the 3rd epoch" for a patience
        # of 2 (its docs), so after the 11th epoch without improvement; Keras's patience counts that epoch: 11.
        "plateau_patience": _Original(11, _PUBLISHED_06 + ", the code: \"ReduceLROnPlateau(optimizer, factor=0.1, "
                                      "mode='max', verbose=True)\" (PyTorch's default patience=10; its log cuts "
                                      "the rate at epoch 20, 11 epochs after its best, epoch 9)", "10 in PyTorch"),
    },
}

# Literals of the original lessons' code that the notebooks keep as literals (not profile settings; issue 23).
_ORIGINAL_CODE: dict[str, dict[str, _Original]] = {
    "02": {
        # The seed pastes a URL without showing it; the brief names this one as an example.
        "url": _Original("https://tfhub.dev/google/imagenet/inception_v3/feature_vector/5",
                        "brief: \"the Inception-v3 *feature-vector* handle (e.g. "
                        "`https://tfhub.dev/google/imagenet/inception_v3/feature_vector/5`; the seed does not name "
                        "the version)\""),
    },
    "03": {
        "split": _Original(["train[:10%]", "train[10%:25%]", "train[25%:]"],
                          "seed 03, the code: \"split = ['train[:10%]', 'train[10%:25%]', 'train[25%:]'],\""),
        "mobilenet_url": _Original("https://tfhub.dev/google/tf2-preview/mobilenet_v2/feature_vector/4",
                                  "seed 03, the code: \"piece1 = 'https://tfhub.dev/google/tf2-preview/'\" and "
                                  "\"piece2 = 'mobilenet_v2/feature_vector/4'\""),
        "inception_url": _Original("https://tfhub.dev/google/tf2-preview/inception_v3/feature_vector/4",
                                  "seed 03, the code: \"piece1 = 'https://tfhub.dev/google/tf2-preview/'\" and "
                                  "\"piece2 = 'inception_v3/feature_vector/4'\""),
    },
}
