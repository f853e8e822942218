"""The figures the original lessons reported (from LESSONS.md), keyed by metric.

The run report prints them beside ours. They are the lessons' numbers, not
the course's: quick-profile figures are never compared to them as results.
"""
from __future__ import annotations

REFERENCES: dict[str, dict[str, str]] = {
    "01": {
        "accuracy_after_1_epoch": "over 97% after 1 epoch (MNIST test)",
        "test_accuracy": "almost 99% after 3 epochs",
        "epoch_time_unfrozen_s": "about 15-16 s per epoch unfrozen (presenter's machine)",
        "epoch_time_frozen_s": "about half the unfrozen epoch time",
        "frozen_speedup": "about 2x (frozen epoch about half as long)",
    },
    "02": {
        "app_train_accuracy": "100% training accuracy, very low loss (memorised 5 points)",
        "hub_train_accuracy": "100% training accuracy, loss still high after 15 epochs",
    },
    "03": {
        "num_classes": "5 (dandelion, daisy, tulips, sunflowers, roses)",
        "num_test": "367 test images (10% of 3,670; the lesson's batch size)",
        "mobilenet_val_accuracy": "above 80% after 6 epochs, no overfitting",
        "mobilenet_test_accuracy": "above 80% after 6 epochs",
        "mobilenet_epoch_s": "not reported ('reasonable'; Colab GPU)",
        "inception_val_accuracy": "above 80% after 6 epochs, similar to MobileNet-v2",
        "inception_test_accuracy": "above 80% after 6 epochs",
        "inception_epoch_s": "not reported (Colab GPU)",
    },
    "04": {
        "majority_baseline": "about 75%: 13,136 of the 17,500 training images have a cactus (3:1)",
        "b_val_accuracy": "learning curves only (no figure reported)",
        "c_val_accuracy": "learning curves only (no figure reported)",
        "d_val_accuracy": "learning curves only (no figure reported)",
        "b_epoch_s": "not reported (Kaggle notebook)",
    },
    "05": {
        "gap_without_dropout": "training and validation accuracy diverge over 100 epochs (overfitting; curves only, no figure)",
        "gap_with_dropout": "Dropout(0.2) shown as the remedy; curves only, no figure",
        "val_accuracy_without_dropout": "curves only (no figure reported)",
        "val_accuracy_with_dropout": "curves only (no figure reported)",
        "mixed7_shape": "7x7 (mixed7 chosen over the last layer's 3x3)",
    },
    "06": {
        "small_test_accuracy": "77.99% (PyTorch, 64x64 crops of upscaled CIFAR-10, 50 epochs; "
        "only the output layer trained, see the freezing bug)",
        "large_test_accuracy": "84.9% at 224x224 (PyTorch, 50 epochs, 213 min on a GPU)",
        "small_epoch_s": "about 46 s (38.3 min for 50 epochs, PyTorch, GPU, 64x64)",
        "large_epoch_s": "about 256 s (213 min for 50 epochs, PyTorch, GPU, 224x224)",
        "frozen_epoch_s": "about 46 s (38 min / 50 epochs, convolutions frozen, PyTorch, GPU)",
        "full_epoch_s": "about 108 s (90 min / 50 epochs, VGG16 from scratch, PyTorch, GPU)",
        "frozen_vs_full_epoch_ratio": "38 min frozen vs 90 min from scratch = 0.42 (PyTorch, GPU)",
        "trainable_params_with_lecture_bug": "40,970: only the new output layer (the lecture's code)",
        "trainable_params_base": "0 (all convolutions frozen)",
        "trainable_params_fc1": "102,764,544 intended (25088 x 4096 + 4096)",
        "trainable_params_fc2": "16,781,312 intended (4096 x 4096 + 4096)",
        "trainable_params_output": "40,970 (4096 x 10 + 10)",
        "dataset_vs_imagenet_mean_gap": "CIFAR-10's statistics 'essentially the same' as ImageNet's; "
        "no meaningful accuracy difference",
    },
}


def reference_for(lesson: str, metric: str) -> str:
    """The lesson's reported figure for ``metric``, or an empty string."""
    return REFERENCES.get(lesson, {}).get(metric, "")
