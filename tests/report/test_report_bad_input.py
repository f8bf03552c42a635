"""The report on a headless machine and on odd capture reports: no stray error line from the graphics stack, the
triangulation's warnings shown (escaped), and no claim of full tracking that is not true."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from pipeline.report.capture import capture_html

REPO = Path(__file__).resolve().parents[2]


def test_report_build_prints_no_xdg_runtime_dir_error(tmp_path):
    """Open3D's EGL start-up made libwayland print 'error: XDG_RUNTIME_DIR is invalid or not set' on every report."""
    script = (
        "import sys; from pathlib import Path\n"
        "from pipeline.synthetic.report_session import write_sample_session\n"
        "from pipeline.report import build_report\n"
        "d = write_sample_session(Path(sys.argv[1]) / 's', n_reps=1, seconds=4)\n"
        "print(build_report(d, {}, figures=True))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(REPO)
    runtime_dirs = lambda: set(Path(tempfile.gettempdir()).glob("hingecap-runtime-*"))  # noqa: E731
    before = runtime_dirs()
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "XDG_RUNTIME_DIR" not in proc.stdout + proc.stderr
    page = (tmp_path / "s" / "report" / "index.html").read_text()
    assert 'id="figures"' in page and "Not rendered" not in page  # the figures were drawn, not skipped
    assert runtime_dirs() <= before  # the private runtime folder went at exit


def test_capture_warnings_are_shown_escaped_and_tracking_is_not_rounded_up():
    info = {"cameras": ["cam0", "cam1"], "left_out": {}, "tracked_pct": 99.96,
            "coverage": {"cam0": {"covered_s": [0.0, 9.9], "covered_share": 1.0, "short": False, "frames_pct": 100.0},
                         "cam1": {"covered_s": [0.0, 4.0], "covered_share": 0.4, "short": True, "frames_pct": 40.0}},
            "warnings": ["camera cam1: video <script>alert(1)</script>.mp4 is truncated: 40 of its 100 stated frames decoded"]}
    html = capture_html(info, None)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.mp4 is truncated" in html and "<script>" not in html
    assert "landmarks tracked: <b>99.9 %</b>" in html and "100.0 %" not in html
    assert "<td>40 % (filmed 0.0-4.0 s only)</td>" in html and "<td>100 %</td>" in html


def test_report_command_with_a_broken_config_names_file_and_line(tmp_path):
    from typer.testing import CliRunner

    from pipeline.cli import app
    from pipeline.synthetic.report_session import write_sample_session

    session = write_sample_session(tmp_path / "s", n_reps=1, seconds=4)
    bad = tmp_path / "config.yaml"
    bad.write_text("sessions:\n  s: {athlete: A\n")
    res = CliRunner().invoke(app, ["report", str(session), "--config", str(bad), "--no-figures"])
    assert res.exit_code == 2 and f"{bad}: not valid YAML: line 3" in res.output and "Traceback" not in res.output
    assert not (session / "report").exists()
