"""The full profile's documented settings, held against the texts that document them (issue 17, item 4).

Only the quick profile runs in the tests, so nothing else notices when a
full-profile value in ``course_utils/setup/profiles.py`` drifts from what the
course tells learners and instructors (lesson 03's batch 367 set to 32
passed the whole suite). Each :class:`Doc` below reads the value out of one
document with a regular expression and compares it with the full profile;
a failure names the document, the text it read and both values. Where a
document states a value derived from several settings (README: "8 epochs"
for lesson 01 = pretraining + the unfrozen and the frozen run), the pin
computes the same derivation.

The documents: each notebook's parameters cell and prose (the paired
``.py`` scripts; ``test_notebook_hygiene`` keeps them equal to the
notebooks, cell by cell), README.md's tables, docs/INSTRUCTORS.md and the reference rows
of ``course_utils/course/references.py`` that learners see beside their figures.
The course brief (``../shared/LESSONS.md``, beside the clone in the course's
own workspace and CI) is checked too when it is there; a clone without it
reports that test as skipped, with the reason.

:data:`NOT_PINNED` lists every full-profile setting no pin covers, each
with its reason, and :data:`BRIEF_ONLY` the ones only the brief states;
:func:`test_every_full_setting_is_pinned_or_says_why_not` fails for a new
setting that is in none of these places, and
:func:`test_changing_any_pinned_setting_fails_an_in_repo_pin` changes each
pinned setting in turn and sees a pin fail.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from course_utils.setup import profiles

ROOT = Path(__file__).resolve().parent.parent
BRIEF = ROOT.parent / "shared" / "LESSONS.md"
LESSONS = ("01", "02", "03", "04", "05", "06")

NB = {
    "01": "notebooks/01_own_model_head_swap.py",
    "02": "notebooks/02_applications_and_hub.py",
    "03": "notebooks/03_tfhub_flowers.py",
    "04": "notebooks/04_vgg19_four_ways.py",
    "05": "notebooks/05_inception_mixed7_dropout.py",
    "06": "notebooks/06_vgg16_cifar10.py",
}
README = "README.md"
INSTRUCTORS = "docs/INSTRUCTORS.md"
REFERENCES = "course_utils/course/references.py"

WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "ten": 10}


def number(text: str) -> int | float:
    """``"2,752"`` -> 2752, ``"1e-4"`` -> 0.0001, ``"0.30"`` -> 0.3, ``"five"`` -> 5."""
    text = text.strip().replace(",", "")
    if text.lower() in WORDS:
        return WORDS[text.lower()]
    value = float(text)
    return int(value) if value.is_integer() and not re.search(r"[.eE]", text) else value


def percent(text: str) -> float:
    """``"30%"`` or ``"30"`` -> 0.3."""
    return number(text.rstrip("%")) / 100


@dataclass(frozen=True)
class Doc:
    """One place where a document states a full-profile value."""

    lesson: str
    setting: str  # a key of lesson_settings(lesson, "full"), or a name for ``derive``
    path: str  # the document, relative to the repository
    pattern: str  # a regular expression (MULTILINE); its group 1 is the documented value
    parse: Callable[[str], Any] = number
    # How the documented value follows from the settings, when it is not one setting as is.
    derive: Callable[[profiles.Settings], Any] | None = None

    @property
    def id(self) -> str:
        return f"{self.lesson}-{self.setting}-{Path(self.path).name}"

    def covers(self) -> set[str]:
        """The settings this pin holds: the one it names, or those its ``derive`` reads."""
        if self.derive is None:
            return {self.setting}
        return set(re.findall(r"[a-z_]+", self.setting)) & set(full(self.lesson))


def lesson_03_literals() -> dict[str, Any]:
    """Lesson 03's split strings (the ``split=`` of its ``tfds.load``) and TF Hub handles, read from the notebook's
    code: they are literals there, not profile settings (issue 23)."""
    import ast

    tree = ast.parse((ROOT / NB["03"]).read_text(encoding="utf-8"))
    found: dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "load":
            found.update({k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg == "split"})
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            found.update({t.id: node.value.value for t in node.targets
                          if isinstance(t, ast.Name) and t.id.endswith("_url")})
    return found


def _splits_in_percent(split: list[str]) -> list[int]:
    """``["train[:10%]", "train[10%:25%]", "train[25%:]"]`` -> ``[10, 15, 75]`` (test, validation, train)."""
    bounds = [re.fullmatch(r"train\[(\d*)%?:(\d*)%?\]", s).groups() for s in split]
    return [int(end or 100) - int(start or 0) for start, end in bounds]


def _tfds_split_sizes(settings=None, total: int = 3670) -> list[int]:
    """The sizes TFDS gives the lesson's split strings (the notebook's) on tf_flowers' 3,670 examples."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core import naming

    template = naming.ShardedFileTemplate(data_dir="/unused", dataset_name="tf_flowers", split="train",
                                          filetype_suffix="tfrecord")
    splits = tfds.core.SplitDict([tfds.core.SplitInfo(name="train", shard_lengths=[total], num_bytes=0,
                                                      filename_template=template)])
    return [splits[s].num_examples for s in lesson_03_literals()["split"]]


