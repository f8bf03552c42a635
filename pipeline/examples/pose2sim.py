"""The real-data example: the Pose2Sim demo's footage and lab calibration as a hingecap room and session.

``fetch_demo()`` downloads the ``pose2sim`` wheel once with pip (Pose2Sim's
``Demo_SinglePerson`` ships inside it: 4 synchronised 60 fps videos and a
Qualisys calibration) into ``~/.cache/hingecap`` (``$HINGECAP_CACHE``) and
returns the extracted folder. ``prepare_example`` copies its videos and
calibration into ``resources/pose2sim/``, where ``config/example.yaml`` expects them.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

VERSION = "0.10.49"
DEMO = "Pose2Sim/Demo_SinglePerson/"


class DemoUnavailable(RuntimeError):
    """The demo could not be fetched (no network, registry unreachable); the message says why."""


def cache_dir() -> Path:
    return Path(os.environ.get("HINGECAP_CACHE", Path.home() / ".cache" / "hingecap"))


def fetch_demo(version: str = VERSION) -> Path:
    """Root of ``Demo_SinglePerson`` (Config.toml, calibration/, videos/), downloaded and extracted once."""
    cache = cache_dir()
    root = cache / f"pose2sim-{version}" / DEMO
    if (root / "Config.toml").exists() and len(list((root / "videos").glob("*.mp4"))) >= 4 \
            and list((root / "calibration").glob("Calib*.qca.txt")):
        return root
    wheels = sorted(cache.glob(f"pose2sim-{version}-*.whl"))
    if not wheels:
        cache.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", f"pose2sim=={version}", "-d", str(cache)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DemoUnavailable(f"could not run pip to download pose2sim=={version}: {exc}") from None
        wheels = sorted(cache.glob(f"pose2sim-{version}-*.whl"))
        if proc.returncode != 0 or not wheels:
            errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")] or proc.stderr.splitlines()[-1:]
            raise DemoUnavailable(f"could not download pose2sim=={version} from the package registry "
                                  f"({' '.join(errors)[-300:]}); with network access it is fetched once into {cache}")
    keep = re.compile(re.escape(DEMO) + r"(Config\.toml|calibration/.*|videos/.*)$")  # the inputs only
    try:
        with zipfile.ZipFile(wheels[-1]) as zf:
            zf.extractall(cache / f"pose2sim-{version}", [m for m in zf.namelist() if keep.match(m)])
    except zipfile.BadZipFile:
        raise DemoUnavailable(f"{wheels[-1]} is not a complete wheel (an interrupted download?); delete it") from None
    return root


def demo_cameras(root: Path) -> tuple[list, list[Path]]:
    """The demo's cameras (Qualisys calibration) and their videos, in the same order.

    Pose2Sim pairs the calibration's cameras, sorted naturally by name, with the
    video files sorted the same way; in this demo the Qualisys serials
    (cam01..cam04) are also the video names, so they are matched by name and
    the two orders are checked to agree.
    """
    from calibration.board_detection import natural_key
    from calibration.io import read_calibration

    calib = sorted((root / "calibration").glob("Calib*.qca.txt"))
    videos = sorted((root / "videos").glob("*.mp4"), key=lambda p: natural_key(p.stem))
    if not calib or not videos:
        raise DemoUnavailable(f"{root}: no calibration/Calib*.qca.txt or no videos/*.mp4; delete it to fetch it again")
    cams = read_calibration(calib[0])  # sorted naturally by name, as Pose2Sim does
    by_name = {v.stem: v for v in videos}
    if sorted(by_name) != sorted(c.name for c in cams) or [c.name for c in cams] != list(by_name):
        raise DemoUnavailable(f"{calib[0]}: cameras {[c.name for c in cams]} do not match the videos {list(by_name)}")
    return cams, [by_name[c.name] for c in cams]


EXAMPLE_CONFIG = Path("config/example.yaml")
EXAMPLE_DIR = Path("resources/pose2sim")


def prepare_example(root: str | Path = ".") -> Path:
    """Lay out the example under ``root``; returns the path of its workflow config."""
    root = Path(root)
    demo = fetch_demo()
    dest = root / EXAMPLE_DIR
    videos = sorted((demo / "videos").glob("*.mp4"))
    calib = sorted((demo / "calibration").glob("*.qca.txt"))
    if len(videos) < 2 or not calib:
        raise FileNotFoundError(f"'{demo}' lacks videos/*.mp4 or calibration/*.qca.txt: the Pose2Sim package layout changed")
    (dest / "videos").mkdir(parents=True, exist_ok=True)
    for src, dst in [*((v, dest / "videos" / v.name) for v in videos), (calib[0], dest / "Calib.qca.txt")]:
        if not dst.is_file() or dst.stat().st_size != src.stat().st_size:
            shutil.copyfile(src, dst)
    return root / EXAMPLE_CONFIG
