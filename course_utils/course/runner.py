"""Execute every course notebook and write the run report.

    python -m course_utils.course.runner                 # quick profile, all notebooks
    python -m course_utils.course.runner --profile full  # the real lessons
    python -m course_utils.course.runner --only 01 03    # some lessons
    python -m course_utils.course.runner --nbval         # validate with pytest --nbval-lax instead

The console shows one line per notebook (name, status, time) and, in a terminal, a progress bar over
its cells. What the kernel process itself writes (TensorFlow's C++ start-up lines, Jupyter's warnings)
goes to ``build/logs/<notebook>.log``. Executed notebooks go to ``build/executed/`` (also as HTML), the
figures each notebook recorded to ``build/records/``, the report to ``build/report.md`` and ``.html``.
A failing notebook is reported with its failing cell; the runner goes on with the others and exits 1.
"""
from __future__ import annotations

import argparse
import base64
import html
import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from course_utils.course import report
from course_utils.errors import CourseError
from course_utils.setup import files
from course_utils.setup.env import checkout_root, environment, offline_environment
from course_utils.setup.profiles import PROFILES, resolve_profile

__all__ = ["NotebookRun", "console_line", "find_notebooks", "main", "run_all", "run_notebook"]

_DEFAULT_TIMEOUTS = {"quick": 900, "full": 12 * 3600}
_LOGS = "logs"


@dataclass
class NotebookRun:
    notebook: str
    lesson: str
    status: str = "not run"  # "ok", "failed", "timeout"
    seconds: float = 0.0
    error: str = ""
    failing_cell: int | None = None
    records: dict = field(default_factory=dict)
    log: str = ""  # the kernel's own stdout/stderr (TensorFlow's C++ lines, Jupyter warnings)
    peak_memory_mb: float | None = None  # the kernel process's peak resident memory (Linux's VmHWM)


def _lesson_id(path: Path) -> str:
    return path.name[:2]


def find_notebooks(folder: Path, only: list[str] | None = None) -> list[Path]:
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        wanted = {o.zfill(2) for o in only}
        found = [p for p in found if _lesson_id(p) in wanted]
        missing = wanted - {_lesson_id(p) for p in found}
        if missing:
            raise SystemExit(f"no notebook for lesson(s) {', '.join(sorted(missing))} in {folder}")
    return found


def _kernel_environment(profile: str, records: Path) -> dict[str, str]:
    """What the runner (and nbval) put in the environment the notebook kernels inherit; in the quick
    profile the offline guard from the kernel's first line (:func:`~course_utils.setup.env.offline_environment`)."""
    return {"TF_CPP_MIN_LOG_LEVEL": "2", "COURSE_PROFILE": profile,
            "COURSE_RECORDS_DIR": str(records),  # inline plots embed PNGs in the executed notebook (Agg: none)
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            **(offline_environment() if profile == "quick" else {})}


def _first_error_line(exc: BaseException) -> str:
    evalue = str(getattr(exc, "evalue", exc)).strip().splitlines()
    return f"{getattr(exc, 'ename', type(exc).__name__)}: {evalue[0] if evalue else ''}".strip()


class _NotebookTimeout(CourseError):
    """The whole notebook ran longer than its time limit."""