def _ints(text: str) -> list[int]:
    return [number(part) for part in re.split(r"\s*/\s*", text)]


DOCS: tuple[Doc, ...] = (
    # --- 01: MNIST, a small CNN saved and reused -------------------------------------------------
    Doc("01", "epochs", NB["01"], r"^EPOCHS = None .*\(full: (\d+)\)"),
    Doc("01", "pretrain_epochs", NB["01"], r"^PRETRAIN_EPOCHS = None .*\(full: (\d+)\)"),
    Doc("01", "batch_size", NB["01"], r"^BATCH_SIZE = None +# full: (\d+)"),
    Doc("01", "epochs", NB["01"], r"full runs\n# the lesson's (\d+) epochs, with batch"),
    Doc("01", "batch_size", NB["01"], r"the lesson's \d+ epochs, with batch (\d+) \(Keras.s default"),
    Doc("01", "epochs", REFERENCES, r"partly: MNIST and (\d+) epochs of Adam alike"),
    Doc("01", "pretrain_epochs + 2 x epochs (pretraining, unfrozen, frozen)", README,
        r"^\| 01 \| about [^|]+\| (\d+) epochs of a small CNN", derive=lambda s: s.pretrain_epochs + 2 * s.epochs),
    # --- 02: InceptionV3 from Keras Applications and TF Hub on five random images ------------------
    Doc("02", "epochs", NB["02"], r"^EPOCHS = None +# full: (\d+)"),
    Doc("02", "image_size", NB["02"], r"^IMAGE_SIZE = None +# full: (\d+)"),
    Doc("02", "image_size", NB["02"], r"ImageNet weights, (\d+)x\d+ inputs, \d+ epochs, as in the lesson"),
    Doc("02", "epochs", NB["02"], r"ImageNet weights, \d+x\d+ inputs, (\d+) epochs, as in the lesson"),
    Doc("02", "num_examples", NB["02"], r"The data are (\w+) random \"images\" with"),
    Doc("02", "epochs", REFERENCES, r"0-4 \(other random values\), Adam, (\d+) epochs"),
    Doc("02", "image_size", REFERENCES, r"five tf\.random\.normal (\d+)x\d+ images"),
    # --- 03: TF Hub feature vectors on tf_flowers ---------------------------------------------------
    Doc("03", "epochs", NB["03"], r"^EPOCHS = None +# full: (\d+)"),
    Doc("03", "batch_size", NB["03"], r"^BATCH_SIZE = None +# full: (\d+), the lesson's"),
    Doc("03", "fine_tune_epochs", NB["03"], r"^FINE_TUNE_EPOCHS = None +# full: (\d+) epochs of fine-tuning"),
    Doc("03", "batch_size", NB["03"], r"The lesson's batch of (\d+) is exactly the full test split"),
    Doc("03", "batch_size", INSTRUCTORS, r"\*\*Why batch (\d+)\.\*\*"),
    Doc("03", "batch_size", INSTRUCTORS, r"steps per\s+epoch at batch 1024 and \d+ at batch (\d+)"),
    Doc("03", "epochs", INSTRUCTORS, r"18 against 48 steps in (\d+) epochs"),
    Doc("03", "train split / batch_size, rounded up", INSTRUCTORS, r"at batch 1024 and (\d+) at batch \d+",
        derive=lambda s: -(-_tfds_split_sizes(s)[2] // s.batch_size)),
    Doc("03", "fine_tune_epochs", INSTRUCTORS, r"the full profile's (\d+) epochs are meant for a GPU"),
    Doc("03", "epochs", INSTRUCTORS, r"estimates the lesson's (\d+) epochs as the first plus"),
    Doc("03", "batch_size", REFERENCES, r"\"(\d+) test images, implied: at batch 1024"),
    # --- 04: VGG19 four ways on the aerial cactus data ----------------------------------------------
    Doc("04", "epochs", NB["04"], r"^EPOCHS = None .*\(full: (\d+), the lesson's\)"),
    Doc("04", "batch_size", NB["04"], r"^BATCH_SIZE = None +# full: (\d+), the lesson's"),
    Doc("04", "fine_tune_epochs", NB["04"], r"^FINE_TUNE_EPOCHS = None .*\(full: (\d+), as many as C\)"),
    Doc("04", "epochs", NB["04"], r"the Kaggle data and the lesson's (\d+) epochs at batch \d+"),
    Doc("04", "batch_size", NB["04"], r"the Kaggle data and the lesson's \d+ epochs at batch (\d+)"),
    Doc("04", "validation_split", NB["04"], r"a 70/(\d+) split$", parse=percent),
    Doc("04", "validation_split", NB["04"], r"`validation_split=([\d.]+)` keeps the first"),
    Doc("04", "validation_split", NB["04"], r"keeps the first (\d+)% of rows for validation", parse=percent),
    Doc("04", "image_size", NB["04"], r"On Kaggle's (\d+)x\d+ \*Aerial Cactus\* photos"),
    Doc("04", "image_size", NB["04"], r"Without the top, (\d+)x\d+ \(VGG19's smallest\)"),
    Doc("04", "batch_size", INSTRUCTORS, r"2,000-image runs at batch (\d+) and scaled"),
    Doc("04", "training images (1 - validation_split) x 17,500", INSTRUCTORS, r"scaled to the ([\d,]+) training images",
        derive=lambda s: round(17_500 * (1 - s.validation_split))),
    Doc("04", "epochs", INSTRUCTORS, r"B's (\d+) epochs on the features"),
    Doc("04", "epochs", INSTRUCTORS, r"then\s+(\d+) epochs each of C, head-first fine-tuning and D"),
    Doc("04", "fine_tune_learning_rate", INSTRUCTORS, r"recompiles at\s+([\d.e-]+); `drift`"),
    Doc("04", "fine_tune_epochs", INSTRUCTORS, r"Full profile: as many fine-tuning epochs as\s+C has \((\d+)\)"),
    Doc("04", "validation_split", REFERENCES, r"\(validation_split=([\d.]+)\)"),
    Doc("04", "training images (1 - validation_split) x 17,500", REFERENCES, r"\(([\d,]+) of 17,500 for training\)",
        derive=lambda s: round(17_500 * (1 - s.validation_split))),
    Doc("04", "epochs", REFERENCES, r"same data, split, model, optimiser and (\d+) epochs"),
    # --- 05: InceptionV3 cut at mixed7, augmentation, dropout -------------------------------------
    Doc("05", "epochs", NB["05"], r"^EPOCHS = None .*\(full: (\d+), the lesson's\)"),
    Doc("05", "steps_per_epoch", NB["05"], r"^STEPS_PER_EPOCH = None .*\(full: (\d+), i\.e\."),
    Doc("05", "steps_per_epoch x batch_size", NB["05"], r"^STEPS_PER_EPOCH = None .*i\.e\. ([\d,]+) images\)",
        derive=lambda s: s.steps_per_epoch * s.batch_size),
    Doc("05", "validation_steps", NB["05"], r"^VALIDATION_STEPS = None .*\(full: (\d+), i\.e\."),
    Doc("05", "validation_steps x batch_size", NB["05"], r"^VALIDATION_STEPS = None .*i\.e\. ([\d,]+) images\)",
        derive=lambda s: s.validation_steps * s.batch_size),
    Doc("05", "fine_tune_epochs", NB["05"], r"^FINE_TUNE_EPOCHS = None .*\(full: (\d+)\)"),
    Doc("05", "image_size", NB["05"], r"architecture at the lesson's (\d+)x\d+"),
    Doc("05", "cut_layer", NB["05"], r"^# ## 4\. Where to cut: `(\w+)`", parse=str),
    Doc("05", "dropout_rate", NB["05"], r"^# ## 9\. Add `Dropout\(([\d.]+)\)` and train again"),
    Doc("05", "fine_tune_after", NB["05"], r"\(`mixed6`, `mixed7`: the\n# layers after `(\w+)`\)", parse=str),
    Doc("05", "learning_rate / fine_tune_learning_rate", NB["05"], r"where the\n# learning rate drops (\w+)fold",
        derive=lambda s: round(s.learning_rate / s.fine_tune_learning_rate)),
    Doc("05", "fine_tune_learning_rate", INSTRUCTORS, r"start training at RMSprop ([\d.e-]+), \d+x below the"),
    Doc("05", "learning_rate", INSTRUCTORS, r"10x below the\s+head's ([\d.e-]+)\."),
    Doc("05", "fine_tune_epochs", INSTRUCTORS, r"Full profile: (\d+) epochs \(TensorFlow's tutorial uses 10;"),
    Doc("05", "epochs", INSTRUCTORS, r"a fifth of the head's (\d+)\)"),
    Doc("05", "steps_per_epoch", INSTRUCTORS, r"scales to (\d+) \+ \d+ steps"),
    Doc("05", "validation_steps", INSTRUCTORS, r"scales to \d+ \+ (\d+) steps"),
    Doc("05", "fine_tune_after", INSTRUCTORS, r"The layers after `(\w+)` up to `mixed7`", parse=str),
    Doc("05", "cut_layer", INSTRUCTORS, r"The layers after `mixed5` up to `(\w+)`", parse=str),
    Doc("05", "epochs", README, r"^\| 05 \| .*\| 2 x (\d+) epochs of \d+ augmented batches"),
    Doc("05", "steps_per_epoch", README, r"^\| 05 \| .*\| 2 x \d+ epochs of (\d+) augmented batches"),
    Doc("05", "learning_rate", REFERENCES, r"same data, model, RMSprop ([\d.e-]+) and"),
    Doc("05", "epochs", REFERENCES, r"RMSprop [\d.e-]+ and (\d+) x \d+-step schedule"),
    Doc("05", "steps_per_epoch", REFERENCES, r"RMSprop [\d.e-]+ and \d+ x (\d+)-step schedule"),
    Doc("05", "dropout_rate", REFERENCES, r"nothing: Dropout\(([\d.]+)\) is introduced as a remedy"),
    # --- 06: VGG16 to CIFAR-10, the lecture's recipe ------------------------------------------------
    Doc("06", "epochs", NB["06"], r"^EPOCHS = None .*\(full: (\d+), the lecture's\)"),
    Doc("06", "fine_tune_epochs", NB["06"], r"^FINE_TUNE_EPOCHS = None .*\(full: (\d+)\)"),
    Doc("06", "crop_epochs", NB["06"], r"^CROP_EPOCHS = None .*\(full: (\d+)\)"),
    Doc("06", "large_epochs", NB["06"], r"^LARGE_EPOCHS = None .*\(full: (\d+)\)"),
    Doc("06", "batch_size", NB["06"], r"^BATCH_SIZE = None +# full: (\d+), the lecture's"),
    Doc("06", "large_size", NB["06"], r"^LARGE_SIZE = None .*\(full: (\d+)\)"),
    Doc("06", "learning_rate", NB["06"], r"^LEARNING_RATE = None .*\(full: ([\d.]+), the lecture's\)"),
    Doc("06", "fine_tune_learning_rate", NB["06"], r"^FINE_TUNE_LEARNING_RATE = None .*\(full: ([\d.]+), a tenth\)"),
    Doc("06", "learning_rate / fine_tune_learning_rate", NB["06"], r"^FINE_TUNE_LEARNING_RATE = None .*a (tenth)\)",
        parse=lambda text: {"tenth": 10}[text], derive=lambda s: round(s.learning_rate / s.fine_tune_learning_rate)),
    Doc("06", "crop_size", NB["06"], r"^CROP_EPOCHS = None .*the lecture's (\d+)x\d+-crop run"),
    Doc("06", "large_size", NB["06"], r"^LARGE_EPOCHS = None .*the (\d+)x\d+ run"),
    Doc("06", "small_size", NB["06"], r"^EPOCHS = None .*the (\d+)x\d+ run"),
    Doc("06", "epochs", NB["06"], r"ImageNet weights and the lecture's (\d+) epochs per run"),
    Doc("06", "crop_epochs", NB["06"], r"ImageNet weights and the lecture's (\d+) epochs per run"),
    Doc("06", "large_epochs", NB["06"], r"ImageNet weights and the lecture's (\d+) epochs per run"),
    Doc("06", "fine_tune_epochs", NB["06"], r"the lecture's \d+ epochs per run \(then (\d+) of\n# fine-tuning\)"),
    Doc("06", "small_size", NB["06"], r"^# CIFAR-10 \((\d+)x\d+ colour images, \d+ classes\)"),
    Doc("06", "num_classes", NB["06"], r"^# CIFAR-10 \(\d+x\d+ colour images, (\d+) classes\)"),
    Doc("06", "validation_fraction", NB["06"], r"the last (\d+)% of the\n# training images are held out", parse=percent),
    Doc("06", "learning_rate", NB["06"], r"\(not the\n# talk\): SGD \(learning rate ([\d.]+),\n# momentum"),
    Doc("06", "momentum", NB["06"], r"\(not the\n# talk\): SGD \(learning rate [\d.]+,\n# momentum ([\d.]+)\)"),
    Doc("06", "plateau_factor", NB["06"], r"`ReduceLROnPlateau\(factor=([\d.]+), mode=\"max\"\)`"),
    Doc("06", "plateau_patience", NB["06"], r"^# accuracy \(patience (\d+)\), batch \d+, \d+ epochs"),
    Doc("06", "batch_size", NB["06"], r"^# accuracy \(patience \d+\), batch (\d+), \d+ epochs"),
    Doc("06", "epochs", NB["06"], r"^# accuracy \(patience \d+\), batch \d+, (\d+) epochs"),
    Doc("06", "crop_resize", NB["06"], r"resized the images to (\d+)x\d+ and trained on \*\*random\*\*"),
    Doc("06", "crop_size", NB["06"], r"^# (\d+)x\d+ crops \(testing on the central crop\)"),
    Doc("06", "large_size", NB["06"], r"^# ## 12\. Upsampled to (\d+)x\d+"),
    Doc("06", "batch_size", INSTRUCTORS, r"one training step of (\d+) images at\s+\d+x\d+ took"),
    Doc("06", "fine_tune_epochs", INSTRUCTORS, r"per fine-tuning epoch, 2 hours for the (\d+)\."),
    Doc("06", "crop_epochs", INSTRUCTORS, r"The crop run's (\d+) epochs run the"),
    Doc("06", "epochs", INSTRUCTORS, r"the output layer alone for the lecture's\s+(\d+) epochs, then"),
    Doc("06", "fine_tune_epochs", INSTRUCTORS, r"learning rate for (\d+) epochs, and records"),
    Doc("06", "crop_resize", INSTRUCTORS, r"The small one's code resized to (\d+)x\d+ and took a random"),
    Doc("06", "crop_size", INSTRUCTORS, r"and took a random (\d+)x\d+\s+crop per training image"),
    Doc("06", "plateau_patience", INSTRUCTORS, r"\(its patience is (\d+), as long as the phase\)"),
    Doc("06", "1 - validation_fraction of 50,000 training images", INSTRUCTORS,
        r"4\.5 GB for ([\d,]+) training images", derive=lambda s: round(50_000 * (1 - s.validation_fraction))),
    Doc("06", "epochs", REFERENCES,
        r"the same trained layer \(the output layer alone\), optimiser, schedule, batch and (\d+) epochs"),
    Doc("06", "small_size", REFERENCES, r"but (\d+)x\d+ images, not the lecture's random"),
    Doc("06", "crop_resize", REFERENCES, r"the same recipe \((\d+) -> random \d+x\d+ crop"),
    Doc("06", "crop_size", REFERENCES, r"the same recipe \(\d+ -> random (\d+)x\d+ crop"),
    Doc("06", "crop_epochs", REFERENCES, r"output layer alone\), optimiser, schedule, batch and (\d+) epochs, on images"),
    Doc("06", "large_epochs", REFERENCES, r"optimiser, schedule and (\d+) \"\s*\"epochs \(default parameters, LARGE_TRAIN"),
)

# The course brief (LESSONS.md, outside the repository): the lesson's own settings, as given to the authors.
BRIEF_DOCS: tuple[Doc, ...] = (
    Doc("02", "epochs", "LESSONS.md", r"fit (\d+)\s+epochs, `verbose=2`"),
    Doc("02", "image_size", "LESSONS.md", r"tf\.random\.normal\(\(5, (\d+), \d+, 3\)\)"),
    Doc("02", "num_examples", "LESSONS.md", r"tf\.random\.normal\(\((\d+), \d+, \d+, 3\)\)"),
    Doc("03", "batch_size", "LESSONS.md", r"The lesson used B = (\d+)"),
    Doc("03", "epochs", "LESSONS.md", r"accuracy; (\d+) epochs\.\n- Experiment 2"),
    Doc("04", "validation_split", "LESSONS.md", r"70/(\d+)\s+training/validation split", parse=percent),
    Doc("04", "batch_size", "LESSONS.md", r"split, batch (\d+), target"),
    Doc("04", "image_size", "LESSONS.md", r"batch \d+, target (\d+)x\d+"),
    Doc("04", "epochs", "LESSONS.md", r"Adam, categorical cross-entropy, (\d+) epochs"),
    Doc("05", "image_size", "LESSONS.md", r"binary labels, (\d+)x\d+\."),
    Doc("05", "cut_layer", "LESSONS.md", r"take `get_layer\('(\w+)'\)\.output`", parse=str),
    Doc("05", "learning_rate", "LESSONS.md", r"RMSprop with learning rate ([\d.e-]+),"),
    Doc("05", "batch_size", "LESSONS.md", r"horizontal flip;\s+batch (\d+)\."),
    Doc("05", "epochs", "LESSONS.md", r"The lesson trains (\d+) epochs x \d+ steps"),
    Doc("05", "steps_per_epoch", "LESSONS.md", r"The lesson trains \d+ epochs x (\d+) steps"),
    Doc("05", "validation_steps", "LESSONS.md", r"\(validation (\d+) steps\)"),
    Doc("05", "dropout_rate", "LESSONS.md", r"Then add `Dropout\(([\d.]+)\)` after the Dense\(1024\)"),
    Doc("06", "num_classes", "LESSONS.md", r"CIFAR-10 \(50k/10k, 32x32 colour, (\d+) classes\)"),
    Doc("06", "small_size", "LESSONS.md", r"CIFAR-10 \(50k/10k, (\d+)x\d+ colour"),
    Doc("06", "learning_rate", "LESSONS.md", r"\(in\s+PyTorch, SGD ([\d.]+) with a plateau scheduler"),
    Doc("06", "batch_size", "LESSONS.md", r"with a plateau scheduler, batch (\d+), \d+ epochs\)"),
    Doc("06", "epochs", "LESSONS.md", r"with a plateau scheduler, batch \d+, (\d+) epochs\)"),
    Doc("06", "large_size", "LESSONS.md", r"and [\d.]+% at (\d+)x\d+; the larger"),
    Doc("06", "crop_resize", "LESSONS.md", r"small run\s+resized to (\d+) and cropped"),
    Doc("06", "crop_size", "LESSONS.md", r"resized to \d+ and cropped (\d+)x\d+"),
)

# Full-profile settings no pin covers, and why. A new setting must be pinned or listed here.
NOT_PINNED: dict[str, dict[str, str]] = {
    "01": {
        "train_limit": "None: no limit, nothing to document",
    },
    "02": {},
    "03": {
        "fine_tune_batch_size": "32 is written only in profiles.py's own comment: no learner- or "
        "instructor-facing text states it (a gap to close in the docs, then pin it here)",
        "flowers_dir": "None: the learner's own folder, nothing to document",
        "num_images": "None: all of tf_flowers, nothing to document",
    },
    "04": {
        "cactus_dir": "None: the learner's own copy, nothing to document",
        "num_images": "None: all 17,500 images, nothing to document",
    },
    "05": {
        "weights_file": "None: the learner's own copy, nothing to document",
        "cats_dogs": "None: the learner's own copy, nothing to document",
        "num_images": "None: the whole archive, nothing to document",
    },
    "06": {
        "train_size": "None: all 50,000 training images, nothing to document",
        "test_size": "None: all 10,000 test images, nothing to document",
        "crop_train_limit": "None: no limit, nothing to document",
        "crop_test_limit": "None: no limit, nothing to document",
        "large_train_limit": "None: no limit (the parameters cell says so: 'None: all')",
        "large_test_limit": "None: no limit, nothing to document",
        "timing_steps": "how many steps the frozen / unfrozen timing measures: the texts say 'a few "
        "steps', no number",
    },
}
# Full-profile settings that no text in the repository states, only the course brief: pinned
# against the brief (when it is there), and a gap in the course's own documents to close.
BRIEF_ONLY: dict[str, dict[str, str]] = {}
# In every lesson: bookkeeping, not settings a learner reads about.
NOT_PINNED_ANYWHERE = {
    "title": "the lesson's title (test_profiles checks the banner)",
    "data": "the sentence the banner prints: it is the documentation, not a documented value",
    "weights": "the sentence the banner prints: it is the documentation, not a documented value",
    "seed": "0 in both profiles; test_reproducibility holds what the seed must do",
    "deterministic": "not a lesson setting: the quick profile's deterministic kernels",
    "source": "not a lesson setting: SOURCE_FOR_PROFILE gives it ('real' in full), pinned in test_profiles",
    "lesson": "bookkeeping",
    "profile": "bookkeeping",
}


def full(lesson: str) -> profiles.Settings:
    return profiles.lesson_settings(lesson, "full")


def documented_value(doc: Doc, path: Path) -> tuple[Any, str]:
    """``(value, the text it was read from)``; fails naming the document if the text is gone."""
    text = path.read_text(encoding="utf-8")
    match = re.search(doc.pattern, text, re.MULTILINE)
    if match is None:
        pytest.fail(f"{doc.path} no longer states lesson {doc.lesson}'s full-profile {doc.setting} "
                    f"(pattern {doc.pattern!r} found nothing): update the text or this pin")
    return doc.parse(match.group(1)), " ".join(match.group(0).split())


def check(doc: Doc, path: Path) -> None:
    documented, quote = documented_value(doc, path)
    settings = full(doc.lesson)
    actual = doc.derive(settings) if doc.derive else settings[doc.setting]
    if isinstance(actual, tuple):
        actual = list(actual)
    if isinstance(actual, float) or isinstance(documented, float):
        same = actual == pytest.approx(documented, rel=1e-9)
    else:
        same = actual == documented
    assert same, (
        f"lesson {doc.lesson}, full profile: {doc.setting} is {actual!r} in course_utils/setup/profiles.py "
        f"(LESSONS[{doc.lesson!r}]), but {doc.path} documents {documented!r}: \"{quote}\". "
        "Change the setting back, or change the document and this pin together."
    )


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.id)
def test_full_setting_matches_the_text_that_documents_it(doc):
    check(doc, ROOT / doc.path)


@pytest.mark.parametrize("doc", BRIEF_DOCS, ids=lambda d: d.id)
def test_full_setting_matches_the_course_brief(doc):
    if not BRIEF.is_file():
        pytest.skip(f"the course brief {BRIEF} is not beside this clone (it is in the course's workspace "
                    "and CI); the in-repo documents are checked by the test above")
    check(doc, BRIEF)


def test_every_full_setting_is_pinned_or_says_why_not():
    for lesson in LESSONS:
        keys = set(full(lesson))
        in_repo = set().union(*(d.covers() for d in DOCS if d.lesson == lesson))
        in_brief = set().union(*(d.covers() for d in BRIEF_DOCS if d.lesson == lesson))
        brief_only = set(BRIEF_ONLY.get(lesson, {}))
        assert brief_only <= in_brief, f"lesson {lesson}: {sorted(brief_only - in_brief)} have no pin in BRIEF_DOCS"
        excused = set(NOT_PINNED[lesson]) | brief_only
        unexplained = sorted(keys - in_repo - excused - set(NOT_PINNED_ANYWHERE))
        assert not unexplained, (
            f"lesson {lesson}: full-profile setting(s) {unexplained} are held against no document in the "
            "repository and not listed in NOT_PINNED: pin each against the text that documents it"
        )
        stale = sorted((in_repo | in_brief | excused) - keys)
        assert not stale, f"lesson {lesson}: pins or excuses name settings the profile no longer has: {stale}"
        both = sorted(in_repo & excused)
        assert not both, f"lesson {lesson}: {both} are pinned in the repository and excused in NOT_PINNED at once"


def test_every_derived_pin_names_the_settings_it_reads():
    for doc in DOCS + BRIEF_DOCS:
        assert doc.covers(), f"{doc.id}: its label {doc.setting!r} names no setting of lesson {doc.lesson}"


def _changed(value):
    if isinstance(value, bool) or value is None:
        raise AssertionError(f"no changed value for {value!r}")
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 3
    if isinstance(value, str):
        return value + "_changed"
    return list(reversed(value))


@pytest.mark.parametrize("lesson", LESSONS)
def test_changing_any_pinned_setting_fails_an_in_repo_pin(lesson, monkeypatch):
    """Every setting the in-repo pins cover, changed on its own, fails at least one of them."""
    spec = profiles.LESSONS[lesson]
    before = copy.deepcopy(spec)
    covered = sorted(set().union(*(d.covers() for d in DOCS if d.lesson == lesson)))
    assert covered
    for key in covered:
        where = spec["full"] if key in spec["full"] else spec["common"]
        caught = []
        with monkeypatch.context() as patch:
            patch.setitem(where, key, _changed(where[key]))
            for doc in (d for d in DOCS if d.lesson == lesson and key in d.covers()):
                try:
                    check(doc, ROOT / doc.path)
                except AssertionError:
                    caught.append(doc.id)
        assert caught, f"lesson {lesson}: changing the full profile's {key} fails no pin"
    assert spec == before  # every change undone


def test_a_changed_setting_fails_naming_the_document_and_both_values(monkeypatch):
    """The check itself: lesson 03's batch 367 set to 32 (the bug issue 17 planted) fails loudly."""
    monkeypatch.setitem(profiles.LESSONS["03"]["full"], "batch_size", 32)
    doc = next(d for d in DOCS if d.lesson == "03" and d.setting == "batch_size" and d.path == NB["03"])
    with pytest.raises(AssertionError) as err:
        check(doc, ROOT / doc.path)
    message = str(err.value)
    assert "lesson 03, full profile: batch_size is 32 in course_utils/setup/profiles.py" in message
    assert "notebooks/03_tfhub_flowers.py documents 367" in message
    assert "BATCH_SIZE = None # full: 367, the lesson's" in message


def test_a_text_that_no_longer_states_the_value_fails_naming_the_document(tmp_path):
    doc = next(d for d in DOCS if d.lesson == "05" and d.setting == "epochs" and d.path == INSTRUCTORS)
    changed = tmp_path / "INSTRUCTORS.md"
    changed.write_text("(the paragraph was rewritten without the head's epochs)\n")
    with pytest.raises(pytest.fail.Exception, match=r"docs/INSTRUCTORS\.md no longer states lesson 05's full-profile epochs"):
        check(doc, changed)


def test_lesson_02_hub_handle_in_the_notebook_matches_its_texts_and_the_brief():
    """Lesson 02's TF Hub handle is a literal in its code (issue 23), the same in both profiles: held against
    the reference row learners see and, when it is there, the course brief."""
    source = (ROOT / NB["02"]).read_text(encoding="utf-8")
    (handle,) = re.findall(r'^url = "(https://tfhub\.dev/[^"]+)"$', source, re.M)
    assert 'hub.KerasLayer(url, ' in source and 'weights="imagenet",' in source
    references = (ROOT / REFERENCES).read_text(encoding="utf-8")
    stated = re.search(r"\(we use \"\s*\"(inception_v3/feature_vector/\d+)\)", references)
    assert stated and handle.endswith("imagenet/" + stated.group(1))
    if BRIEF.is_file():
        assert f"(e.g. `{handle}`" in BRIEF.read_text(encoding="utf-8")


def test_lesson_03_split_strings_and_handles_in_the_notebook_match_its_texts_and_the_brief():
    """Lesson 03's split strings and TF Hub handles are literals in its code (issue 23), the same in both profiles:
    held against the notebook's prose, docs/INSTRUCTORS.md and, when it is there, the course brief."""
    literals = lesson_03_literals()
    split = literals["split"]
    prose = re.search(r"TFDS \*split strings\* cut it: (\d+)% test, (\d+)% validation, (\d+)% train",
                      (ROOT / NB["03"]).read_text(encoding="utf-8"))
    assert prose and _splits_in_percent(split) == [int(v) for v in prose.groups()]
    sizes = re.search(r"The splits are ([\d,]+ / [\d,]+ / [\d,]+) images", (ROOT / INSTRUCTORS).read_text())
    assert sizes and _ints(sizes.group(1)) == _tfds_split_sizes()
    assert set(literals) >= {"mobilenet_url", "inception_url"}
    if BRIEF.is_file():
        brief = BRIEF.read_text(encoding="utf-8")
        assert f"`{[str(s) for s in split]}`" in brief.replace('"', "'")
        assert f"Experiment 1: `{literals['mobilenet_url']}`" in brief
        assert f"Experiment 2: `{literals['inception_url']}`" in brief
