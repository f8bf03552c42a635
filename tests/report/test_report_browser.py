"""Load the report in headless Chromium (DevTools protocol): the replay renders and the links move it.

Screenshots are kept in .test-artifacts/ (git-ignored) for a human to look at.
"""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from pipeline.report.html import build_report
from pipeline.synthetic.report_session import write_sample_session

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
ARTIFACTS = Path(__file__).resolve().parents[2] / ".test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--remote-allow-origins=*",
         "--hide-scrollbars"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make system-deps installs Debian's chromium)")


class Page:
    """The smallest DevTools client: send a command, wait for its answer."""

    def __init__(self, ws_url: str):
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
            elif msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def eval(self, expression: str):
        res = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"{expression}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            value = self.eval(expression)
            if value:
                return value
            time.sleep(0.1)
        raise TimeoutError(f"page never satisfied: {expression}")

    def screenshot(self, path: Path) -> np.ndarray:
        import cv2

        data = base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        end = time.monotonic() + 60
        while not (port_file.is_file() and port_file.read_text().strip()):
            if time.monotonic() > end or proc.poll() is not None:
                pytest.fail("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = Page(next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page"))
        page.send("Emulation.setDeviceMetricsOverride", width=1400, height=1100, deviceScaleFactor=1, mobile=False)
        page.send("Runtime.enable")
        yield page
        page.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _canvas_pixels(page: Page, img: np.ndarray) -> np.ndarray:
    r = page.eval("(() => { const b = document.querySelector('#viewport canvas').getBoundingClientRect();"
                  " return [b.left, b.top, b.width, b.height]; })()")
    x, y, w, h = (int(round(v)) for v in r)
    assert w > 300 and h > 300, f"canvas too small: {r}"
    return img[y:y + h, x:x + w]


def _red(px: np.ndarray) -> int:
    return int(((px[..., 0] > 170) & (px[..., 1] < 90) & (px[..., 2] < 90)).sum())


def test_replay_renders_and_violation_links_move_it(browser, tmp_path):
    faults = {2: ["soft_knee"], 3: ["neutral_spine", "hip_back"]}
    d = write_sample_session(tmp_path / "browser_session", n_reps=4, seconds=10, faults=faults)
    index = build_report(d, {"athlete": "Browser Test", "exercise": "deadlift"}, figures=False)
    browser.send("Page.navigate", url=index.as_uri())
    assert browser.wait_for("document.body && document.body.getAttribute('data-replay-ready')") == "webgl"
    assert browser.eval("document.querySelectorAll('#rep-table tbody tr').length") == 4
    errors = [ev["params"] for ev in browser.events if ev["method"] == "Runtime.exceptionThrown"]
    assert not errors, f"the page's scripts threw: {errors}"
    browser.eval("window.scrollTo(0, document.getElementById('replay-section').offsetTop)")
    time.sleep(0.5)

    before = _canvas_pixels(browser, browser.screenshot(ARTIFACTS / "report_frame0.png"))
    background = np.median(before.reshape(-1, 3), axis=0)
    drawn = (np.abs(before.astype(int) - background).sum(axis=2) > 60).mean()
    assert 0.005 < drawn < 0.6, f"replay canvas looks blank or garbage ({drawn:.3%} of pixels drawn)"
    assert _red(before) == 0  # frame 0: standing, nothing violated

    assert browser.eval("document.getElementById('replay').dataset.frame") == "0"
    link = browser.eval("(() => { const a = document.querySelector('td.v-fail a.jump'); a.click(); return +a.dataset.frame; })()")
    assert link > 0
    browser.wait_for(f"document.getElementById('replay').dataset.frame === '{link}'", timeout=5)
    assert browser.eval("document.getElementById('frame-label').textContent").startswith(f"frame {link} ")
    assert browser.eval("document.querySelectorAll('#now-violated li:not(.none)').length") >= 1
    browser.eval("window.scrollTo(0, document.getElementById('replay-section').offsetTop)")
    time.sleep(0.8)
    after = _canvas_pixels(browser, browser.screenshot(ARTIFACTS / "report_violation.png"))
    assert _red(after) > 50, "the violating segments are not drawn red at the violating frame"

    # Orbiting the camera (here: the front-view preset) changes the picture, not the frame.
    browser.eval("document.querySelector('[data-view=front]').click()")
    time.sleep(0.5)
    front = _canvas_pixels(browser, browser.screenshot(ARTIFACTS / "report_front.png"))
    assert np.abs(front.astype(int) - after.astype(int)).sum(axis=2).astype(bool).mean() > 0.01
    assert browser.eval("document.getElementById('replay').dataset.frame") == str(link)

    # Play advances the frames at the chosen speed.
    browser.eval("document.getElementById('speed').value = '2'; document.getElementById('speed').dispatchEvent(new Event('change'));"
                 "document.getElementById('play').click()")
    time.sleep(1.0)
    assert browser.eval("document.getElementById('replay').dataset.playing") == "1"
    assert int(browser.eval("document.getElementById('replay').dataset.frame")) > link + 10

    # The URL fragment selects a frame too (shareable links).
    browser.send("Page.navigate", url=index.as_uri() + "#frame=123")
    browser.wait_for("document.body && document.body.getAttribute('data-replay-ready')")
    assert browser.eval("document.getElementById('replay').dataset.frame") == "123"


