/* hingecap report: 3D replay of the skeleton, the spine and the hip trajectories (three.js), and the
 * camera video beside it with the 2D skeleton drawn over it, both on one timeline.
 * Reads the JSON in #replay-data (see pipeline/report/replay.py and evidence.py). The current frame is
 * mirrored in #replay's data-frame attribute and #frame-label; "#frame=N" in the URL selects frame N. */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("replay-data").textContent);
  var N = D.n_frames, P = D.n_points, E = D.edges.length, MISSING = -32768;
  var root = document.getElementById("replay"), viewport = document.getElementById("viewport");
  var COLOURS = { left: 0x1f9e89, right: 0x7a55c7, centre: 0x8a94a6, spine: 0x1a5ccc, bad: 0xd62728, warn: 0xf0a000 };
  var TRAJ_COLOURS = { "head": "#7b2cbf", "upper back": "#1a5ccc", "sacrum": "#0b8a5f", "left hip": "#e08a00", "right hip": "#b5651d" };

  // Series come as base64 of zlib(frame-to-frame differences) (replay.pack_series); typed arrays wrap
  // like the writer's int16/int32 arithmetic did, so summing the differences back is exact.
  function unpack(text, Type, stride) {
    var bin = atob(text), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Response(stream).arrayBuffer().then(function (buf) {
      var v = new Type(buf);
      for (var k = stride; k < v.length; k++) v[k] = v[k] + v[k - stride];
      return v;
    });
  }
  function fail(message) {
    var msg = document.createElement("div");
    msg.className = "nogl"; msg.textContent = message; viewport.appendChild(msg);
    document.body.setAttribute("data-replay-ready", "failed");
  }
  if (typeof DecompressionStream === "undefined") {
    fail("The replay needs a browser from 2023 or later (Chrome 80, Firefox 113, Safari 16.4): this one cannot unpack its data.");
    return;
  }
  var V = D.video, jobs = [unpack(D.points, Int16Array, P * 3)];
  if (V) V.cameras.forEach(function (c) { jobs.push(unpack(c.frames, Int32Array, 1), unpack(c.xy, Int16Array, V.points.length * 2)); });
  Promise.all(jobs).then(start, function (err) { fail("The replay data could not be read (" + err + ")."); });

  function start(arrays) {
  // Positions: int16 millimetres -> float32 metres (NaN where missing).
  var mm = arrays[0], pos = new Float32Array(mm.length), i;
  for (i = 0; i < mm.length; i++) pos[i] = mm[i] === MISSING ? NaN : mm[i] / 1000;

  // Per-frame segment levels from the runs of each cue: 0 none, 1 warn (amber), 2 fail (red).
  var mask = new Uint8Array(N * E);
  D.runs.forEach(function (run) {
    var edges = (D.cues[run.cue] || { edges: [] }).edges, level = run.level === "fail" ? 2 : 1;
    for (var f = Math.max(0, run.start); f <= Math.min(N - 1, run.end); f++)
      for (var k = 0; k < edges.length; k++) mask[f * E + edges[k]] = Math.max(mask[f * E + edges[k]], level);
  });

  function p(f, j) { var o = (f * P + j) * 3; return [pos[o], pos[o + 1], pos[o + 2]]; }
  function ok(v) { return v[0] === v[0] && v[1] === v[1] && v[2] === v[2]; }

  var state = { frame: 0, playing: false, speed: 1, acc: 0, dirty: true };
  var gl = null;
  try { gl = makeScene(); } catch (err) {
    var msg = document.createElement("div");
    msg.className = "nogl"; msg.textContent = "The 3D replay needs WebGL, which this browser does not offer (" + err.message + ").";
    viewport.appendChild(msg);
  }

  function makeScene() {
    THREE.Object3D.DEFAULT_UP.set(0, 0, 1);
    var renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
    renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    viewport.appendChild(renderer.domElement);
    var scene = new THREE.Scene();
    scene.background = new THREE.Color(0xfbfcfe);
    scene.add(new THREE.HemisphereLight(0xffffff, 0x8090a0, 1.6));
    var sun = new THREE.DirectionalLight(0xffffff, 1.4); sun.position.set(2, -3, 5); scene.add(sun);
    var camera = new THREE.PerspectiveCamera(38, 1, 0.05, 100);

    // Where the athlete is: the median sacrum position.
    var sx = [], sy = [], sz = [], sacrum = D.spine_points[2];
    for (var f = 0; f < N; f += Math.max(1, Math.floor(N / 200))) { var q = p(f, sacrum); if (ok(q)) { sx.push(q[0]); sy.push(q[1]); sz.push(q[2]); } }
    function median(a) { a.sort(function (x, y) { return x - y; }); return a.length ? a[a.length >> 1] : 0; }
    var target = new THREE.Vector3(median(sx), median(sy), Math.max(0.7, median(sz) * 0.95));
    var grid = new THREE.GridHelper(4, 16, 0xc5ccd6, 0xe1e5eb);
    grid.rotation.x = Math.PI / 2; grid.position.set(target.x, target.y, 0); scene.add(grid);

    var bone = new THREE.CylinderGeometry(1, 1, 1, 10, 1);
    var bones = D.edges.map(function (e, k) {
      var spine = D.side[k] === "spine";
      var m = new THREE.Mesh(bone, new THREE.MeshLambertMaterial({ color: COLOURS[D.side[k]] }));
      m.userData.r = spine ? 0.022 : 0.014; m.userData.base = COLOURS[D.side[k]];
      scene.add(m); return m;
    });
    var joints = new THREE.InstancedMesh(new THREE.SphereGeometry(0.022, 12, 8), new THREE.MeshLambertMaterial({ color: 0x596273 }), P);
    scene.add(joints);
    var spineBalls = D.spine_points.map(function () {
      var m = new THREE.Mesh(new THREE.SphereGeometry(0.04, 16, 12), new THREE.MeshLambertMaterial({ color: COLOURS.spine }));
      scene.add(m); return m;
    });

    // A trajectory is the segments between consecutive frames where the point is known: a missing
    // point is not drawn, so no segment leads to the origin or bridges a gap. before[f] counts the
    // segments ending before frame f, which is what the trail's draw range needs.
    var trajs = {};
    Object.keys(D.trajectories).forEach(function (name) {
      var j = D.trajectories[name], arr = new Float32Array(Math.max(1, N - 1) * 6), before = new Int32Array(N + 1), n = 0;
      for (var f = 0; f < N; f++) {
        before[f] = n;
        if (f + 1 < N) { var a = p(f, j), b = p(f + 1, j); if (ok(a) && ok(b)) { arr.set(a, n * 6); arr.set(b, n * 6 + 3); n++; } }
      }
      before[N] = n;
      var geom = new THREE.BufferGeometry(); geom.setAttribute("position", new THREE.BufferAttribute(arr.subarray(0, n * 6), 3));
      var colour = new THREE.Color(TRAJ_COLOURS[name] || "#555");
      var full = new THREE.LineSegments(geom, new THREE.LineBasicMaterial({ color: colour, transparent: true, opacity: 0.22 }));
      // drawRange belongs to a geometry: the trail gets its own over the same positions.
      var trailGeom = new THREE.BufferGeometry(); trailGeom.setAttribute("position", geom.getAttribute("position"));
      var trail = new THREE.LineSegments(trailGeom, new THREE.LineBasicMaterial({ color: colour }));
      scene.add(full); scene.add(trail);
      trajs[name] = { full: full, trail: trail, before: before, on: name !== "left hip" && name !== "right hip" };
      full.visible = trail.visible = trajs[name].on && n > 0;
    });

    var orbit = { az: 0, el: 0.18, dist: 3.0 };
    var facing = Math.atan2(D.facing[1], D.facing[0]);
    var VIEWS = { side: [facing - Math.PI / 2, 0.12], front: [facing, 0.12], three: [facing - Math.PI / 4, 0.35], top: [facing - Math.PI / 2, 1.45] };
    function view(name) { orbit.az = VIEWS[name][0]; orbit.el = VIEWS[name][1]; orbit.dist = 3.0; state.dirty = true; }
    view("side");
    function placeCamera() {
      // A narrow viewport (beside the video) sees less sideways: step back so a hinge still fits.
      var c = Math.cos(orbit.el), d = orbit.dist * Math.max(1, 1.3 / camera.aspect);
      camera.position.set(target.x + d * c * Math.cos(orbit.az), target.y + d * c * Math.sin(orbit.az), target.z + d * Math.sin(orbit.el));
      camera.lookAt(target);
    }
    var drag = null, el = renderer.domElement;
    el.addEventListener("pointerdown", function (ev) { drag = [ev.clientX, ev.clientY]; el.setPointerCapture(ev.pointerId); viewport.style.cursor = "grabbing"; });
    el.addEventListener("pointermove", function (ev) {
      if (!drag) return;
      orbit.az -= (ev.clientX - drag[0]) * 0.008; orbit.el = Math.max(-0.2, Math.min(1.5, orbit.el + (ev.clientY - drag[1]) * 0.006));
      drag = [ev.clientX, ev.clientY]; state.dirty = true;
    });
    el.addEventListener("pointerup", function () { drag = null; viewport.style.cursor = ""; });
    el.addEventListener("wheel", function (ev) { ev.preventDefault(); orbit.dist = Math.max(1, Math.min(12, orbit.dist * Math.exp(ev.deltaY * 0.001))); state.dirty = true; }, { passive: false });
    el.addEventListener("dblclick", function () { view("side"); });

    function resize() {
      var w = viewport.clientWidth || 640, h = viewport.clientHeight || 480;
      renderer.setSize(w, h, false); camera.aspect = w / h; camera.updateProjectionMatrix(); state.dirty = true;
    }
    new ResizeObserver(resize).observe(viewport); resize();

    var up = new THREE.Vector3(0, 1, 0), dir = new THREE.Vector3(), mat = new THREE.Matrix4(), hide = new THREE.Matrix4().makeScale(0, 0, 0);
    function pose(f) {
      for (var k = 0; k < E; k++) {
        var a = p(f, D.edges[k][0]), b = p(f, D.edges[k][1]), m = bones[k];
        if (!ok(a) || !ok(b)) { m.visible = false; continue; }
        dir.set(b[0] - a[0], b[1] - a[1], b[2] - a[2]);
        var len = dir.length(); m.visible = len > 1e-6; if (!m.visible) continue;
        m.position.set((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2);
        m.quaternion.setFromUnitVectors(up, dir.divideScalar(len));
        var level = mask[f * E + k], r = level ? m.userData.r * 1.5 : m.userData.r;
        m.scale.set(r, len, r);
        m.material.color.setHex(level === 2 ? COLOURS.bad : level === 1 ? COLOURS.warn : m.userData.base);
      }
      for (var j = 0; j < P; j++) {
        var q = p(f, j);
        if (ok(q) && D.spine_points.indexOf(j) < 0) { mat.makeTranslation(q[0], q[1], q[2]); joints.setMatrixAt(j, mat); } else joints.setMatrixAt(j, hide);
      }
      joints.instanceMatrix.needsUpdate = true;
      D.spine_points.forEach(function (j, k) { var q = p(f, j); spineBalls[k].visible = ok(q); if (ok(q)) spineBalls[k].position.set(q[0], q[1], q[2]); });
      var rep = repAt(f), s = rep ? rep.start : Math.max(0, f - Math.round(2 * D.fps));
      Object.keys(trajs).forEach(function (name) {
        var t = trajs[name]; t.trail.geometry.setDrawRange(2 * t.before[s], 2 * (t.before[f] - t.before[s]));
      });
    }
    function draw() {
      placeCamera();
      renderer.render(scene, camera);
    }
    return { pose: pose, draw: draw, view: view, trajs: trajs, canvas: renderer.domElement };
  }

  // --- the camera video -------------------------------------------------------------------------
  // Each camera's proxy frame at each timeline frame comes from the page data (-1: not filming).
  // Paused, every frame change seeks the video; playing, the video runs and, where the browser
  // reports each presented frame (requestVideoFrameCallback), it drives the replay, so the 3D
  // skeleton and the overlay show the very frame on screen; elsewhere the replay's clock drives
  // and the video is pulled back when it drifts by more than a few frames.
  function makeVideo(arrs) {
    var panel = document.getElementById("video-panel"), video = document.getElementById("video");
    var canvas = document.getElementById("video-overlay"), note = document.getElementById("video-note");
    var select = document.getElementById("camera-select"), keyFrames = document.getElementById("key-frames");
    var box = document.getElementById("video-box"), ctx = canvas.getContext("2d");
    var cams = {}, slot = {}, U = V.points.length;
    V.cameras.forEach(function (c, k) {
      var fr = arrs[2 * k], first = 0, last = N - 1;
      while (first < N - 1 && fr[first] < 0) first++;
      while (last > first && fr[last] < 0) last--;
      cams[c.name] = { info: c, frames: fr, xy: arrs[2 * k + 1], first: first, last: last };
    });
    V.points.forEach(function (j, k) { slot[j] = k; });
    var cam = null, failed = false, draws = 0, presented = null, playing = false;
    var hasVFC = "requestVideoFrameCallback" in HTMLVideoElement.prototype;
    function hex(c) { return "#" + ("00000" + c.toString(16)).slice(-6); }
    var CSS = { left: hex(COLOURS.left), right: hex(COLOURS.right), centre: hex(COLOURS.centre), spine: hex(COLOURS.spine), bad: hex(COLOURS.bad), warn: hex(COLOURS.warn) };

    function say(text) { note.textContent = text; }
    function choose(name) {
      cam = cams[name] || cams[V.best]; failed = false; box.hidden = false; keyFrames.hidden = true;
      panel.setAttribute("data-state", "loading"); panel.setAttribute("data-camera", cam.info.name);
      box.style.aspectRatio = cam.info.width + " / " + cam.info.height;
      say("");
      video.src = cam.info.src;
      seek(state.frame); draw(state.frame);
    }
    function time(f) { var i = cam.frames[f]; return i < 0 ? null : (i + 0.5) / cam.info.fps; }
    // Seeks the video to the middle of frame f's camera frame; a video already within a quarter frame of it
    // stays, unless always (then it seeks even from inside that frame: see play(false)).
    function seek(f, always) {
      if (failed || !cam) return;
      var t = time(f);
      if (t === null) { say("camera " + cam.info.name + " was not filming at this instant"); return; }
      if (note.textContent.indexOf("not filming") >= 0) say("");
      if (always || Math.abs(video.currentTime - t) > 0.25 / cam.info.fps) video.currentTime = t;
    }
    function draw(f) {
      var w = box.clientWidth, h = box.clientHeight, dpr = window.devicePixelRatio || 1;
      if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
        canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
      }
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      if (failed || !cam || cam.frames[f] < 0) return;
      var s = canvas.width / cam.info.width, base = f * U * 2, xy = cam.xy;
      ctx.lineCap = "round";
      for (var pass = 0; pass < 2; pass++) {
        for (var k = 0; k < E; k++) {
          var a = base + slot[D.edges[k][0]] * 2, b = base + slot[D.edges[k][1]] * 2;
          if (xy[a] === MISSING || xy[a + 1] === MISSING || xy[b] === MISSING || xy[b + 1] === MISSING) continue;
          var level = mask[f * E + k];
          if ((level > 0) !== (pass === 1)) continue;  // violated segments on top
          var width = (level ? 4 : 2) * dpr;
          ctx.beginPath(); ctx.moveTo(xy[a] * s, xy[a + 1] * s); ctx.lineTo(xy[b] * s, xy[b + 1] * s);
          ctx.strokeStyle = "rgba(20,20,20,0.75)"; ctx.lineWidth = width + 2 * dpr; ctx.stroke();
          ctx.strokeStyle = level === 2 ? CSS.bad : level === 1 ? CSS.warn : CSS[D.side[k]]; ctx.lineWidth = width; ctx.stroke();
        }
      }
      draws++;
    }
    // The first timeline frame that shows camera frame i or a later one (frames rise with f while the camera films).
    function frameFor(i) {
      var fr = cam.frames, lo = cam.first, hi = cam.last;
      while (lo < hi) { var mid = (lo + hi) >> 1; if (fr[mid] >= i) hi = mid; else lo = mid + 1; }
      return lo;
    }
    function onFrame(now, meta) {
      presented = meta.mediaTime;
      if (playing && state.playing && !failed) {
        var f = frameFor(Math.round(meta.mediaTime * cam.info.fps));
        if (f > state.frame) setFrame(f, true);
        if (f >= N - 1) { setPlaying(false); }
      }
      video.requestVideoFrameCallback(onFrame);
    }
    if (hasVFC) video.requestVideoFrameCallback(onFrame);
    video.addEventListener("loadeddata", function () { panel.setAttribute("data-state", "ready"); seek(state.frame); draw(state.frame); });
    video.addEventListener("ended", function () { if (state.playing) setPlaying(false); });
    video.addEventListener("error", function () {
      failed = true; playing = false;
      panel.setAttribute("data-state", "missing"); box.hidden = true; keyFrames.hidden = false;
      say("The video " + cam.info.src + " is not beside this page (it sits in the report's video/ folder): "
          + "the start and bottom of each rep are shown instead.");
      ctx.clearRect(0, 0, canvas.width, canvas.height);
    });
    select.addEventListener("change", function () { var was = state.playing; setPlaying(false); choose(select.value); if (was) setPlaying(true); });
    new ResizeObserver(function () { draw(state.frame); }).observe(box);
    choose(V.best);
    return {
      // The replay moved to frame f (fromVideo: because the video presented it). Paused, the video seeks to
      // it; playing on the replay's clock, the video is pulled back only when it drifts by 3 frames.
      show: function (f, fromVideo) {
        draw(f);
        if (fromVideo || failed || !cam) return;
        if (!playing) { seek(f); return; }
        var t = time(f);
        if (t !== null && Math.abs(video.currentTime - t) > 3 / cam.info.fps) video.currentTime = t;
      },
      play: function (on) {
        if (failed) return;
        playing = on;
        if (on) { video.playbackRate = state.speed; seek(state.frame); var pr = video.play(); if (pr && pr.catch) pr.catch(function () {}); }
        // Paused mid-play, the video may still present the next frame as the pause lands (its currentTime
        // stays inside the replay's frame, but the frame due at the next screen refresh is shown): seek it
        // to the replay's frame even from inside that frame, so it rests on exactly the replay's frame.
        else { var was = !video.paused; video.pause(); seek(state.frame, was); }
      },
      drives: function () { return playing && hasVFC && !failed && cam.frames[state.frame] >= 0; },
      speed: function (x) { video.playbackRate = x; },
      api: {
        camera: function () { return cam.info.name; }, choose: function (name) { select.value = name; choose(name); },
        expectedTime: function (f) { return time(f); }, draws: function () { return draws; },
        presented: function () { return presented; }, failed: function () { return failed; }, video: video, canvas: canvas
      }
    };
  }

  function repAt(f) {
    for (var r = 0; r < D.reps.length; r++) if (f >= D.reps[r].start && f <= D.reps[r].end) return D.reps[r];
    return null;
  }

  var label = document.getElementById("frame-label"), repLabel = document.getElementById("rep-label");
  var scrub = document.getElementById("scrub"), nowList = document.getElementById("now-violated");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#rep-table tbody tr"));
  scrub.max = String(Math.max(0, N - 1));

  var vid = V ? makeVideo(arrays.slice(1)) : null;

  function setFrame(f, fromVideo) {
    f = Math.max(0, Math.min(N - 1, Math.round(f)));
    state.frame = f; state.dirty = true;
    root.setAttribute("data-frame", String(f));
    scrub.value = String(f);
    var rep = repAt(f);
    label.textContent = "frame " + f + " / " + (N - 1) + " · " + (D.t0 + f / D.fps).toFixed(2) + " s";
    repLabel.textContent = rep ? "rep " + rep.index : "";
    rows.forEach(function (row) { row.classList.toggle("current", f >= +row.dataset.start && f <= +row.dataset.end); });
    var now = D.runs.filter(function (run) { return f >= run.start && f <= run.end; });
    nowList.innerHTML = "";
    if (!now.length) { var li = document.createElement("li"); li.className = "none"; li.textContent = "nothing"; nowList.appendChild(li); }
    now.forEach(function (run) {
      var li = document.createElement("li"), w = document.createElement("span");
      li.textContent = run.cue.replace(/_/g, " ") + " (rep " + run.rep + (run.level === "warn" ? ", borderline" : "") + ")";
      if (run.level === "warn") li.className = "warn";
      w.className = "words"; w.textContent = (D.cues[run.cue] || {}).words || ""; li.appendChild(w); nowList.appendChild(li);
    });
    if (gl) gl.pose(f);
    if (vid) vid.show(f, fromVideo);
  }

  var playBtn = document.getElementById("play");
  function setPlaying(on) {
    state.playing = on; state.acc = 0; root.setAttribute("data-playing", on ? "1" : "0");
    playBtn.innerHTML = on ? "&#10074;&#10074; Pause" : "&#9654; Play";
    if (vid) vid.play(on);
  }
  playBtn.addEventListener("click", function () { if (!state.playing && state.frame >= N - 1) setFrame(0); setPlaying(!state.playing); });
  document.getElementById("step-back").addEventListener("click", function () { setPlaying(false); setFrame(state.frame - 1); });
  document.getElementById("step-fwd").addEventListener("click", function () { setPlaying(false); setFrame(state.frame + 1); });
  document.getElementById("speed").addEventListener("change", function (ev) { state.speed = parseFloat(ev.target.value) || 1; if (vid) vid.speed(state.speed); });
  scrub.addEventListener("input", function () { setPlaying(false); setFrame(+scrub.value); });
  document.querySelectorAll("[data-view]").forEach(function (b) { b.addEventListener("click", function () { if (gl) gl.view(b.dataset.view); }); });
  document.addEventListener("keydown", function (ev) {
    if (ev.target.tagName === "INPUT" || ev.target.tagName === "SELECT") return;
    if (ev.code === "Space") { ev.preventDefault(); playBtn.click(); }
    else if (ev.key === "ArrowLeft") { setPlaying(false); setFrame(state.frame - 1); }
    else if (ev.key === "ArrowRight") { setPlaying(false); setFrame(state.frame + 1); }
  });

  var repButtons = document.getElementById("rep-buttons"), bands = document.getElementById("bands");
  var span = Math.max(1, N - 1);
  D.reps.forEach(function (rep) {
    var b = document.createElement("button");
    b.type = "button"; b.textContent = rep.index; b.className = "rb-" + rep.verdict; b.title = "rep " + rep.index + ": " + rep.verdict;
    b.addEventListener("click", function () { jump(rep.start, true); });
    repButtons.appendChild(b);
    var band = document.createElement("div");
    band.className = "band b-" + rep.verdict; band.title = "rep " + rep.index;
    band.style.left = (100 * rep.start / span) + "%"; band.style.width = (100 * (rep.end - rep.start) / span) + "%";
    band.addEventListener("click", function () { jump(rep.start, false); });
    bands.appendChild(band);
  });
  D.runs.forEach(function (run) {
    var t = document.createElement("div");
    t.className = "tick " + run.level; t.title = run.cue + " (rep " + run.rep + ", " + run.level + ")";
    t.style.left = (100 * run.start / span) + "%"; t.style.width = Math.max(0.15, 100 * (run.end - run.start) / span) + "%";
    bands.appendChild(t);
  });
  if (gl) Object.keys(gl.trajs).forEach(function (name) {
    var l = document.createElement("label"), c = document.createElement("input"), dot = document.createElement("span");
    c.type = "checkbox"; c.checked = gl.trajs[name].on; dot.className = "dot"; dot.style.background = TRAJ_COLOURS[name] || "#555";
    c.addEventListener("change", function () { var t = gl.trajs[name]; t.on = c.checked; t.full.visible = t.trail.visible = c.checked && t.before[N] > 0; state.dirty = true; });
    l.appendChild(c); l.appendChild(dot); l.appendChild(document.createTextNode(name)); document.getElementById("traj-toggles").appendChild(l);
  });

  function jump(f, play) {
    setPlaying(false); setFrame(f);
    if (play) setPlaying(true);
  }
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest("a.jump");
    if (!a) return;
    ev.preventDefault();
    jump(+a.dataset.frame, false);
    if (history.replaceState) history.replaceState(null, "", "#frame=" + a.dataset.frame);
    document.getElementById("replay-section").scrollIntoView({ behavior: "smooth", block: "start" });
  });
  function fromHash() {
    var m = /frame=(\d+)/.exec(location.hash);
    if (m) { setPlaying(false); setFrame(+m[1]); }
  }
  window.addEventListener("hashchange", fromHash);

  var last = null;
  function tick(now) {
    if (state.playing && last !== null && !(vid && vid.drives())) {
      state.acc += (now - last) / 1000 * D.fps * state.speed;
      if (state.acc >= 1) {
        var step = Math.floor(state.acc); state.acc -= step;
        if (state.frame + step >= N - 1) { setFrame(N - 1); setPlaying(false); } else setFrame(state.frame + step);
      }
    }
    last = now;
    if (gl && state.dirty) { gl.draw(); state.dirty = false; }
    requestAnimationFrame(tick);
  }
  setFrame(0); fromHash();
  document.body.setAttribute("data-replay-ready", gl ? "webgl" : "nogl");
  requestAnimationFrame(tick);
  // Expose for debugging and tests.
  window.hingecapReplay = {
    setFrame: setFrame, state: state,
    trajectories: function () {  // each trajectory's segment end points, metres
      var out = {};
      if (gl) Object.keys(gl.trajs).forEach(function (name) { out[name] = Array.from(gl.trajs[name].full.geometry.getAttribute("position").array); });
      return out;
    }
  };
  if (vid) window.hingecapVideo = vid.api;
  }
})();
