"""tools/mutation.py (make mutation): reading mutmut's results, the score table, the module list."""
from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("mutation_tool", ROOT / "tools" / "mutation.py")
mutation = importlib.util.module_from_spec(_spec)
sys.modules["mutation_tool"] = mutation  # dataclasses look their module up
_spec.loader.exec_module(mutation)

RESULTS = """\
    course_utils.models.x_find_layer__mutmut_1: killed
    course_utils.models.x_find_layer__mutmut_2: survived
    course_utils.models.x_find_layer__mutmut_10: timeout
    course_utils.models.x_find_layer__mutmut_3: no tests
    course_utils.setup.profiles.xǁSettingsǁ__repr____mutmut_1: killed
    course_utils.features.x_weights_fingerprint__mutmut_1: killed
    course_utils.features.x_weights_fingerprint__mutmut_2: survived
    course_utils.features.xǁFeatureCacheǁget__mutmut_7: not checked
    course_utils.features.x_as_dataset__mutmut_1: survived
    course_utils.course.report.x_record__mutmut_4: suspicious
"""


def test_parse_results_reads_every_line_and_status_with_spaces():
    results = mutation.parse_results("Generating mutants\n" + RESULTS + "\nsome footer\n")
    assert len(results) == 10
    assert results["course_utils.models.x_find_layer__mutmut_3"] == "no tests"
    assert results["course_utils.setup.profiles.xǁSettingsǁ__repr____mutmut_1"] == "killed"
    assert results["course_utils.features.xǁFeatureCacheǁget__mutmut_7"] == "not checked"


def test_function_names_as_mutmut_spells_them():
    assert mutation.mangled("describe_architecture") == "x_describe_architecture"
    assert mutation.mangled("FeatureCache._fingerprints") == "xǁFeatureCacheǁ_fingerprints"
    assert mutation.function_of("course_utils.models.x_find_layer__mutmut_12") == "x_find_layer"
    assert mutation.function_of("course_utils.setup.profiles.xǁSettingsǁ__repr____mutmut_1") == "xǁSettingsǁ__repr__"


def test_a_module_scores_its_own_mutants_or_only_the_listed_functions():
    whole = mutation.Module("models", "x")
    assert whole.patterns() == ["course_utils.models.x*"]
    assert whole.scores("course_utils.models.x_cut_at__mutmut_1")
    assert not whole.scores("course_utils.models.weights.x_pretrained__mutmut_1")  # a submodule is not models
    assert whole.path == "course_utils/models/__init__.py"
    assert mutation.Module("setup.profiles", "x").path == "course_utils/setup/profiles.py"
    assert not whole.scores("course_utils.models_extra.x_cut_at__mutmut_1")
    assert not whole.scores("course_utils.data.images.x_load_rgb__mutmut_1")
    key = mutation.Module("features", "key", functions=("weights_fingerprint", "FeatureCache._fingerprints"))
    assert key.patterns() == ["course_utils.features.x_weights_fingerprint__mutmut_*",
                              "course_utils.features.xǁFeatureCacheǁ_fingerprints__mutmut_*"]
    assert key.scores("course_utils.features.x_weights_fingerprint__mutmut_3")
    assert key.scores("course_utils.features.xǁFeatureCacheǁ_fingerprints__mutmut_3")
    assert not key.scores("course_utils.features.x_weights_fingerprint_v2__mutmut_3")
    assert not key.scores("course_utils.features.xǁFeatureCacheǁget__mutmut_3")
    assert key.path == "course_utils/features.py"
    # the exercises are a package of their own, named in full
    exercises, lesson = mutation.Module("course_exercises", "x"), mutation.Module("course_exercises.lesson01", "x")
    assert (exercises.path, lesson.path) == ("course_exercises/__init__.py", "course_exercises/lesson01.py")
    assert exercises.patterns() == ["course_exercises.x*"]
    assert exercises.scores("course_exercises.x_as_int__mutmut_1")
    assert exercises.scores("course_exercises.xǁExerciseǁverdict__mutmut_1")
    assert not exercises.scores("course_exercises.lesson01.x__ex1__mutmut_1")  # a submodule
    assert lesson.scores("course_exercises.lesson01.x__ex1__mutmut_1")
    assert not lesson.scores("course_utils.course_exercises.lesson01.x__ex1__mutmut_1")


def _modules():
    return (mutation.Module("models", "freezing"), mutation.Module("setup.profiles", "profiles"),
            mutation.Module("features", "key", functions=("weights_fingerprint",)),
            mutation.Module("models.augment", "augmentation"))


