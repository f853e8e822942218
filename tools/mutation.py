"""Mutation testing of the modules where a silent bug changes what a learner is told (issue 17).

``make mutation`` runs this script: mutmut (configured in ``[tool.mutmut]`` of
pyproject.toml) plants small bugs, one at a time, in the modules of
:data:`MODULES` and runs the unit tests that cover each one; a mutant the
tests do not fail on has *survived*. The script then reads
``mutmut results --all true``, groups the mutants by module and writes a
score table to ``build/mutation/score.md`` (and prints it)::

    score = (killed + timeout) / (mutants - excluded)

Excluded mutants are the ones on lines marked ``# pragma: no mutate`` (each
with its reason on the same line); mutmut does not create them, so they are
counted here by mutating the source once without the pragmas. The exit
status is 1 when a module is below :data:`THRESHOLD` or was not fully
checked.

Usage::

    python tools/mutation.py                    # every module, from a clean mutants/ folder
    python tools/mutation.py --modules models,images   # while working on those
    python tools/mutation.py --report-only      # the table of the last run, nothing re-run

Every run starts from a clean ``mutants/`` folder unless ``--keep`` is given:
mutmut reuses a cached verdict as long as the mutated function is unchanged,
so a mutant that survived stays "survived" after a new test would kill it.
See docs/MUTATION.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "course_utils"
# A module name that starts with one of these is a whole dotted name ("course_exercises.lesson01");
# any other is inside PACKAGE ("data.images" is course_utils.data.images).
PACKAGES = (PACKAGE, "course_exercises")
THRESHOLD = 80.0
OUT = ROOT / "build" / "mutation"


@dataclass(frozen=True)
class Module:
    """One module under mutation testing: what a silent bug in it would change."""

    name: str
    guards: str
    # Only these functions are scored (``"Class.method"`` for a method); None: the whole module.
    functions: tuple[str, ...] | None = None

    @property
    def dotted(self) -> str:
        """``models`` -> ``course_utils.models``; ``course_exercises.lesson01`` as it is."""
        return self.name if self.name.split(".")[0] in PACKAGES else f"{PACKAGE}.{self.name}"

    @property
    def path(self) -> str:
        """``models`` -> ``course_utils/models/__init__.py``; ``data.images`` -> ``course_utils/data/images.py``."""
        base = ROOT / self.dotted.replace(".", "/")
        return str((base / "__init__.py" if base.is_dir() else base.with_suffix(".py")).relative_to(ROOT))

    def patterns(self) -> list[str]:
        """mutmut name patterns that select this module's scored mutants (not its submodules')."""
        prefix = f"{self.dotted}."
        if self.functions is None:
            return [prefix + "x*"]  # mutmut keys every function x_name / xǁClassǁname
        return [prefix + mangled(function) + "__mutmut_*" for function in self.functions]

    def scores(self, mutant: str) -> bool:
        """Whether ``mutant`` (a name ``mutmut results`` lists) counts for this module."""
        prefix = f"{self.dotted}."
        if not mutant.startswith(prefix) or "." in mutant[len(prefix):]:
            return False
        if self.functions is None:
            return True
        return function_of(mutant) in {mangled(f) for f in self.functions}


def mangled(function: str) -> str:
    """mutmut's key of a function (``x_name``) or method (``xǁClassǁname``)."""
    if "." in function:
        cls, name = function.split(".")
        return f"xǁ{cls}ǁ{name}"
    return f"x_{function}"


def function_of(mutant: str) -> str:
    """``course_utils.models.x_find_layer__mutmut_3`` -> ``x_find_layer``."""
    return mutant.rsplit(".", 1)[-1].rsplit("__mutmut_", 1)[0]


