"""The benchmark's smallest mode runs end to end in seconds (a tiny CNN, not the real table)."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("course_benchmark", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_smoke_run_prints_the_table_and_the_cached_head_is_the_naive_head(bench, tmp_path, capsys):
    args = bench.parse_args(["--smoke", "--workdir", str(tmp_path)])
    assert args.mode == "smoke" and args.model_keys == ["tiny"]
    (result,) = bench.run(args)
    out = capsys.readouterr().out
    assert out.startswith("Machine: ") and "CPUs" in out and "TensorFlow" in out
    assert "\nafter the run: load average " in out and args.load_before.startswith("load average ")
    assert "feature cache: computed 64 feature rows" in out and "feature cache: computed 16 feature rows" in out
    assert result.pipeline_ips > 0 and result.backbone_ips > 0
    assert result.naive_epoch_s > 0 and result.cached_epoch_s > 0 and result.one_pass_s > 0
    assert result.cached_run_s > result.features_s > 0
    assert result.weight_moved > 0  # training did change the head...
    assert result.weight_gap < 1e-5  # ...and the cached run trained the same head as the naive run
    assert result.accuracy_points <= 1.0
    # Timing notes (load changed between the two passes) may appear; these may not:
    assert not [n for n in result.notes if "cache hit" in n or "assembled" in n], result.notes
    table, _ = bench.format_tables([result], args)
    assert table.splitlines()[0] == f"{os.cpu_count()} CPUs; before the run: {args.load_before}; after it: {args.load_after}"
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert rows[1].startswith("| tiny CNN (smoke) | 32 |")
    targets = [line for line in rows if line.endswith((" met |", " MISSED |"))]
    assert len(targets) == 4
    assert "whole cached run <= 1.25x one backbone pass" in table
    assert not (tmp_path / "features").exists()  # the benchmark cleans its cache


def test_argument_checks(bench):
    with pytest.raises(SystemExit):
        bench.parse_args(["--models", "resnet"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--epochs", "1"])
    default = bench.parse_args([])
    assert (default.images, default.val, default.epochs, default.batch_size) == (320, 100, 3, 32)
    assert default.model_keys == ["mobilenet_v2", "inception_v3"]
    assert bench.SPECS["mobilenet_v2"].size == 224 and bench.SPECS["inception_v3"].size == 299