# --- the video beside the replay -------------------------------------------------------------------

@pytest.fixture(scope="module")
def filmed_report(filmed, tmp_path_factory):
    out = tmp_path_factory.mktemp("filmed_report") / "report"
    index = build_report(filmed.dir, {"athlete": "Filmed", "exercise": "deadlift"}, out_dir=out, figures=False,
                         videos=filmed.videos, calibration=filmed.calibration)
    return index


def _expected_video_time(filmed, cam: str, frame: int) -> float:
    """Where the camera's video should be for timeline frame ``frame``, from sync.json and pose2d alone."""
    from pipeline.contracts.pose2d import read_pose2d
    from pipeline.contracts.sync import read_sync

    sync = read_sync(filmed.dir / "sync.json")
    t_cam = read_pose2d(filmed.dir / "pose2d" / f"{cam}.npz").t
    entry = sync.cameras[cam]
    on_reference = t_cam + entry["offset_s"] + entry["drift"] * t_cam
    i = int(np.abs(on_reference - sync.t[frame]).argmin())
    return (i + 0.5) / 30.0  # the middle of frame i of a 30 fps proxy


def _video_settled(page: Page, seconds: float, timeout: float = 10.0) -> None:
    page.wait_for(f"(() => {{ const v = hingecapVideo.video; return !v.seeking && v.readyState >= 2 "
                  f"&& Math.abs(v.currentTime - {seconds}) < 1e-3 && hingecapVideo.presented() !== null "
                  f"&& Math.abs(hingecapVideo.presented() - {seconds}) < 0.02; }})()", timeout)


def _overlay_alpha_at(page: Page, x: float, y: float) -> int:
    """The overlay canvas's largest alpha within 2 px of proxy pixel (x, y)."""
    return page.eval(f"(() => {{ const c = hingecapVideo.canvas, s = c.width / hingecapVideo.video.videoWidth;"
                     f" const d = c.getContext('2d').getImageData(Math.round({x} * s) - 2, Math.round({y} * s) - 2, 5, 5).data;"
                     f" let a = 0; for (let i = 3; i < d.length; i += 4) a = Math.max(a, d[i]); return a; }})()")


