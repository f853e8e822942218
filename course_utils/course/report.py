"""Record a notebook's key figures and plots for the run report.

A notebook calls :func:`record` for every figure the lesson is about, and
:func:`record_figure` for its key plot. Each call rewrites one JSON file per
lesson under the records folder (``$COURSE_RECORDS_DIR``, else ``build/records`` in the
checkout, or in the data folder of an installed package); the runner reads them to build the report.
The file is the record's only copy (a :class:`_LessonRecord` reads, changes and replaces it); what this
module keeps is which file the notebook's calls go to, the one ``start_lesson`` (:func:`begin`) started.
"""
from __future__ import annotations

import io
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from course_utils.course.references import QUICK_IS_NOT_LIKE_FOR_LIKE, REFERENCES, reference_for
from course_utils.setup import files
from course_utils.setup.env import checkout_root, data_dir

__all__ = ["begin", "comparison", "comparison_table", "record", "record_figure", "shown"]

_NO_LESSON = "no lesson started: run the notebook's setup cell (start_lesson) before record()"


def _records_dir() -> Path:
    path = Path(os.environ.get("COURSE_RECORDS_DIR") or (checkout_root() or data_dir()) / "build" / "records")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write(path: Path, state: dict[str, Any]) -> None:
    files.write_staged(path, json.dumps(state, indent=2, default=_jsonable))  # the runner never reads half a file


def _jsonable(value: Any) -> Any:  # tolist first: a NumPy array's .item() refuses more than one element
    return value.tolist() if hasattr(value, "tolist") else value.item() if hasattr(value, "item") else str(value)


class _LessonRecord:
    """One lesson's record file (``lesson_NN.json``): each change reads it, changes it and replaces it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def read(self) -> dict[str, Any]:
        if not self.path.is_file():
            raise RuntimeError(f"the lesson's record {self.path} is gone (removed since start_lesson): run the "
                               "notebook's setup cell (start_lesson) again")
        return json.loads(self.path.read_text())

    def change(self, edit: Callable[[dict[str, Any]], None]) -> None:
        state = self.read()
        edit(state)
        _write(self.path, state)


_begun: list[_LessonRecord] = []  # the record the notebook's record() calls go to: begin() sets it


def begin(lesson: str, meta: dict[str, Any]) -> _LessonRecord:
    """Start a fresh record for ``lesson`` (drops figures of any earlier run); the notebook's calls go to it."""
    record_file = _LessonRecord(_records_dir() / f"lesson_{lesson}.json")
    _write(record_file.path, {"lesson": lesson, "started": time.time(), **meta, "figures": [], "plots": []})
    _begun[:] = [record_file]
    return record_file


def _running() -> _LessonRecord:
    """The record :func:`begin` started last in this process, else ``RuntimeError`` saying to run ``start_lesson``."""
    if not _begun:
        raise RuntimeError(_NO_LESSON)
    return _begun[0]


def _current_lesson() -> str:
    return _running().read()["lesson"]


def record(name: str, value: Any, *, unit: str = "", note: str = "", reference: str | None = None) -> Any:
    """Record one key figure of the running lesson (again: replaces it); returns ``value`` unchanged.

    ``reference`` defaults to what the original lesson reported for ``name`` (:mod:`.references`).
    """
    lesson = _current_lesson()
    value = value.numpy() if hasattr(value, "numpy") else value
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"record({name!r}): value is {value}, not a finite number")
    entry = {"name": name, "value": value, "unit": unit, "note": note,
             "reference": reference if reference is not None else reference_for(lesson, name)}
    _running().change(lambda state: state.update(figures=[f for f in state["figures"] if f["name"] != name] + [entry]))
    return value


def record_figure(fig, name: str = "key_plot") -> Path:
    """Save ``fig`` as the lesson's PNG for the HTML report; returns the path."""
    record_file = _running()
    path = record_file.path.with_name(f"{record_file.path.stem}_{name}.png")
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=80, bbox_inches="tight")
    files.write_staged(path, png.getvalue())  # the runner never reads half a picture either
    record_file.change(lambda state: state["plots"].append(path.name) if path.name not in state["plots"] else None)
    return path


def shown(figure: dict[str, Any]) -> str:
    """A recorded figure (an entry of ``figures``) as a person reads it: accuracies in %, thousands
    separated, its unit and note kept."""
    name, value, unit = figure["name"], figure["value"], figure.get("unit", "")
    if isinstance(value, float) and "accuracy" in name and 0.0 <= value <= 1.0 and not unit:
        text = f"{value * 100:.1f}%"
    elif isinstance(value, float):
        text = f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    elif isinstance(value, int) and not isinstance(value, bool):
        text = f"{value:,}"
    else:
        text = str(value)
    return f"{text} {unit}".strip() + (f" ({figure['note']})" if figure.get("note") else "")


def comparison(records: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """One row per figure the original lesson reported: ours beside it, and whether that is like for like.

    ``records`` is a lesson's record (a ``lesson_NN.json`` the runner read), by default the running
    notebook's. Figures the lesson reported that this run did not record say so instead of disappearing.
    """
    records = records if records is not None else _running().read()
    lesson, profile = records["lesson"], records.get("profile", "")
    ours = {f["name"]: shown(f) for f in records.get("figures", [])}
    return [{"figure": name, f"ours ({profile} profile)": ours.get(name, "not recorded in this run"),
             "the original lesson": ref.reported,
             "like for like?": ref.like_for_like if profile == "full" else QUICK_IS_NOT_LIKE_FOR_LIKE}
            for name, ref in REFERENCES.get(lesson, {}).items()]


def comparison_table(records: dict[str, Any] | None = None):
    """:func:`comparison` as a pandas table, for the last cell of a notebook."""
    import pandas as pd

    table = pd.DataFrame(comparison(records)).set_index("figure")
    return table.style.set_properties(**{"text-align": "left", "white-space": "normal"})

