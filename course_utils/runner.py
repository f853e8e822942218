"""Execute every course notebook and write the run report.

    python -m course_utils.runner                 # quick profile, all notebooks
    python -m course_utils.runner --profile full  # the real lessons
    python -m course_utils.runner --only 01 03    # some lessons

Executed notebooks go to ``build/executed/`` (also rendered to HTML), the
figures each notebook recorded to ``build/records/``, and the report to
``build/report.md`` and ``build/report.html``. A failing notebook is reported
with its failing cell; the runner goes on with the others and exits 1.
"""
from __future__ import annotations

import argparse
import base64
import html
import json
import os
import re
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from course_utils import report
from course_utils.env import project_root
from course_utils.profiles import PROFILES, resolve_profile

DEFAULT_TIMEOUTS = {"quick": 900, "full": 12 * 3600}


@dataclass
class NotebookRun:
    notebook: str
    lesson: str
    status: str = "not run"  # "ok", "failed", "timeout"
    seconds: float = 0.0
    error: str = ""
    failing_cell: int | None = None
    records: dict = field(default_factory=dict)


def lesson_id(path: Path) -> str:
    return path.name[:2]


def find_notebooks(folder: Path, only: list[str] | None = None) -> list[Path]:
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        wanted = {o.zfill(2) for o in only}
        found = [p for p in found if lesson_id(p) in wanted]
        missing = wanted - {lesson_id(p) for p in found}
        if missing:
            raise SystemExit(f"no notebook for lesson(s) {', '.join(sorted(missing))} in {folder}")
    return found


def kernel_environment(profile: str, records: Path) -> dict[str, str]:
    """What the runner puts in the environment the notebook kernels inherit."""
    return {
        "TF_USE_LEGACY_KERAS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "COURSE_PROFILE": profile,
        "COURSE_RECORDS_DIR": str(records),
        # inline plots embed PNGs in the executed notebook (Agg would embed nothing)
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }


def _first_error_line(exc: BaseException) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = str(getattr(exc, "evalue", exc)).strip().splitlines()
    return f"{ename}: {evalue[0] if evalue else ''}".strip()


class NotebookTimeout(Exception):
    """The whole notebook ran longer than its time limit."""