def test_video_follows_the_slider_the_rep_buttons_and_the_links(browser, filmed, filmed_report):
    from pipeline.common.landmarks import INDEX
    from pipeline.report.session import load_session

    s = load_session(filmed.dir)
    browser.events.clear()
    browser.send("Page.navigate", url=filmed_report.as_uri())
    assert browser.wait_for("document.body && document.body.getAttribute('data-replay-ready')") == "webgl"
    browser.wait_for("document.getElementById('video-panel').dataset.state === 'ready'", timeout=20)
    # Default: the camera that sees the athlete side-on (cam1; cam0 stands in front of them), offered with cam0.
    assert browser.eval("hingecapVideo.camera()") == "cam1"
    assert browser.eval("Array.from(document.querySelectorAll('#camera-select option')).map(o => o.value)") == ["cam0", "cam1"]

    # The slider: the video shows the camera frame of that instant, and the overlay is redrawn over it.
    frame = int(s.reps["reps"][1]["bottom"])
    draws = browser.eval("hingecapVideo.draws()")
    browser.eval(f"(() => {{ const r = document.getElementById('scrub'); r.value = '{frame}'; r.dispatchEvent(new Event('input')); }})()")
    expected = _expected_video_time(filmed, "cam1", frame)
    _video_settled(browser, expected)
    assert browser.eval("hingecapVideo.draws()") > draws
    hip = filmed.rig["cam1"].project(s.points[frame, INDEX["left_hip"]])
    assert _overlay_alpha_at(browser, *hip) > 200, "no skeleton drawn over the left hip"
    assert _overlay_alpha_at(browser, 5, 5) == 0  # and not everywhere
    browser.eval("window.scrollTo(0, document.getElementById('replay-section').offsetTop)")
    time.sleep(0.3)
    browser.screenshot(ARTIFACTS / "report_video_slider.png")

    # Another camera: its own clock (it started earlier: its frames are LATE ahead).
    browser.eval("(() => { const s = document.getElementById('camera-select'); s.value = 'cam0'; s.dispatchEvent(new Event('change')); })()")
    browser.wait_for("document.getElementById('video-panel').dataset.state === 'ready'", timeout=20)
    _video_settled(browser, _expected_video_time(filmed, "cam0", frame))
    assert _expected_video_time(filmed, "cam0", frame) - expected == pytest.approx(3 / 30.0)
    browser.eval("(() => { const s = document.getElementById('camera-select'); s.value = 'cam1'; s.dispatchEvent(new Event('change')); })()")
    browser.wait_for("document.getElementById('video-panel').dataset.state === 'ready'", timeout=20)

    # A rep button jumps both to the rep's start, then plays them together.
    start = int(s.reps["reps"][1]["start"])
    jumped = browser.eval("(() => { document.querySelectorAll('#rep-buttons button')[1].click();"
                          " return [hingecapReplay.state.frame, hingecapVideo.video.currentTime]; })()")
    assert jumped[0] == start and jumped[1] == pytest.approx(_expected_video_time(filmed, "cam1", start), abs=1e-3)
    time.sleep(1.2)
    state = browser.eval("[hingecapReplay.state.frame, hingecapVideo.video.currentTime, hingecapVideo.video.paused]")
    assert state[0] > start + 10 and not state[2], f"the replay and the video did not play on: {state}"
    assert abs(state[1] - _expected_video_time(filmed, "cam1", state[0])) <= 2.5 / 30, f"out of step: {state}"
    browser.eval("document.getElementById('play').click()")  # pause
    # a frame the video presented just before the pause may still move the replay by one: read it once it rests
    paused = browser.wait_for("(() => { const f = hingecapReplay.state.frame; if (window._lastPaused === f) return f + 1;"
                              " window._lastPaused = f; return 0; })()", timeout=10) - 1
    # paused mid-play the video seeks to the middle of the replay's frame even from inside it (the next frame may
    # be presented as the pause lands): it rests on exactly that frame
    shown = "Math.round(hingecapVideo.presented() * 30)"  # a frame's start time, in whole ms
    middle = _expected_video_time(filmed, "cam1", paused)
    frame = int(np.floor(middle * 30))
    browser.wait_for(f"(() => {{ const v = hingecapVideo.video; return v.paused && !v.seeking && v.readyState >= 2 "
                     f"&& Math.abs(v.currentTime - {middle}) < 1e-3 "
                     f"&& hingecapVideo.presented() !== null && {shown} === {frame}; }})()", timeout=20)

    # The "frame N" link of a failing cell.
    link = browser.eval("(() => { const a = document.querySelector('td.v-fail a.jump'); a.click(); return +a.dataset.frame; })()")
    assert browser.eval("hingecapReplay.state.frame") == link
    _video_settled(browser, _expected_video_time(filmed, "cam1", link))
    errors = [ev["params"] for ev in browser.events if ev["method"] == "Runtime.exceptionThrown"]
    assert not errors, f"the page's scripts threw: {errors}"


