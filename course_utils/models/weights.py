"""Keras Applications' ImageNet weight files, fetched into the project and verified.

``tf.keras.applications.X(weights="imagenet")`` downloads its file into
``~/.keras/models`` whatever ``KERAS_HOME`` says (tf_keras reads that
variable only for ``keras.json``), and learners then find gigabytes outside
the course folder. :func:`resolve` keeps the lesson's own call and only
changes where the file comes from::

    InceptionV3(include_top=True, weights=weights.resolve("inception_v3", cfg.app_weights, include_top=True))

``"imagenet"`` becomes the path of a verified copy in ``data/keras/models``
(downloaded once, or a copy Keras saved earlier in ``~/.keras/models``);
``None`` stays ``None`` (random init); a path is checked and passed through.
"""
from __future__ import annotations

from pathlib import Path

from course_utils.data import downloads
from course_utils.setup import env

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications"


def _asset(model: str, include_top: bool, md5: str, title: str) -> downloads.Asset:
    suffix = "" if include_top else "_notop"
    filename = f"{model}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
    return downloads.Asset(
        name=f"{title} ImageNet weights ({'with' if include_top else 'no'} top)",
        filename=filename,
        urls=(f"{_BASE}/{model}/{filename}",),
        md5=md5,
        provenance=f"MD5 published by Keras Applications (file_hash in tf_keras/src/applications/{model}.py)",
    )


IMAGENET_WEIGHTS: dict[tuple[str, bool], downloads.Asset] = {
    ("inception_v3", True): _asset("inception_v3", True, "9a0d58056eeedaa3f26cb7ebd46da564", "InceptionV3"),
    ("inception_v3", False): downloads.INCEPTION_V3_NOTOP,
    ("vgg16", True): _asset("vgg16", True, "64373286793e3c8b2b4e3219cbf3544b", "VGG16"),
    ("vgg16", False): _asset("vgg16", False, "6d6bbae143d832006294945121d1f1fc", "VGG16"),
    ("vgg19", True): _asset("vgg19", True, "cbe5617147190e668d6c5d5026f83318", "VGG19"),
    ("vgg19", False): _asset("vgg19", False, "253f8cb515780f3b799900260a226db6", "VGG19"),
}


class WeightsError(ValueError):
    """An unknown model, or a weights argument the course cannot use."""


def asset_for(model: str, include_top: bool) -> downloads.Asset:
    try:
        return IMAGENET_WEIGHTS[(model, bool(include_top))]
    except KeyError:
        known = sorted({name for name, _ in IMAGENET_WEIGHTS})
        raise WeightsError(f"no ImageNet weights registered for {model!r}; known: {', '.join(known)}") from None


def imagenet_weights_file(model: str, include_top: bool, folder: str | Path | None = None, **fetch_options) -> Path:
    """A verified local copy of ``model``'s ImageNet weights (downloaded once if needed)."""
    asset = asset_for(model, include_top)
    folder = Path(folder) if folder is not None else env.keras_home() / "models"
    legacy = Path.home() / ".keras" / "models" / asset.filename
    if legacy.is_file() and not (folder / asset.filename).exists():
        try:
            downloads.verify_file(legacy, asset)
            return legacy  # Keras downloaded it before the course existed: reuse, don't fetch again
        except downloads.VerificationError:
            pass
    return downloads.fetch(asset, folder, **fetch_options)


def resolve(model: str, weights: str | Path | None, *, include_top: bool, **fetch_options) -> str | None:
    """What to pass as ``weights=``: ``None``, or the path of a verified weights file."""
    if weights is None:
        return None
    if weights == "imagenet":
        return str(imagenet_weights_file(model, include_top, **fetch_options))
    path = Path(weights)
    if not path.is_file():
        raise WeightsError(f"no weights file at {path}: use 'imagenet', None (random init) or the path of a .h5 file")
    return str(path)