def test_score_is_killed_plus_timeout_over_the_mutants_made():
    scores = mutation.score_modules(mutation.parse_results(RESULTS), _modules(), excluded={"models": 3})
    models, profiles, key, augment = scores
    assert models.counts == Counter({"killed": 1, "survived": 1, "timeout": 1, "no tests": 1})
    assert (models.mutants, models.killed, models.excluded, models.percent) == (4, 2, 3, 50.0)
    assert models.survivors == ["course_utils.models.x_find_layer__mutmut_2: survived",
                                "course_utils.models.x_find_layer__mutmut_3: no tests"]  # in mutant order
    assert (profiles.percent, profiles.passed) == (100.0, True)
    assert (key.mutants, key.killed, key.percent, key.passed) == (2, 1, 50.0, False)  # get and as_dataset not scored
    assert (augment.mutants, augment.percent, augment.passed) == (0, None, False)


@pytest.mark.parametrize("killed, survived, passed", [(4, 1, True), (79, 21, False), (80, 20, True), (0, 1, False)])
def test_the_threshold_is_eighty_percent_inclusive(killed, survived, passed):
    score = mutation.Score(mutation.Module("m", "g"), Counter({"killed": killed, "survived": survived}))
    assert score.passed is passed


def test_a_module_with_unchecked_mutants_does_not_pass():
    score = mutation.Score(mutation.Module("m", "g"), Counter({"killed": 9, "not checked": 1}))
    assert score.percent == 90.0 and not score.passed


def test_the_table_shows_every_count_and_flags_what_fails():
    scores = mutation.score_modules(mutation.parse_results(RESULTS), _modules(), excluded={"setup.profiles": 2})
    lines = mutation.table(scores).splitlines()
    assert lines[0] == ("| module | guards | score | killed | timeout | survived | no tests | other | mutants | "
                        "excluded |")
    assert lines[2] == "| models | freezing | 50.0% (below 80%) | 1 | 1 | 1 | 1 | 0 | 4 | 0 |"
    assert lines[3] == "| setup.profiles | profiles | 100.0% | 1 | 0 | 0 | 0 | 0 | 1 | 2 |"
    assert lines[4] == "| features | key | 50.0% (below 80%) | 1 | 0 | 1 | 0 | 0 | 2 | 0 |"
    assert lines[5] == "| models.augment | augmentation | not run | 0 | 0 | 0 | 0 | 0 | 0 | 0 |"
    unchecked = mutation.Score(mutation.Module("m", "g"), Counter({"killed": 9, "not checked": 1}))
    assert mutation.table([unchecked]).splitlines()[2] == "| m | g | 90.0% (not all checked) | 9 | 0 | 0 | 0 | 1 | 10 | 0 |"