def test_each_fail_cell_has_its_picture(browser, filmed_report):
    browser.send("Page.navigate", url=filmed_report.as_uri())
    browser.wait_for("document.body && document.body.getAttribute('data-replay-ready')")
    cells = browser.eval("document.querySelectorAll('#rep-table td.v-fail').length")
    assert cells >= 1
    pictures = browser.eval("""Array.from(document.querySelectorAll('#rep-table td.v-fail')).map(td => {
        const a = td.querySelector('a.pic-link'); if (!a) return null;
        const img = document.querySelector(a.getAttribute('href') + ' img');
        return img && img.complete ? [img.naturalWidth, img.naturalHeight] : null; })""")
    assert len(pictures) == cells and all(p and p[0] == 480 and p[1] > 200 for p in pictures), pictures
    browser.eval("document.querySelector('#rep-table td.v-fail a.pic-link').click()")
    time.sleep(0.5)
    browser.screenshot(ARTIFACTS / "report_violation_picture.png")


def test_page_mailed_alone_shows_the_key_frames(browser, filmed_report, tmp_path):
    alone = tmp_path / "index.html"
    alone.write_bytes(filmed_report.read_bytes())  # without its video/ folder
    browser.send("Page.navigate", url=alone.as_uri())
    browser.wait_for("document.body && document.body.getAttribute('data-replay-ready')")
    browser.wait_for("document.getElementById('video-panel').dataset.state === 'missing'", timeout=20)
    assert "not beside this page" in browser.eval("document.getElementById('video-note').textContent")
    shown = browser.eval("Array.from(document.querySelectorAll('#key-frames img')).filter(i => i.offsetWidth > 0).length")
    assert shown == 4  # start and bottom of the two reps
    browser.eval("window.scrollTo(0, document.getElementById('replay-section').offsetTop)")
    time.sleep(0.5)
    browser.screenshot(ARTIFACTS / "report_key_frames.png")


def test_replay_draws_no_line_to_the_origin_when_the_first_frames_lack_landmarks(browser, tmp_path):
    from pipeline.contracts.kinematics import read_kinematics, write_kinematics
    from pipeline.contracts.pose3d import read_pose3d, write_pose3d

    d = write_sample_session(tmp_path / "late_start", n_reps=2, seconds=6, faults={2: ["soft_knee"]})
    pose = read_pose3d(d / "pose3d.npz")
    lost = np.r_[0:25, 100:110]  # nobody tracked during the first frames, and a gap later on
    xyz = pose.xyz.copy()
    xyz[lost] = np.nan
    write_pose3d(d / "pose3d.npz", xyz, pose.t, fps=pose.fps, err=pose.err, ncams=pose.ncams)
    kin = read_kinematics(d / "kinematics.csv")
    spine = [c for c in kin.columns if c.split("_")[0] in ("head", "upper", "sacrum")]
    kin.loc[lost, spine] = np.nan  # the spine points are the analysis's, built from the landmarks
    write_kinematics(d / "kinematics.csv", kin)
    index = build_report(d, {}, figures=False)
    browser.send("Page.navigate", url=index.as_uri())
    assert browser.wait_for("document.body && document.body.getAttribute('data-replay-ready')") == "webgl"
    trajectories = browser.eval("hingecapReplay.trajectories()")
    assert set(trajectories) >= {"head", "sacrum", "left hip"}
    for name, flat in trajectories.items():
        seg = np.asarray(flat, float).reshape(-1, 2, 3)
        assert len(seg), name
        assert np.linalg.norm(seg, axis=2).min() > 0.3, f"{name}: a vertex at the origin"
        # One segment per pair of consecutive tracked frames: nothing bridges the gap or starts at frame 0.
        assert np.linalg.norm(seg[:, 1] - seg[:, 0], axis=1).max() < 0.1, name
        assert len(seg) == pose.xyz.shape[0] - 1 - 25 - 11, name  # 25 leading frames, a gap of 10 (11 pairs)
    browser.eval("document.querySelector('[data-view=top]').click(); hingecapReplay.setFrame(60)")
    time.sleep(0.5)
    browser.screenshot(ARTIFACTS / "report_late_start.png")