@contextmanager
def time_limit(seconds: int):
    """Raise :class:`NotebookTimeout` in this (main) thread after ``seconds``.

    Uses SIGALRM where it exists; elsewhere only the per-cell limit applies.
    """
    usable = hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    if not usable or not seconds:
        yield
        return

    def expire(signum, frame):
        raise NotebookTimeout(f"notebook exceeded its time limit of {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(int(seconds))
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


TF_LOG_LINE = re.compile(
    r"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\]|WARNING: All log messages before absl::InitializeLog)"
)


def strip_tensorflow_log_lines(path: Path) -> int:
    """Drop TensorFlow's C++ start-up log lines (CUDA stubs, oneDNN) from an executed notebook's stderr.

    They say nothing about the lesson; everything else on stderr (warnings,
    tracebacks) stays. Returns how many lines were removed.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    removed = 0
    for cell in nb.cells:
        kept_outputs = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                lines = out["text"].splitlines(keepends=True)
                kept = [line for line in lines if not TF_LOG_LINE.match(line)]
                removed += len(lines) - len(kept)
                if not kept:
                    continue
                out["text"] = "".join(kept)
            kept_outputs.append(out)
        if cell.cell_type == "code":
            cell.outputs = kept_outputs
    if removed:
        nbformat.write(nb, path)
    return removed


def run_notebook(path: Path, out_dir: Path, profile: str, timeout: int) -> NotebookRun:
    """Execute one notebook with papermill; ``timeout`` bounds the whole notebook (seconds)."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    run = NotebookRun(notebook=path.name, lesson=lesson_id(path))
    output = out_dir / path.name
    start = time.perf_counter()
    try:
        with time_limit(timeout):
            pm.execute_notebook(
                str(path),
                str(output),
                parameters={"PROFILE": profile},
                kernel_name="python3",
                cwd=str(path.parent),
                progress_bar=False,
                log_output=False,
                execution_timeout=timeout,
            )
        run.status = "ok"
    except NotebookTimeout as exc:
        run.status = "timeout"
        run.error = str(exc)
    except PapermillExecutionError as exc:
        run.status = "timeout" if "Timeout" in exc.ename else "failed"
        run.failing_cell = exc.exec_count
        run.error = _first_error_line(exc)
    except Exception as exc:  # kernel died, bad notebook JSON, a cell over the limit
        run.status = "timeout" if "Timeout" in type(exc).__name__ else "failed"
        run.error = _first_error_line(exc)
    run.seconds = time.perf_counter() - start
    return run


def render_markdown(runs: list[NotebookRun], profile: str, total: float) -> str:
    lines = [
        "# Run report",
        "",
        f"Profile: **{profile}**. Total wall time {total:.0f} s. "
        + ("Quick-profile figures come from offline stand-ins (generated data, random or locally "
           "built weights): they prove the code runs; they are not the lessons' results."
           if profile == "quick" else "Full profile: real data and pretrained weights."),
        "",
        "| Lesson | Notebook | Status | Profile | Data | Weights | Wall time |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        rec = run.records or {}
        status = run.status if run.status == "ok" else f"**{run.status.upper()}**"
        lines.append(
            f"| {run.lesson} | {run.notebook} | {status} | {rec.get('profile', profile)} | "
            f"{rec.get('data', '')} | {rec.get('weights', '')} | {run.seconds:.1f} s |"
        )
    for run in runs:
        rec = run.records or {}
        lines += ["", f"## Lesson {run.lesson}: {rec.get('title', run.notebook)}", ""]
        if run.status != "ok":
            cell = f" in cell [{run.failing_cell}]" if run.failing_cell is not None else ""
            lines += [f"**{run.status.upper()}**{cell}: `{run.error}`", ""]
        figures = rec.get("figures", [])
        compared = report.comparison(rec) if rec.get("lesson") else []
        if compared:
            lines += ["Ours beside the original lesson:", "",
                      "| " + " | ".join(compared[0]) + " |", "|---" * len(compared[0]) + "|"]
            lines += ["| " + " | ".join(row.values()) + " |" for row in compared]
            lines.append("")
        others = [fig for fig in figures if fig["name"] not in {row["figure"] for row in compared}]
        if others:
            lines += [f"| Other figure | Ours ({rec.get('profile', profile)}) |", "|---|---|"]
            for fig in others:
                ours = report.format_value(fig["name"], fig["value"], fig.get("unit", ""))
                note = f" ({fig['note']})" if fig.get("note") else ""
                lines.append(f"| {fig['name']} | {ours}{note} |")
        elif not figures and run.status == "ok":
            lines.append("No figures recorded.")
    return "\n".join(lines) + "\n"


def render_html(markdown_text: str, runs: list[NotebookRun], records_dir: Path) -> str:
    body = []
    for line in markdown_text.splitlines():
        body.append(html.escape(line))
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Run report</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
        "pre{white-space:pre-wrap}img{max-width:100%;border:1px solid #ccc}</style></head><body>",
        "<pre>" + "\n".join(body) + "</pre>",
    ]
    for run in runs:
        for name in (run.records or {}).get("plots", []):
            png = records_dir / name
            if png.exists():
                data = base64.b64encode(png.read_bytes()).decode("ascii")
                parts.append(f"<h3>Lesson {run.lesson}: {html.escape(name)}</h3>")
                parts.append(f"<img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def render_notebook_html(executed: Path) -> Path | None:
    try:
        import nbformat
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
        target = executed.with_suffix(".html")
        target.write_text(body, encoding="utf-8")
        return target
    except Exception as exc:  # rendering is a convenience; never fail the run for it
        print(f"    (could not render {executed.name} to HTML: {exc})")
        return None


def run_all(notebooks: list[Path], build: Path, profile: str, timeout: int) -> list[NotebookRun]:
    executed = build / "executed"
    records = build / "records"
    executed.mkdir(parents=True, exist_ok=True)
    records.mkdir(parents=True, exist_ok=True)
    kernel_env = kernel_environment(profile, records)
    saved = {key: os.environ.get(key) for key in kernel_env}
    os.environ.update(kernel_env)  # kernels inherit the runner's environment
    try:
        return _run_each(notebooks, executed, records, profile, timeout)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run_each(notebooks, executed, records, profile, timeout) -> list[NotebookRun]:
    runs = []
    for index, path in enumerate(notebooks, 1):
        for stale in records.glob(f"lesson_{lesson_id(path)}*"):
            stale.unlink()
        print(f"[{index}/{len(notebooks)}] {path.name} ({profile}) ...", flush=True)
        run = run_notebook(path, executed, profile, timeout)
        record_file = records / f"lesson_{run.lesson}.json"
        if record_file.exists():
            run.records = json.loads(record_file.read_text())
        if (executed / path.name).exists():
            strip_tensorflow_log_lines(executed / path.name)
            render_notebook_html(executed / path.name)
        where = f" in cell [{run.failing_cell}]" if run.failing_cell is not None else ""
        detail = "" if run.status == "ok" else f"{where}: {run.error}"
        print(f"    {run.status} in {run.seconds:.1f} s{detail}", flush=True)
        runs.append(run)
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default=None, help=f"one of {PROFILES} (default: $COURSE_PROFILE or quick)")
    parser.add_argument("--only", nargs="*", help="lesson numbers to run, e.g. 01 03")
    parser.add_argument("--notebooks", type=Path, default=project_root() / "notebooks")
    parser.add_argument("--build", type=Path, default=project_root() / "build")
    parser.add_argument("--timeout", type=int, default=None,
                        help="seconds one notebook may take (default: quick 900, full 43200)")
    args = parser.parse_args(argv)
    profile = resolve_profile(args.profile or os.environ.get("COURSE_PROFILE") or "quick")
    notebooks = find_notebooks(args.notebooks, args.only)
    if not notebooks:
        print(f"no notebooks found in {args.notebooks}", file=sys.stderr)
        return 1
    start = time.perf_counter()
    timeout = args.timeout or DEFAULT_TIMEOUTS[profile]
    runs = run_all(notebooks, args.build, profile, timeout)
    total = time.perf_counter() - start
    text = render_markdown(runs, profile, total)
    (args.build / "report.md").write_text(text)
    (args.build / "report.html").write_text(render_html(text, runs, args.build / "records"))
    (args.build / "runs.json").write_text(json.dumps([asdict(r) for r in runs], indent=2))
    failed = [r for r in runs if r.status != "ok"]
    print(f"\n{len(runs) - len(failed)} of {len(runs)} notebooks ran in {total:.0f} s; "
          f"report: {args.build / 'report.md'}")
    for run in failed:
        print(f"  {run.notebook}: {run.status} in cell [{run.failing_cell}]: {run.error}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