# The modules where a silent bug changes a learner's result (issue 17).
MODULES: tuple[Module, ...] = (
    Module("models", "freezing and parameter reports"),
    Module("data.images", "image checks"),
    Module("data.downloads", "verified downloads"),
    Module("features", "the feature cache's key", functions=(
        # The four parts of the cache key: the caller's key, the data spec,
        # the architecture (names as positions), the weights.
        "_entry_key", "_data_spec", "_canonical", "_architecture_digest", "_weights_digest",
    )),
    Module("data.generated", "data splits and loaders"),
    Module("data.mnist", "data splits and loaders"),
    Module("data.flowers", "data splits and loaders"),
    Module("data.cactus", "data splits and loaders"),
    Module("data.catsdogs", "data splits and loaders"),
    Module("data.cifar", "data splits and loaders"),
    Module("setup.profiles", "profiles"),
    Module("models.augment", "augmentation"),
    Module("course.report", "the run report's record"),
    Module("models.vgg16_bridge", "the VGG16 bridge"),
    # The exercise checks (issue 23): a check that accepts a wrong answer teaches the mistake. Not
    # course_exercises.grading or .sandbox: instructors' tooling around nbgrader, whose work runs in
    # nbgrader's subprocesses and kernels (tests/test_grading_isolation.py), out of mutmut's sight.
    Module("course_exercises", "the checks' verdicts and numbers"),
    Module("course_exercises.lesson01", "exercise checks, lesson 01"),
    Module("course_exercises.lesson02", "exercise checks, lesson 02"),
    Module("course_exercises.lesson03", "exercise checks, lesson 03"),
    Module("course_exercises.lesson04", "exercise checks, lesson 04"),
    Module("course_exercises.lesson05", "exercise checks, lesson 05"),
    Module("course_exercises.lesson06", "exercise checks, lesson 06"),
)

KILLED = ("killed", "timeout")
STATUSES = ("killed", "timeout", "survived", "no tests", "not checked")

_RESULT_LINE = re.compile(r"^\s*(?P<name>\S+__mutmut_\d+): (?P<status>.+?)\s*$")


def parse_results(text: str) -> dict[str, str]:
    """``{mutant name: status}`` from the output of ``mutmut results --all true``."""
    results = {}
    for line in text.splitlines():
        match = _RESULT_LINE.match(line)
        if match:
            results[match["name"]] = match["status"]
    return results


@dataclass
class Score:
    module: Module
    counts: Counter = field(default_factory=Counter)
    excluded: int = 0
    survivors: list[str] = field(default_factory=list)

    @property
    def mutants(self) -> int:
        """Mutants tested: every mutant mutmut made (excluded ones it did not make)."""
        return sum(self.counts.values())

    @property
    def killed(self) -> int:
        return sum(self.counts[s] for s in KILLED)

    @property
    def other(self) -> int:
        """Statuses that are neither a kill nor listed in their own column (suspicious, segfault...)."""
        return sum(n for s, n in self.counts.items() if s not in STATUSES)

    @property
    def percent(self) -> float | None:
        return 100.0 * self.killed / self.mutants if self.mutants else None

    @property
    def passed(self) -> bool:
        return self.percent is not None and self.percent >= THRESHOLD and not self.counts["not checked"]


def score_modules(results: dict[str, str], modules=MODULES, excluded: dict[str, int] | None = None) -> list[Score]:
    scores = [Score(m, excluded=(excluded or {}).get(m.name, 0)) for m in modules]
    for name, status in sorted(results.items(), key=lambda item: _natural(item[0])):
        for score in scores:
            if score.module.scores(name):
                score.counts[status] += 1
                if status not in KILLED:
                    score.survivors.append(f"{name}: {status}")
    return scores


def _natural(name: str):
    head, _, number = name.rpartition("__mutmut_")
    return head, int(number) if number.isdigit() else 0