@contextmanager
def _time_limit(seconds: int):
    """Raise :class:`_NotebookTimeout` in this (main) thread after ``seconds`` (SIGALRM; elsewhere only
    the per-cell limit applies)."""
    if not seconds or not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise _NotebookTimeout(f"notebook exceeded its time limit of {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(int(seconds))
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _peak_memory_mb(pid: int) -> float | None:
    """The peak resident memory of process ``pid`` so far, in MB (``VmHWM`` in ``/proc/<pid>/status``),
    or None where there is no such file (not Linux, or the process has ended)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")), None)


class _MemoryWatch:
    """Reads a process's peak memory every ``every`` seconds until it ends, and once more on :meth:`sample`
    (the kernel manager calls it just before shutting the kernel down); the peak only grows."""

    def __init__(self, pid: int, every: float = 0.5):
        self.pid, self.peak, self._stop = pid, None, threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(every,), daemon=True)
        self._thread.start()

    def sample(self) -> None:
        reading = _peak_memory_mb(self.pid)
        if reading is not None:
            self.peak = max(reading, self.peak or 0.0)

    def _watch(self, every: float) -> None:
        while not self._stop.is_set() and _peak_memory_mb(self.pid) is not None:
            self.sample()
            self._stop.wait(every)

    def stop(self) -> float | None:
        self._stop.set()
        self._thread.join()
        return self.peak


def _kernel_manager_logging_to(log: Path, watches: list[_MemoryWatch] | None = None):
    """A Jupyter kernel manager class whose kernels write what the process itself prints (TensorFlow's C++
    lines, "Kernel is running over TCP without encryption") to ``log``, not into the notebook
    (``capture_fd_output=False``); what a cell prints from Python still reaches the notebook. Each kernel's
    memory is watched (appended to ``watches``)."""
    from jupyter_client.manager import AsyncKernelManager

    class LoggedKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            with open(log, "ab") as sink:  # the kernel keeps its own copy of the file descriptor
                kw.update(stdout=sink, stderr=subprocess.STDOUT)
                await super()._async_launch_kernel([*kernel_cmd, "--IPKernelApp.capture_fd_output=False"], **kw)
            process = getattr(self.provisioner, "process", None)  # the local provisioner's Popen
            if watches is not None and process is not None:
                self.memory_watch = _MemoryWatch(process.pid)
                watches.append(self.memory_watch)

        async def shutdown_kernel(self, *args, **kwargs):
            watch = getattr(self, "memory_watch", None)
            if watch is not None:
                watch.sample()  # the last reading, while the kernel still runs: its peak
            return await super().shutdown_kernel(*args, **kwargs)

    return LoggedKernelManager


def run_notebook(path: Path, out_dir: Path, profile: str, timeout: int, *,
                 log: Path | None = None, progress: bool | None = None, kernel_name: str = "python3") -> NotebookRun:
    """Execute one notebook with papermill; ``timeout`` bounds the whole notebook (seconds).

    The kernel's own output goes to ``log`` (default ``<out_dir>/../logs/<name>.log``); ``progress``
    shows a per-cell bar (``None``: only on a terminal)."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    log = (log or out_dir.parent / _LOGS / f"{path.stem}.log").resolve()  # papermill changes directory
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(b"")
    run = NotebookRun(notebook=path.name, lesson=_lesson_id(path), log=str(log))
    bar = progress is not False and {"desc": path.name, "leave": False, "file": sys.stderr, "dynamic_ncols": True,
                                     "disable": None if progress is None else False}  # tqdm: None is "on a terminal"
    start, watches = time.perf_counter(), []
    try:
        with _time_limit(timeout):
            pm.execute_notebook(str(path), str(out_dir / path.name), parameters={"PROFILE": profile},
                                kernel_name=kernel_name, cwd=str(path.parent), log_output=False,
                                progress_bar=bar, execution_timeout=timeout,
                                kernel_manager_class=_kernel_manager_logging_to(log, watches))
        run.status = "ok"
    except PapermillExecutionError as exc:
        run.status, run.failing_cell = "timeout" if "Timeout" in exc.ename else "failed", exc.exec_count
        run.error = _first_error_line(exc)
    except Exception as exc:  # the notebook's time limit, the kernel died, bad notebook JSON, a cell over the limit
        run.status = "timeout" if "Timeout" in type(exc).__name__ else "failed"
        run.error = str(exc) if isinstance(exc, _NotebookTimeout) else _first_error_line(exc)
    run.seconds = time.perf_counter() - start
    peaks = [peak for peak in (watch.stop() for watch in watches) if peak is not None]
    run.peak_memory_mb = round(max(peaks), 1) if peaks else None
    return run


def _render_markdown(runs: list[NotebookRun], profile: str, total: float) -> str:
    lines = [
        "# Run report", "",
        f"Profile: **{profile}**. Total wall time {total:.0f} s. "
        + ("Quick-profile figures come from offline stand-ins (generated data, random or locally "
           "built weights): they prove the code runs; they are not the lessons' results."
           if profile == "quick" else "Full profile: real data and pretrained weights."), "",
        "| Lesson | Notebook | Status | Profile | Data | Weights | Wall time | Peak memory |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        rec = run.records or {}
        status = run.status if run.status == "ok" else f"**{run.status.upper()}**"
        lines.append(f"| {run.lesson} | {run.notebook} | {status} | {rec.get('profile', profile)} | "
                     f"{rec.get('data', '')} | {rec.get('weights', '')} | {run.seconds:.1f} s | "
                     + (f"{run.peak_memory_mb:.0f} MB |" if run.peak_memory_mb is not None else "n/a |"))
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
            lines += ["| " + " | ".join(row.values()) + " |" for row in compared] + [""]
        others = [fig for fig in figures if fig["name"] not in {row["figure"] for row in compared}]
        if others:
            lines += [f"| Other figure | Ours ({rec.get('profile', profile)}) |", "|---|---|"]
            lines += [f"| {fig['name']} | {report.shown(fig)} |" for fig in others]
        elif not figures and run.status == "ok":
            lines.append("No figures recorded.")
    return "\n".join(lines) + "\n"


_REPORT_CSS = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.92em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f2f2f2} tr:nth-child(even) td{background:#fafafa}
code{background:#f4f4f4;padding:0 .2em}
.lesson-body{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}
.lesson-text{flex:1 1 520px;min-width:0;overflow-x:auto}
.lesson-plots{flex:0 1 440px;margin:0}
.lesson-plots img{max-width:100%;border:1px solid #ccc}
.lesson-plots figcaption{font-size:.85em;color:#555}
"""


def _markdown_to_html(text: str) -> str:
    """Markdown (with pipe tables) to HTML through mistune, the renderer nbconvert already brings."""
    import mistune

    return mistune.create_markdown(escape=True, plugins=["table"])(text)


def _render_html(markdown_text: str, runs: list[NotebookRun], records_dir: Path) -> str:
    """The report as a page: :func:`_render_markdown`'s text as HTML, each lesson's plot beside its tables."""
    head, *sections = markdown_text.split("\n## Lesson ")  # render_markdown's one section per lesson
    records = {run.lesson: run.records or {} for run in runs}
    parts = ["<!doctype html>", "<html lang='en'><head><meta charset='utf-8'><title>Run report</title>",
             f"<style>{_REPORT_CSS}</style></head><body>", _markdown_to_html(head)]
    for section in sections:
        heading, _, body = section.partition("\n")
        lesson = heading.split(":")[0]
        pngs = [(name, records_dir / name) for name in records.get(lesson, {}).get("plots", [])]
        figures = "".join(f"<img alt='{html.escape(name)}' src='data:image/png;base64,"
                          f"{base64.b64encode(png.read_bytes()).decode('ascii')}'>"
                          f"<figcaption>{html.escape(name)}</figcaption>" for name, png in pngs if png.exists())
        parts += [f"<section class='lesson' id='lesson-{html.escape(lesson)}'>",
                  _markdown_to_html("## Lesson " + heading), "<div class='lesson-body'>",
                  f"<div class='lesson-text'>{_markdown_to_html(body)}</div>"]
        parts += [f"<figure class='lesson-plots'>{figures}</figure>"] if figures else []
        parts += ["</div>", "</section>"]
    return "\n".join([*parts, "</body></html>"])


def _render_notebook_html(executed: Path) -> None:
    try:
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_filename(str(executed))
        files.write_staged(executed.with_suffix(".html"), body)
    except Exception as exc:  # rendering is a convenience; never fail the run for it
        print(f"    (could not render {executed.name} to HTML: {exc})")


def run_all(notebooks: list[Path], build: Path, profile: str, timeout: int,
            progress: bool | None = None) -> list[NotebookRun]:
    """Run ``notebooks`` one after the other into ``build``; one console line each."""
    build = Path(build).resolve()  # the kernels run in the notebooks' folder: a relative path would land there
    executed, records = build / "executed", build / "records"
    for folder in (executed, records):
        folder.mkdir(parents=True, exist_ok=True)
    with environment(_kernel_environment(profile, records)):  # the kernels inherit it
        runs, width = [], max((len(p.name) for p in notebooks), default=32)
        print(f"{len(notebooks)} notebook(s), {profile} profile; kernel output in {_shown(build / _LOGS)}/", flush=True)
        for path in notebooks:
            for stale in records.glob(f"lesson_{_lesson_id(path)}*"):
                stale.unlink()
            run = run_notebook(path, executed, profile, timeout, progress=progress)
            record_file = records / f"lesson_{run.lesson}.json"
            run.records = json.loads(record_file.read_text()) if record_file.exists() else {}
            if (executed / path.name).exists():
                _render_notebook_html(executed / path.name)
            print(console_line(run, width), flush=True)
            runs.append(run)
        return runs


def _shown(path: Path) -> str:
    try:  # relative to the working directory when inside it: shorter console lines
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def console_line(run: NotebookRun, width: int = 32) -> str:
    """The one line the console shows for a finished notebook: name, status, time (and where to look)."""
    line = f"{run.notebook:<{width}} {run.status if run.status == 'ok' else run.status.upper():<8} {run.seconds:7.1f} s"
    if run.peak_memory_mb is not None:
        line += f" {run.peak_memory_mb:6.0f} MB peak"
    if run.status != "ok":
        where = f" in cell [{run.failing_cell}]" if run.failing_cell is not None else ""
        line += f"{where}: {run.error}"
        if run.log:
            executed = Path(run.log).parent.parent / "executed" / run.notebook
            line += f"\n{'':<{width}} see {_shown(executed.with_suffix('.html'))} and the kernel log {_shown(Path(run.log))}"
    return line


def _nbval_command(notebooks: list[Path], profile: str, records: Path) -> tuple[list[str], dict[str, str]]:
    """``pytest --nbval-lax`` over ``notebooks`` in ``profile``: the command and the environment it adds.

    The kernel is this interpreter (``--nbval-current-env``) and inherits the environment:
    ``COURSE_PROFILE`` picks the profile (the notebooks' ``PROFILE = None`` reads it),
    the offline guard keeps the quick profile off the network. ``--nbval-lax`` checks that every
    cell runs, and compares outputs only of cells marked ``# NBVAL_CHECK_OUTPUT``.
    """
    command = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
               f"--nbval-cell-timeout={_DEFAULT_TIMEOUTS[profile]}", "-p", "no:cacheprovider",
               *map(str, notebooks)]
    return command, _kernel_environment(profile, records)


def _run_nbval(notebooks: list[Path], profile: str, build: Path) -> int:
    """Validate ``notebooks`` with nbval (a pytest run of its own); returns pytest's exit code."""
    command, extra = _nbval_command(notebooks, profile, build / "nbval" / "records")
    print("COURSE_PROFILE=" + profile + " " + " ".join(_shown(Path(c)) if c.endswith(".ipynb") else c
                                                        for c in command[1:]), flush=True)
    return subprocess.run(command, env={**os.environ, **extra}, cwd=checkout_root()).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add, root = parser.add_argument, checkout_root() or Path.cwd()
    add("--profile", default=None, help=f"one of {PROFILES} (default: $COURSE_PROFILE or quick)")
    add("--only", nargs="*", help="lesson numbers to run, e.g. 01 03")
    add("--notebooks", type=Path, default=root / "notebooks")
    add("--build", type=Path, default=root / "build")
    add("--timeout", type=int, default=None, help="seconds one notebook may take (default: quick 900, full 43200)")
    add("--progress", action=argparse.BooleanOptionalAction, default=None,
        help="a progress bar over each notebook's cells (default: only in a terminal)")
    add("--nbval", action="store_true", help="validate the notebooks with pytest --nbval-lax instead (no report)")
    args = parser.parse_args(argv)
    profile = resolve_profile(args.profile or os.environ.get("COURSE_PROFILE") or "quick")
    notebooks = find_notebooks(args.notebooks, args.only)
    if not notebooks:
        print(f"no notebooks found in {args.notebooks}", file=sys.stderr)
        return 1
    if args.nbval:
        return _run_nbval(notebooks, profile, args.build)
    start = time.perf_counter()
    runs = run_all(notebooks, args.build, profile, args.timeout or _DEFAULT_TIMEOUTS[profile], progress=args.progress)
    total = time.perf_counter() - start
    text = _render_markdown(runs, profile, total)
    files.write_staged(args.build / "report.md", text)
    files.write_staged(args.build / "report.html", _render_html(text, runs, args.build / "records"))
    files.write_staged(args.build / "runs.json", json.dumps([asdict(r) for r in runs], indent=2))
    failed = ", ".join(r.notebook for r in runs if r.status != "ok")
    print(f"{sum(r.status == 'ok' for r in runs)} of {len(runs)} notebooks ran in {total:.0f} s; "
          f"report: {_shown(args.build / 'report.html')}" + (f"; failed: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
