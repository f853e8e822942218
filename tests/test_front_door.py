"""course_utils's front door: each module's ``__all__`` names exactly what the rest of the course uses.

Users are the notebooks' scripts, the exercises, the tools, the benchmarks, the Makefile's and CI's
``python -c``/``python -m`` lines and the other course_utils modules; tests are not users (a test tests
through the front door or the module it owns). A public top-level name is in its module's ``__all__``,
and a name in ``__all__`` is used outside its module, or is an exception class (the errors a learner
or instructor catches), or is one of the few names tests need as the module's documented contract
(``CONTRACT``). Everything else starts with an underscore. These read the source with ``ast``; they
import the package only to see that each name in ``__all__`` exists and which ones are error classes.
"""
from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOT_IMPORTED = {"course_utils.setup.offline.sitecustomize"}  # put on a kernel's PYTHONPATH as `sitecustomize`
# Names no other module, notebook, exercise or tool uses that tests need as the module's contract, and why:
CONTRACT: dict[tuple[str, str], str] = {
    ("course_utils", "resolve_profile"): "the package's own front door: which profile PROFILE or $COURSE_PROFILE means",
    ("course_utils.setup.profiles", "SOURCES"): "the two values of cfg.source; the README's layout names it",
    ("course_utils.course.links", "colab_url"): "the Colab badge's link; docs/INSTRUCTORS.md names it for releases",
    ("course_utils.course.links", "colab_setup_source"): "the Colab cell's code; docs/INSTRUCTORS.md names it",
    ("course_utils.course.runner", "NotebookRun"): "what run_notebook returns; the test harness keeps them",
    ("course_utils.course.runner", "run_all"): "what `make lessons` runs; the test harness executes each notebook "
                                               "through it (tests/conftest.py)",
    ("course_utils.data.images", "ScanResult"): "what scan_images returns",
}


def dotted(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {dotted(p): p for p in sorted((ROOT / "course_utils").rglob("*.py")) if dotted(p) not in NOT_IMPORTED}
TREES = {name: ast.parse(path.read_text()) for name, path in MODULES.items()}


def public_names(tree: ast.Module) -> set[str]:
    """The names a module defines at top level (def, class, assignment) without a leading underscore."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return {n for n in names if not n.startswith("_")}


def declared_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return list(ast.literal_eval(node.value))
    return None


def uses(tree: ast.AST) -> set[tuple[str, str]]:
    """Each ``(module, name)`` of course_utils that ``tree`` imports or reads as an attribute: ``from
    course_utils.x import a``, ``course_utils.x.a``, ``m.a`` after ``from course_utils.data import m`` or
    ``import course_utils.x as m``. A name that is itself a module is followed, not counted."""
    bound: dict[str, str] = {}  # local name -> the course_utils module it stands for
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "course_utils":
                    bound[alias.asname or "course_utils"] = alias.name if alias.asname else "course_utils"
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level or module.split(".")[0] != "course_utils":  # the package uses no relative import
                continue
            for alias in node.names:
                if f"{module}.{alias.name}" in MODULES:
                    bound[alias.asname or alias.name] = f"{module}.{alias.name}"
                else:
                    found.add((module, alias.name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain, inner = [node.attr], node.value
            while isinstance(inner, ast.Attribute):
                chain.insert(0, inner.attr)
                inner = inner.value
            if not (isinstance(inner, ast.Name) and inner.id in bound):
                continue
            module = bound[inner.id]
            for part in chain:
                if f"{module}.{part}" not in MODULES:
                    found.add((module, part))
                    break
                module = f"{module}.{part}"
    return found


COMMAND_LINE = re.compile(r"""-c\s+(['"])(.+?)\1|-m\s+(course_utils[\w.]*)""")


def command_line_uses(text: str) -> set[tuple[str, str]]:
    """What shell lines use: the code of ``python -c '...'`` and the ``main`` of ``python -m course_utils.x``."""
    found = set()
    for match in COMMAND_LINE.finditer(text):
        if match.group(3):
            found |= {(match.group(3), "main")} if "main" in public_names(TREES.get(match.group(3), ast.Module([]))) else set()
        elif "course_utils" in match.group(2):
            found |= uses(ast.parse(match.group(2).replace("; ", "\n")))
    return found


def lessons_exercises_tools() -> dict[str, set[tuple[str, str]]]:
    """The uses of course_utils by each notebook script, exercise, tool and benchmark."""
    folders = ("notebooks", "course_exercises", "tools", "benchmarks")
    paths = [p for folder in folders for p in sorted((ROOT / folder).glob("*.py"))]
    return {str(p.relative_to(ROOT)): uses(ast.parse(p.read_text())) for p in paths}


def all_uses() -> dict[str, set[tuple[str, str]]]:
    """Every user's uses: lessons, exercises, tools, benchmarks, shell lines and each course_utils module."""
    found = lessons_exercises_tools()
    found |= {name: uses(tree) for name, tree in TREES.items()}
    shell = [ROOT / "Makefile", ROOT / ".ci" / "run", *(ROOT / "binder").iterdir(),
             *(ROOT / ".github" / "workflows").glob("*.yml")]
    found |= {str(p.relative_to(ROOT)): command_line_uses(p.read_text()) for p in shell if p.is_file()}
    return found


def test_every_module_declares_its_names_and_each_exists():
    missing = sorted(m for m, tree in TREES.items() if declared_all(tree) is None)
    assert not missing, f"modules without __all__: {missing}"
    absent = [f"{m}.{n}" for m, tree in TREES.items() for n in declared_all(tree)
              if not hasattr(importlib.import_module(m), n)]
    assert not absent, absent


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_public_name_is_in_all(module):
    tree = TREES[module]
    extra = sorted(public_names(tree) - set(declared_all(tree) or ()))
    assert not extra, f"{module}: public names not in __all__ (name them there or start them with _): {extra}"


def test_what_lessons_exercises_tools_and_modules_use_is_in_all():
    wrong = sorted(f"{user}: {mod}.{name}" for user, pairs in all_uses().items() for mod, name in pairs
                   if mod in TREES and user != mod and name not in (declared_all(TREES[mod]) or ()))
    assert not wrong, f"used from outside the module but not in its __all__: {wrong}"


def is_error_class(module: str, name: str) -> bool:
    from course_utils.errors import CourseError

    value = getattr(importlib.import_module(module), name, None)
    return isinstance(value, type) and issubclass(value, CourseError)


def test_every_name_in_all_is_used_outside_its_module():
    everyone = all_uses()
    unused = [f"{m}.{n}" for m, tree in TREES.items() for n in declared_all(tree) or ()
              if not any(user != m and (m, n) in pairs for user, pairs in everyone.items())
              and (m, n) not in CONTRACT and not is_error_class(m, n)]
    assert not unused, f"in __all__ but used by nothing outside its module (make it private or delete it): {unused}"


def test_each_contract_name_is_in_all_and_needs_its_entry():
    everyone = all_uses()
    stale = [f"{m}.{n}" for m, n in CONTRACT if n not in (declared_all(TREES[m]) or ())
             or any(user != m and (m, n) in pairs for user, pairs in everyone.items())]
    assert not stale, f"CONTRACT entries not in __all__, or used outside their module (drop the entry): {stale}"