def table(scores: list[Score]) -> str:
    """The per-module score table (markdown)."""
    lines = [
        "| module | guards | score | killed | timeout | survived | no tests | other | mutants | excluded |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in scores:
        if s.percent is None:
            shown = "not run"
        else:
            shown = f"{s.percent:.1f}%"
            if s.percent < THRESHOLD:
                shown += f" (below {THRESHOLD:.0f}%)"
            elif s.counts["not checked"]:
                shown += " (not all checked)"
        other = s.other + s.counts["not checked"]
        lines.append(
            f"| {s.module.name} | {s.module.guards} | {shown} | {s.counts['killed']} | {s.counts['timeout']} | "
            f"{s.counts['survived']} | "
            f"{s.counts['no tests']} | {other} | {s.mutants} | {s.excluded} |"
        )
    return "\n".join(lines) + "\n"


_PRAGMA = re.compile(r"#\s*pragma:\s*no mutate.*$", re.MULTILINE)


def excluded_mutants(module: Module, root: Path = ROOT) -> int:
    """How many mutants the ``# pragma: no mutate`` lines of ``module`` keep mutmut from making.

    mutmut skips those lines without a trace, so the source is mutated twice
    (as is, and with the pragmas removed) and the scored mutants compared.
    """
    from mutmut.mutation.file_mutation import mutate_file_contents

    source = (root / module.path).read_text()
    if not _PRAGMA.search(source):
        return 0

    def scored(code: str) -> int:
        names = mutate_file_contents(module.path, code).mutant_names
        return sum(1 for n in names if module.scores(f"{module.dotted}.{n}"))

    return scored(_PRAGMA.sub("", source)) - scored(source)


def pragma_lines(module: Module, root: Path = ROOT) -> list[str]:
    """``path:line: text`` of every ``# pragma: no mutate`` in ``module`` (the reasons are on those lines)."""
    found = []
    for number, line in enumerate((root / module.path).read_text().splitlines(), 1):
        if _PRAGMA.search(line):
            found.append(f"{module.path}:{number}: {line.strip()}")
    return found


def _mutmut() -> list[str]:
    local = Path(sys.executable).parent / "mutmut"
    return [str(local)] if local.exists() else ["mutmut"]


def run_mutmut(modules, max_children: int, log: Path) -> tuple[float, float]:
    """``mutmut run`` over ``modules``' scored mutants; returns (wall seconds, CPU seconds) it took.

    The CPU seconds (mutmut and every process it started) say what the run costs
    on a machine that other work shares: on an idle one the wall time is about
    CPU seconds / ``max_children``.
    """
    patterns = [p for m in modules for p in m.patterns()]
    started = time.monotonic()
    cpu_before = _children_cpu()
    with open(log, "w") as out:
        code = subprocess.call(_mutmut() + ["run", "--max-children", str(max_children), *patterns],
                               cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - started
    if code != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"mutmut run failed (exit {code}); the end of {log}:\n{tail}")
    return seconds, _children_cpu() - cpu_before


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def read_results() -> dict[str, str]:
    done = subprocess.run(_mutmut() + ["results", "--all", "true"], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"mutmut results failed: {done.stderr[-2000:]}")
    return parse_results(done.stdout)


def report(scores: list[Score], header: list[str]) -> str:
    parts = ["# Mutation score", "", *header, "", table(scores)]
    pragmas = [line for s in scores for line in pragma_lines(s.module)]
    parts += ["", "## Excluded lines (`# pragma: no mutate`, reason on the line)", ""]
    parts += [f"- `{line}`" for line in pragmas] or ["none"]
    parts += ["", "## Mutants not killed (`mutmut show NAME` shows the change)", ""]
    for s in scores:
        if s.survivors:
            parts += [f"### {s.module.name}", "", *[f"- {line}" for line in s.survivors], ""]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", help="comma-separated module names (default: all of MODULES)")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested in parallel (default 2)")
    parser.add_argument("--keep", action="store_true", help="reuse mutants/ and its cached verdicts")
    parser.add_argument("--report-only", action="store_true", help="score the last run, run nothing")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    modules = list(MODULES)
    if args.modules:
        wanted = [name.strip().removesuffix(".py") for name in args.modules.split(",") if name.strip()]
        unknown = sorted(set(wanted) - {m.name for m in MODULES})
        if unknown:
            parser.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(m.name for m in MODULES)}")
        modules = [m for m in MODULES if m.name in wanted]

    args.out.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    header = [
        f"- date: {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"- machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}",
        f"- load average at the start: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min)",
    ]
    if not args.report_only:
        if not args.keep:
            shutil.rmtree(ROOT / "mutants", ignore_errors=True)
        seconds, cpu = run_mutmut(modules, args.max_children, args.out / "mutmut.log")
        header.append(f"- mutmut run: {seconds / 60:.1f} min with --max-children {args.max_children}, "
                      f"{cpu / 60:.1f} CPU-minutes (mutmut and its processes)")
    excluded = {m.name: excluded_mutants(m) for m in modules}
    scores = score_modules(read_results(), modules, excluded)
    text = report(scores, header)
    (args.out / "score.md").write_text(text)
    print("\n".join(header) + "\n")
    print(table(scores))
    print(f"written to {args.out / 'score.md'} (with the mutants not killed)")
    below = [s.module.name for s in scores if not s.passed]
    if below:
        print(f"below {THRESHOLD:.0f}% or not fully checked: {', '.join(below)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