def test_report_only_writes_the_score_file_and_fails_below_the_threshold(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(mutation, "read_results", lambda: mutation.parse_results(RESULTS))
    monkeypatch.setattr(mutation, "excluded_mutants", lambda module: 0)
    monkeypatch.setattr(mutation, "pragma_lines", lambda module: [])
    assert mutation.main(["--report-only", "--modules", "setup.profiles", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "score.md").read_text()
    assert "| setup.profiles | profiles | 100.0% | 1 | 0 | 0 | 0 | 0 | 1 | 0 |" in text
    assert mutation.main(["--report-only", "--modules", "models,setup.profiles", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "below 80% or not fully checked: models" in out
    text = (tmp_path / "score.md").read_text()
    assert "- course_utils.models.x_find_layer__mutmut_2: survived" in text
    with pytest.raises(SystemExit):
        mutation.main(["--report-only", "--modules", "modles"])
    assert "unknown module(s) modles" in capsys.readouterr().err


def test_excluded_mutants_are_counted_from_the_pragmas(tmp_path):
    package = tmp_path / "course_utils"
    package.mkdir()
    (package / "thing.py").write_text(
        "def size(n):\n"
        "    return n + 1\n"
        "\n\n"
        "def label(n):\n"
        "    return f'{n} items' + '!'  # pragma: no mutate (a label only)\n"
    )
    module = mutation.Module("thing", "test")
    assert mutation.excluded_mutants(module, root=tmp_path) > 0
    assert mutation.pragma_lines(module, root=tmp_path) == [
        "course_utils/thing.py:6: return f'{n} items' + '!'  # pragma: no mutate (a label only)"]
    (package / "thing.py").write_text("def size(n):\n    return n + 1\n")
    assert mutation.excluded_mutants(module, root=tmp_path) == 0


def test_every_pragma_in_the_scored_modules_gives_its_reason():
    for module in mutation.MODULES:
        for line in mutation.pragma_lines(module):
            reason = line.split("no mutate", 1)[1].strip(" :")
            assert len(reason.split()) >= 3, f"a '# pragma: no mutate' needs its reason on the line: {line}"


# --- the module list and mutmut's configuration ------------------------------------------------

ISSUE_MODULES = {"models", "data.images", "data.downloads", "features", "data.generated", "data.mnist",
                 "data.flowers", "data.cactus", "data.catsdogs", "data.cifar", "setup.profiles",
                 "models.augment", "course.report", "models.vgg16_bridge",
                 # issue 23: the exercise checks (not grading and sandbox, nbgrader's tooling)
                 "course_exercises", *(f"course_exercises.lesson0{n}" for n in range(1, 7))}

# Test files that use a mutated module but are not in mutmut's selection, and why.
LEFT_OUT = {
    "tests/test_env.py": "runs a copy of the package from another folder, where mutmut's wrappers find no config",
    "tests/test_notebook_hygiene.py": "reads the checkout's notebooks, not the package's behaviour",
    "tests/test_full_profile_settings.py": "pins the LESSONS table (module-level data, which mutmut does not "
                                           "mutate) against documents outside the package",
    "tests/test_concurrency.py": "spawns three processes that each import TensorFlow: tens of seconds a run",
    "tests/test_killed_runs.py": "its work happens in subprocesses, where mutmut cannot see which functions run",
    "tests/test_shared_manifest.py": "each case runs as an unprivileged user in a subprocess, out of mutmut's sight",
    "tests/test_mutation_tool.py": "this file: it names the modules, it does not call them",
    "tests/test_grading_isolation.py": "runs nbgrader's autograde, whose kernel is a sandboxed subprocess",
    "tests/test_front_door.py": "reads the package's source with ast: which names are public, not what they do",
}


def _config():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]


def test_the_table_lists_every_module_the_issue_names_and_they_exist():
    assert {m.name for m in mutation.MODULES} == ISSUE_MODULES
    assert len(mutation.MODULES) == len(ISSUE_MODULES)
    for module in mutation.MODULES:
        assert (ROOT / module.path).is_file(), module.path


def test_the_feature_cache_key_functions_exist():
    (key,) = [m for m in mutation.MODULES if m.name == "features"]
    source = (ROOT / key.path).read_text()
    for function in key.functions:
        name = function.split(".")[-1]
        assert re.search(rf"^\s*def {re.escape(name)}\(", source, re.M), function
    # every part of the key cached_predict builds (course_utils.features._entry_key) is scored
    assert {"_entry_key", "_data_spec", "_architecture_digest", "_weights_digest"} <= set(key.functions)


def test_mutmut_mutates_only_listed_modules_and_runs_no_notebook():
    config = _config()
    assert set(config["only_mutate"]) <= {m.path for m in mutation.MODULES}
    selection = config["pytest_add_cli_args_test_selection"]
    assert selection[:2] == ["-m", "not notebooks"]
    for path in selection[2:]:
        assert path.startswith("--deselect=") or (ROOT / path).is_file(), path


def test_every_test_file_that_uses_a_mutated_module_is_in_the_selection():
    config = _config()
    mutated = {p.removesuffix("/__init__.py").removesuffix(".py").replace("/", ".") for p in config["only_mutate"]}
    assert {"course_utils.data.cactus", "course_exercises", "course_exercises.lesson01"} <= mutated

    def module(dotted: str) -> bool:
        base = ROOT / dotted.replace(".", "/")
        return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()

    # "from course_utils.data import cactus, images" uses course_utils.data.cactus and .images;
    # "from course_exercises import Wrong" uses course_exercises itself;
    # "course_utils.setup.profiles.x" uses course_utils.setup.profiles (and its package, setup).
    imports = re.compile(r"from ((?:course_utils|course_exercises)(?:\.\w+)*) import ([\w, ()\n]+)")
    dotted = re.compile(r"((?:course_utils|course_exercises)(?:\.\w+)+)(?![\w.]| import)")  # not the from-line
    users = set()
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        text, names = path.read_text(), set()
        for package, imported in imports.findall(text):
            for name in re.findall(r"\w+", imported):
                names.add(f"{package}.{name}" if module(f"{package}.{name}") else package)
        for chain in dotted.findall(text):  # the longest prefix that is a module: models.hub.x -> models.hub
            parts = chain.split(".")
            modules = [".".join(parts[:i]) for i in range(2, len(parts) + 1) if module(".".join(parts[:i]))]
            names |= set(modules[-1:])
        if names & mutated:
            users.add(f"tests/{path.name}")
    notebooks = {p for p in users if re.match(r"tests/test_notebook_0\d\.py$", p)}
    selection = {p for p in config["pytest_add_cli_args_test_selection"][2:] if not p.startswith("--")}
    missing = users - selection - set(LEFT_OUT) - (notebooks - selection)
    assert not missing, f"add these to [tool.mutmut] pytest_add_cli_args_test_selection: {sorted(missing)}"
