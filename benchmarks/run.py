"""Benchmark: input pipeline, frozen backbones, and head training naive vs on cached features.

``make bench`` (or ``.venv/bin/python benchmarks/run.py``) prints, for the
machine it runs on, at the lessons' real image sizes (MobileNetV2 at 224,
InceptionV3 at 299, from ``keras.applications``):

* images/s of the input pipeline alone (JPEG decode + resize + scale);
* images/s of each frozen backbone (one warm ``predict`` pass over the data);
* per-epoch time of head training, naive (images through the frozen
  backbone every epoch) and on cached features;
* the whole cached run (``course_utils.features.cached_predict`` for the
  training and validation images, from a cold cache, + every epoch of the
  head) against ONE warm backbone pass over the same images, like with like:
  both are ``backbone.predict`` over the same decoded batches, after the same
  warm-up; each is measured twice (the cold cache emptied before each of
  its runs) and the faster run of each is compared;
* the ratios against the course's targets, met or missed each, with the
  load average before and after and the CPU count beside the table.

Offline and honest about what it is: ``weights=None`` (the compute is that of
the real weights; the random weights' BatchNorm statistics are calibrated on
a few generated images by ``course_utils.models.standins.calibrate_batchnorm``
so the features carry the images' signal), generated images with a learnable
signal (``course_utils.data.generated.make_images``, 5 classes, 240x320,
stored as JPEG like photo datasets). Accuracies show that the cached head
trains to the same model, not what the lessons reach.

Warm means: the backbone's ``predict`` has run once per batch size the runs
will see (its function is traced, and oneDNN has built its kernels for every
layer shape, which took InceptionV3 about 40 s extra the first time), and the
batches are decoded (each pipeline ``cache()``s its decoded images).

Options: ``--images N`` training images, ``--val N`` validation images,
``--epochs E``, ``--models``, ``--quick`` (a smoke run under a minute),
``--smoke`` (a tiny CNN, seconds: checks the machinery only), ``--strict``
(exit 1 when a target is missed).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import pipelines  # noqa: E402
from course_utils import features as feature_cache  # noqa: E402
from course_utils.data.generated import make_images  # noqa: E402
from course_utils.models.standins import calibrate_batchnorm  # noqa: E402
from course_utils.setup import env  # noqa: E402
from course_utils.show.timing import EpochTimer, Stopwatch  # noqa: E402

NUM_CLASSES = 5
RAW_SIZE = (240, 320)  # a typical photo of the flowers data set
TARGETS = {
    "epoch_speedup": 50.0,       # cached head epoch at least 50x faster than the naive epoch
    "accuracy_points": 1.0,      # validation accuracy equal within 1 point
    "run_vs_pass": 1.25,         # whole cached run within 1.25x one backbone pass
    "pipeline_vs_backbone": 3.0,  # input pipeline at least 3x the backbone's images/s
}


@dataclass
class BackboneSpec:
    name: str
    size: int
    build: object  # () -> keras.Model
    scale: float = 1.0 / 127.5
    offset: float = -1.0


def _app(name: str, size: int):
    def build():
        builder = getattr(keras.applications, name)
        return builder(include_top=False, weights=None, input_shape=(size, size, 3), pooling="avg")

    return build


def _tiny(size: int):
    def build():
        layers = keras.layers
        return keras.Sequential([
            keras.Input((size, size, 3)),
            layers.Conv2D(8, 3, strides=2, activation="relu"),
            layers.BatchNormalization(),
            layers.Conv2D(16, 3, strides=2, activation="relu"),
            layers.GlobalAveragePooling2D(),
        ], name="tiny_cnn")

    return build


SPECS = {
    "mobilenet_v2": BackboneSpec("MobileNetV2", 224, _app("MobileNetV2", 224)),
    "inception_v3": BackboneSpec("InceptionV3", 299, _app("InceptionV3", 299)),
    "tiny": BackboneSpec("tiny CNN (smoke)", 32, _tiny(32)),
}


@dataclass
class Result:
    spec: BackboneSpec
    pipeline_ips: float = 0.0
    pipeline_cached_ips: float = 0.0
    backbone_ips: float = 0.0
    one_pass_s: float = 0.0
    naive_epoch_s: float = 0.0
    naive_run_s: float = 0.0
    cached_epoch_s: float = 0.0
    features_s: float = 0.0
    cached_run_s: float = 0.0
    hit_s: float = 0.0
    naive_val_acc: float = 0.0
    cached_val_acc: float = 0.0
    weight_gap: float = 0.0
    weight_moved: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def epoch_speedup(self) -> float:
        return self.naive_epoch_s / max(self.cached_epoch_s, 1e-9)

    @property
    def run_vs_pass(self) -> float:
        return self.cached_run_s / max(self.one_pass_s, 1e-9)

    @property
    def pipeline_vs_backbone(self) -> float:
        return self.pipeline_ips / max(self.backbone_ips, 1e-9)

    @property
    def accuracy_points(self) -> float:
        return abs(self.naive_val_acc - self.cached_val_acc) * 100


def load_line() -> str:
    """The load average now, e.g. ``load average 0.4 / 0.6 / 0.9 (1 / 5 / 15 min)``."""
    try:
        return "load average {:.1f} / {:.1f} / {:.1f} (1 / 5 / 15 min)".format(*os.getloadavg())
    except OSError:
        return "load average unknown"


def machine_line() -> str:
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, {load_line()}; "
            f"Python {platform.python_version()}, TensorFlow {tf.__version__} "
            f"(Keras {keras.__version__}); {env.describe_device()}")


def raw_data(num_train: int, num_val: int, raw_size, seed: int = 0):
    """Generated images as JPEG bytes (train, validation) datasets of ``(jpeg, label)``."""
    images, labels = make_images(num_train + num_val, raw_size, NUM_CLASSES, seed=seed)
    jpegs = pipelines.encode_jpeg(images)
    labels = labels.astype("int64")
    train = tf.data.Dataset.from_tensor_slices((jpegs[:num_train], labels[:num_train]))
    valid = tf.data.Dataset.from_tensor_slices((jpegs[num_train:], labels[num_train:]))
    return train, valid


def pipeline_rate(raw: tf.data.Dataset, preprocess, batch_size: int) -> tuple[float, float]:
    """Images/s of decode + resize + scale (first epoch), and of an epoch from ``cache()``."""
    uncached = raw.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    pipelines.measure_throughput(uncached.take(1))  # trace the map function once
    count, seconds = pipelines.measure_throughput(uncached)
    cached = raw.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE).cache().batch(batch_size).prefetch(tf.data.AUTOTUNE)
    pipelines.measure_throughput(cached)
    count_c, seconds_c = pipelines.measure_throughput(cached)
    return count / seconds, count_c / seconds_c


def warm_up(backbone, batches: list[tf.data.Dataset]) -> None:
    """Decode ``batches`` into their caches, then run ``backbone.predict`` once per batch size they hold.

    The first run of a model in a process pays one-off costs (tracing ``predict``; oneDNN
    builds its kernels for every new layer shape). The warm-up batches have the same
    element spec as ``batches`` (batch size unknown), so the timed ``predict`` calls, the
    backbone pass and the feature cache's alike, reuse the same traced function.
    """
    sizes = set()
    for dataset in batches:
        sizes |= {int(images.shape[0]) for images, _ in dataset}  # fills the dataset's cache()
    images, labels = next(iter(batches[0]))
    for size in sorted(sizes, reverse=True):
        warm = tf.data.Dataset.from_tensor_slices((images[:size], labels[:size])).batch(size)
        backbone.predict(warm, verbose=0)


def one_backbone_pass(backbone, batches: list[tf.data.Dataset]) -> tuple[float, float]:
    """Seconds for one warm ``predict`` over every dataset in ``batches`` (decoded already), and images/s."""
    with Stopwatch() as clock:
        count = sum(len(backbone.predict(dataset, verbose=0)) for dataset in batches)
    return clock.seconds, count / clock.seconds


def make_head(feature_dim: int):
    """The head trained on top of the backbone: one Dense layer (no Dropout, so both runs draw the same)."""
    return keras.Sequential([keras.Input((feature_dim,)), keras.layers.Dense(NUM_CLASSES)], name="head")


def compile_model(model, learning_rate: float) -> None:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])


def bench_backbone(spec: BackboneSpec, train_raw, valid_raw, args, cache_root: Path) -> Result:
    result = Result(spec)
    preprocess = pipelines.decode_and_resize(spec.size, scale=spec.scale, offset=spec.offset)
    print(f"\n== {spec.name} at {spec.size}x{spec.size} ==", flush=True)

    result.pipeline_ips, result.pipeline_cached_ips = pipeline_rate(train_raw.concatenate(valid_raw), preprocess,
                                                                    args.batch_size)
    print(f"  input pipeline: {result.pipeline_ips:.0f} images/s (decode+resize), "
          f"{result.pipeline_cached_ips:.0f} images/s from cache()", flush=True)

    keras.backend.clear_session()
    env.set_seeds(args.seed)
    backbone = spec.build()
    calibration, _ = make_images(args.calibration, spec.size, NUM_CLASSES, seed=args.seed + 1)
    calibrate_batchnorm(backbone, calibration * spec.scale + spec.offset)
    backbone.trainable = False

    # The decoded batches, in order: the backbone pass and the feature cache both read these.
    train_batches = pipelines.image_pipeline(train_raw, batch_size=args.batch_size, preprocess=preprocess)
    valid_batches = pipelines.image_pipeline(valid_raw, batch_size=args.batch_size, preprocess=preprocess)
    warm_up(backbone, [train_batches, valid_batches])
    first_pass = one_backbone_pass(backbone, [train_batches, valid_batches])
    print(f"  one warm backbone pass over {args.images + args.val} images: {first_pass[0]:.1f} s "
          f"({first_pass[1]:.1f} images/s)", flush=True)

    # Cached: the features from a cold cache, right after the first warm pass. Measured like the
    # pass: twice (into an empty cache each time), the faster kept, so one stall of the machine
    # weighs on neither side alone.
    cold = []
    for _ in range(2):
        shutil.rmtree(cache_root, ignore_errors=True)
        with Stopwatch() as features_clock:
            train_f, train_y = feature_cache.cached_predict(backbone, train_batches, key=f"bench train {spec.size}",
                                                            folder=cache_root)
            valid_f, valid_y = feature_cache.cached_predict(backbone, valid_batches, key=f"bench valid {spec.size}",
                                                            folder=cache_root)
        cold.append(features_clock.seconds)
    result.features_s = min(cold)
    if max(cold) > 1.25 * result.features_s:
        result.notes.append(f"the two cold-cache runs took {cold[0]:.1f} s and {cold[1]:.1f} s: the faster one is used")
    # The pass again, right after: the faster of the two is the physical limit compared with.
    second_pass = one_backbone_pass(backbone, [train_batches, valid_batches])
    print(f"  one warm backbone pass again: {second_pass[0]:.1f} s ({second_pass[1]:.1f} images/s)", flush=True)
    result.one_pass_s, result.backbone_ips = min(first_pass, second_pass)
    if max(first_pass[0], second_pass[0]) > 1.25 * result.one_pass_s:
        result.notes.append(f"the two backbone passes took {first_pass[0]:.1f} s and {second_pass[0]:.1f} s: "
                            "the machine's load changed; the faster one is used")

    # Naive: images through the frozen backbone every epoch (a good pipeline: decoded once, cached).
    head = make_head(int(backbone.outputs[0].shape[-1]))
    initial = head.get_weights()
    model = keras.Sequential([backbone, head], name="naive")
    compile_model(model, args.learning_rate)
    train_images = pipelines.image_pipeline(train_raw, batch_size=args.batch_size, preprocess=preprocess,
                                            shuffle=True, seed=args.seed)
    timer = EpochTimer()
    with Stopwatch() as naive_clock:
        history = model.fit(train_images, validation_data=valid_batches, epochs=args.epochs,
                            callbacks=[timer], verbose=0)
    result.naive_run_s = naive_clock.seconds
    result.naive_epoch_s = timer.steady
    result.naive_val_acc = float(history.history["val_accuracy"][-1])
    naive_weights = head.get_weights()
    print(f"  naive: {args.epochs} epochs in {result.naive_run_s:.1f} s (steady epoch "
          f"{result.naive_epoch_s:.2f} s), val accuracy {result.naive_val_acc:.3f}", flush=True)

    # Then every epoch of the head on the features, in the naive run's order, from the same start.
    head.set_weights(initial)
    compile_model(head, args.learning_rate)
    train_features = pipelines.image_pipeline(tf.data.Dataset.from_tensor_slices((train_f, train_y)),
                                              batch_size=args.batch_size, shuffle=True, seed=args.seed)
    timer = EpochTimer()
    with Stopwatch() as head_clock:
        history = head.fit(train_features, validation_data=(valid_f, valid_y), validation_batch_size=args.batch_size,
                           epochs=args.epochs, callbacks=[timer], verbose=0)
    result.cached_epoch_s = timer.steady
    result.cached_run_s = result.features_s + head_clock.seconds
    result.cached_val_acc = float(history.history["val_accuracy"][-1])
    result.weight_moved = max(float(np.max(np.abs(a - b))) for a, b in zip(initial, head.get_weights()))
    result.weight_gap = max(float(np.max(np.abs(a - b))) for a, b in zip(naive_weights, head.get_weights()))
    print(f"  cached: features {result.features_s:.1f} s + {args.epochs} epochs {head_clock.seconds:.2f} s "
          f"(steady epoch {result.cached_epoch_s * 1000:.1f} ms), val accuracy {result.cached_val_acc:.3f}",
          flush=True)

    # The full model (backbone + the head trained on features) on images: same accuracy.
    full_acc = model.evaluate(valid_batches, verbose=0)[1]
    if abs(full_acc - result.cached_val_acc) > 1e-6:
        result.notes.append(f"assembled model on images: {full_acc:.3f} vs {result.cached_val_acc:.3f} on features")

    said = io.StringIO()
    with Stopwatch() as hit_clock, contextlib.redirect_stdout(said):
        feature_cache.cached_predict(backbone, train_batches, key=f"bench train {spec.size}", folder=cache_root)
    result.hit_s = hit_clock.seconds
    if not said.getvalue().startswith("[course] feature cache: read"):
        result.notes.append("second lookup was not a cache hit")
    print(f"  cache hit for the training features: {result.hit_s:.2f} s", flush=True)
    return result


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def format_tables(results: list[Result], args) -> tuple[str, bool]:
    lines = [f"{os.cpu_count()} CPUs; before the run: {getattr(args, 'load_before', load_line())}; "
             f"after it: {getattr(args, 'load_after', load_line())}", ""]
    lines.append("| backbone | image size | input pipeline img/s | backbone img/s | naive epoch (s) "
                 "| cached epoch (s) | one backbone pass (s) | cached run: features + epochs (s) "
                 "| naive run (s) | cache hit (s) | val acc naive / cached |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        lines.append(
            f"| {r.spec.name} | {r.spec.size} | {r.pipeline_ips:.0f} | {r.backbone_ips:.1f} "
            f"| {r.naive_epoch_s:.2f} | {r.cached_epoch_s:.4f} | {r.one_pass_s:.1f} "
            f"| {r.features_s:.1f} + {r.cached_run_s - r.features_s:.2f} = {r.cached_run_s:.1f} "
            f"| {r.naive_run_s:.1f} | {r.hit_s:.2f} | {r.naive_val_acc:.3f} / {r.cached_val_acc:.3f} |"
        )
    lines.append("")
    names = " | ".join(r.spec.name for r in results)
    lines.append(f"| target | {names} |")
    lines.append("|---|" + "---|" * len(results))
    all_ok = True
    rows = [
        (f"cached head epoch >= {TARGETS['epoch_speedup']:.0f}x faster than naive",
         lambda r: (f"{r.epoch_speedup:.0f}x", r.epoch_speedup >= TARGETS["epoch_speedup"])),
        (f"validation accuracy equal within {TARGETS['accuracy_points']:.0f} point",
         lambda r: (f"{r.accuracy_points:.1f} points", r.accuracy_points <= TARGETS["accuracy_points"])),
        (f"whole cached run <= {TARGETS['run_vs_pass']}x one backbone pass",
         lambda r: (f"{r.run_vs_pass:.2f}x", r.run_vs_pass <= TARGETS["run_vs_pass"])),
        (f"input pipeline >= {TARGETS['pipeline_vs_backbone']:.0f}x backbone images/s",
         lambda r: (f"{r.pipeline_vs_backbone:.1f}x", r.pipeline_vs_backbone >= TARGETS["pipeline_vs_backbone"])),
    ]
    for label, judge in rows:
        cells = []
        for r in results:
            text, ok = judge(r)
            all_ok &= ok
            cells.append(f"{text} {verdict(ok)}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines), all_ok


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=None, help="training images (default 320; quick 16)")
    parser.add_argument("--val", type=int, default=None,
                        help="validation images (default 100, so one image is one point; else images / 4)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of head training (default 3)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 32 (quick 8, smoke 16)")
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--calibration", type=int, default=None,
                        help="images for the BatchNorm calibration (default 32; quick 8)")
    parser.add_argument("--models", default=None,
                        help="comma-separated: mobilenet_v2, inception_v3, tiny (default: the first two)")
    parser.add_argument("--quick", action="store_true", help="a smoke run at full image size, under a minute")
    parser.add_argument("--smoke", action="store_true", help="a tiny CNN at 32 px: checks the machinery, seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when a target is missed")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="scratch folder for the feature cache (default <data dir>/bench)")
    args = parser.parse_args(argv)
    if args.smoke:
        defaults = {"images": 64, "epochs": 2, "calibration": 8, "batch_size": 16, "models": "tiny"}
    elif args.quick:
        defaults = {"images": 16, "val": 8, "batch_size": 8, "epochs": 2, "calibration": 8,
                    "models": "mobilenet_v2,inception_v3"}
    else:
        defaults = {"images": 320, "val": 100, "epochs": 3, "calibration": 32,
                    "models": "mobilenet_v2,inception_v3"}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.batch_size is None:
        args.batch_size = 32
    if args.val is None:
        args.val = max(args.images // 4, 8)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch includes tracing)")
    args.mode = "smoke" if args.smoke else "quick" if args.quick else "default"
    args.model_keys = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in args.model_keys if m not in SPECS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}: choose from {sorted(SPECS)}")
    return args


def run(args) -> list[Result]:
    """Generate the data and benchmark every backbone in ``args.model_keys``."""
    workdir = args.workdir or env.data_dir() / "bench"
    cache_root = workdir / "features"
    shutil.rmtree(cache_root, ignore_errors=True)
    raw_size = (40, 40) if args.smoke else RAW_SIZE
    args.load_before = load_line()
    print("Machine:", machine_line(), flush=True)
    print(f"Run: {args.mode}; {args.images} training + {args.val} validation generated images "
          f"({NUM_CLASSES} classes, {raw_size[0]}x{raw_size[1]} JPEG), batch {args.batch_size}, "
          f"{args.epochs} epochs, Adam {args.learning_rate}; weights=None with calibrated BatchNorm", flush=True)
    try:
        with Stopwatch() as gen:
            train_raw, valid_raw = raw_data(args.images, args.val, raw_size, seed=args.seed)
        print(f"generated the images in {gen.seconds:.1f} s", flush=True)
        return [bench_backbone(SPECS[key], train_raw, valid_raw, args, cache_root) for key in args.model_keys]
    finally:
        shutil.rmtree(cache_root, ignore_errors=True)
        args.load_after = load_line()
        print(f"\nafter the run: {args.load_after}", flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    with Stopwatch() as total:
        results = run(args)
    table, all_ok = format_tables(results, args)
    print("\n" + table)
    for r in results:
        print(f"{r.spec.name}: the trained head's weights differ by at most {r.weight_gap:.1e} "
              f"between the naive and the cached run (training moved them by up to {r.weight_moved:.2f})")
        for note in r.notes:
            print(f"note ({r.spec.name}): {note}")
    if args.mode != "default":
        print(f"\n({args.mode} run: sizes too small for the targets to mean much; run without options "
              "for the real table)")
    print(f"\nbenchmark wall time {total.seconds:.0f} s; "
          + ("every target met" if all_ok else "some targets MISSED"))
    return 1 if (args.strict and not all_ok) else 0


if __name__ == "__main__":
    sys.exit(main())
