"""The code's layout keeps its promises: stages never import test data, each contract has one reader and
writer, the lens model and the frame-rate rule are written once, and the workflow passes Snakemake's linter."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = [REPO / "calibration", *(REPO / "pipeline" / p for p in (
    "common", "contracts", "detect", "sync", "triangulate", "analyze", "report", "record", "export"))]
NOT_PRODUCTION = ("pipeline.synthetic", "pipeline.examples", "pipeline.evaluation")
SOURCES = [p for root in (REPO / "calibration", REPO / "pipeline", REPO / "benchmarks") for p in root.rglob("*.py")]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_production_module_imports_synthetic_data_examples_or_evaluation():
    offenders = [f"{p.relative_to(REPO)} imports {name}" for root in PRODUCTION for p in root.rglob("*.py")
                 for name in _imports(p) if name.startswith(NOT_PRODUCTION)]
    assert not offenders, offenders


def test_each_stage_has_a_package_named_like_its_rule_with_an_entry():
    rules = set(re.findall(r"^rule (\w+):", "".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk")), re.M))
    assert rules == {"calibrate", "detect", "sync", "triangulate", "analyze", "report"}
    for rule in rules - {"calibrate"}:
        assert (REPO / "pipeline" / rule / "__init__.py").is_file(), rule
        assert (REPO / "workflow" / "rules" / f"{rule}.smk").is_file(), rule
        assert list((REPO / "tests" / rule).glob("test_*.py")), f"no tests/{rule}/"
    assert (REPO / "calibration" / "calibrate.py").is_file() and list((REPO / "tests" / "calibration").glob("test_*.py"))


def test_contract_files_are_loaded_only_by_their_reader():
    allowed = {REPO / "pipeline" / "synthetic" / "footage.py"}  # the renderer's own ground truth and input poses
    loaders = [f"{p.relative_to(REPO)}: {line.strip()}" for p in SOURCES if p not in allowed
               and "contracts" not in p.parts for line in p.read_text().splitlines()
               if re.search(r"np\.load\(|json\.loads?\(.*(sync|reps)|read_csv\(.*kinematics", line)]
    assert not loaders, loaders


def test_the_lens_model_and_the_frame_rate_rule_are_written_once():
    lens = [p for p in SOURCES if re.search(r"r2 \* \(k1 \+ r2", p.read_text())]
    assert [p.relative_to(REPO).as_posix() for p in lens] == ["calibration/camera.py"]
    rate = [p for p in SOURCES if "median(np.diff(" in p.read_text()]
    assert [p.relative_to(REPO).as_posix() for p in rate] == ["pipeline/common/timebase.py"]


def test_snakemake_lint_is_clean(capfd):
    pytest.importorskip("snakemake")
    from pipeline.cli.workflow import lint_workflow

    code = lint_workflow()
    out = capfd.readouterr()
    assert code == 0, out.out + out.err
