"""Pretrained weights: one call, :func:`pretrained`, for every lesson.

The lessons keep Keras's own calls and pass what :func:`pretrained` returns, or write the one-liner
itself through :class:`applications`::

    VGG19(include_top=False, weights=weights.pretrained("vgg19_notop", cfg.source), ...)
    model.load_weights(weights.pretrained("inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
                                          cfg.source, local_copy=WEIGHTS_FILE))
    weights.applications(cfg.source).InceptionV3(include_top=True, weights="imagenet")

A weights file is named by its key (``"inception_v3_notop"``) or by its file name as Keras
Applications publishes it, so a lesson that loads "the file" can show that name as it runs.

* ``"real"``: Keras Applications' ImageNet file, checked against the MD5 Keras
  publishes, downloaded once into ``env.keras_home()/models`` (Keras's own
  ``weights="imagenet"`` would write to ``~/.keras/models`` whatever
  ``KERAS_HOME`` says), or the learner's ``local_copy``, checked and copied there.
* ``"stand-in"``: the quick profile's offline file in the same format
  (:mod:`course_utils.models.standins`) for a no-top base; for a model with its
  top, ``None``: Keras's random init.
* ``None``: ``None`` (Keras's random init).
"""
from __future__ import annotations

from pathlib import Path

from course_utils.data import downloads
from course_utils.errors import CourseError
from course_utils.messages import say
from course_utils.models import standins
from course_utils.setup import env, profiles

__all__ = ["WeightsError", "applications", "pretrained"]

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications"


class WeightsError(CourseError, ValueError):
    """An unknown weights name, or weights the course cannot use; the message says what to do."""


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


_IMAGENET_WEIGHTS: dict[str, downloads.Asset] = {
    "inception_v3": _asset("inception_v3", True, "9a0d58056eeedaa3f26cb7ebd46da564", "InceptionV3"),
    "inception_v3_notop": downloads.INCEPTION_V3_NOTOP,
    "vgg16": _asset("vgg16", True, "64373286793e3c8b2b4e3219cbf3544b", "VGG16"),
    "vgg16_notop": _asset("vgg16", False, "6d6bbae143d832006294945121d1f1fc", "VGG16"),
    "vgg19": _asset("vgg19", True, "cbe5617147190e668d6c5d5026f83318", "VGG19"),
    "vgg19_notop": _asset("vgg19", False, "253f8cb515780f3b799900260a226db6", "VGG19"),
}


def pretrained(name: str, source: str | None, *, local_copy: str | Path | None = None,
               progress: bool = True) -> str | None:
    """What to pass as ``weights=`` (or to ``load_weights``) for ``name`` and the profile's ``source``.

    ``name``: a key of :data:`_IMAGENET_WEIGHTS` (``"vgg19"``, ``"vgg19_notop"``, ...) or the
    file name of one (``"vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"``).
    Returns the path of a checked weights file, or ``None`` for Keras's random
    init (``source=None``, or ``"stand-in"`` for a model with its top).
    """
    name = next((key for key, asset in _IMAGENET_WEIGHTS.items() if name == asset.filename), name)
    if name not in _IMAGENET_WEIGHTS:
        raise WeightsError(f"no pretrained weights registered for {name!r}; known: {', '.join(_IMAGENET_WEIGHTS)}")
    if source is None:
        return None
    profiles.check_source(source, f"the {name} weights")
    if source == "real":
        asset = _IMAGENET_WEIGHTS[name]
        return str(downloads.fetch(asset, env.keras_home() / "models", local_copy=local_copy, progress=progress))
    if local_copy is not None:
        say(f"note: the quick profile uses stand-in weights; your copy {local_copy} is not used")
    if name not in standins.RECIPES:
        say(f"stand-in for the {name} weights: Keras's random init (weights=None)")
        return None
    return str(standins.stand_in_file(name))



_CONSTRUCTORS = {"InceptionV3": "inception_v3", "VGG16": "vgg16", "VGG19": "vgg19"}  # with a checked file


class applications:  # noqa: N801 - read as a module: weights.applications(cfg.source).InceptionV3(...)
    """``keras.applications`` in which ``weights="imagenet"`` means the profile's weights (:func:`pretrained`),
    so ``applications(cfg.source).InceptionV3(include_top=True, weights="imagenet")`` runs the one-liner as
    written; every other argument and ``weights`` value goes to Keras unchanged, and so do its modules."""

    def __init__(self, source: str | None):
        self.source = source if source is None else profiles.check_source(source, "the Keras Applications weights")

    def __getattr__(self, name: str):
        import keras as keras3

        keras = getattr(keras3.applications, name)
        if not name[:1].isupper():  # a module: inception_v3.preprocess_input ...
            return keras

        def build(*args, weights="imagenet", include_top=True, **kwargs):
            if isinstance(weights, str) and weights == "imagenet":
                if name not in _CONSTRUCTORS:
                    raise WeightsError(f"the course keeps no checked ImageNet file for {name}; known: "
                                       f"{', '.join(_CONSTRUCTORS)} (or pass weights=None, or a file's path)")
                weights = pretrained(_CONSTRUCTORS[name] + ("" if include_top else "_notop"), self.source)
            return keras(*args, weights=weights, include_top=include_top, **kwargs)

        return build
