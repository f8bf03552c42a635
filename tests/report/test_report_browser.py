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
