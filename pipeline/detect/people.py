"""BlazePose for every person in a video, at little more than the cost of one.

MediaPipe's ``solutions.pose`` follows one person per video: whoever it finds
first. Its Tasks ``PoseLandmarker`` finds several, but reruns the person
detector on every frame in which it tracks fewer than ``num_poses`` people and
the landmark model on every person in every frame (1.8x the single-person
time for two people, 2.5x for three), and returns unsmoothed landmarks in an
order that changes between frames. Here the two Tasks sub-graphs
(``PoseDetectorGraph``, ``SinglePoseLandmarksDetectorGraph``) run on the
wheel's models (``pipeline.detect.models``) and this module schedules them:

- the **detector** runs every ``detect_every_s`` seconds, and on every frame in
  which nobody is tracked or the focus has strayed from the athlete's place; a
  detection centred where no track is starts a track in a free person slot
  (up to ``max_people``);
- the **focus** track, the person most likely to be the athlete, gets the
  landmark model on every frame, smoothed and re-centred exactly as
  ``solutions.pose`` does (one-euro filters on the landmarks, the next frame's
  region from the heavily smoothed auxiliary landmarks): for one person this
  path gives what ``solutions.pose`` gave, to about half a pixel;
- every **other** track shares ``others_budget`` landmark runs per frame
  (0.3, a run when 1 is saved up: one other person is measured every 4th frame, two every 8th), its
  region refreshed by the detector in between. Frames in which a track was
  not measured keep NaN landmarks: the association across cameras
  (``pipeline.triangulate.people``) holds the nearest measurement.

Cost per frame: one landmark run, 0.3 more when anyone else is there, and a
detector run every 0.5 s: 1.0-1.5x ``solutions.pose`` (benchmarks/detection.py).
Measuring everyone on every frame would cost about one more landmark run per
person (1.8x for two people, 2.5x for three, as PoseLandmarker does).

Who is the focus: with the camera's calibration, the person whose feet stand
nearest a floor point (the ``athlete:`` setting's position, else the centre of
the capture area: where the cameras' optical axes meet); without it, the
person nearest the image centre for their size. A track keeps the focus
until another is nearer by ``FOCUS_MARGIN_M`` (or ``FOCUS_MARGIN_IMAGE``).
Which person really is the athlete is decided later, across cameras.

Person slots keep their person while the track lasts; a lost track frees its
slot for the next person found (no re-identification within one camera).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import cv2
import numpy as np

from calibration.floor import floor_points
from pipeline.common.landmarks import INDEX, N_LANDMARKS
from pipeline.contracts.silhouette import CROP_SIZE, crop_mask
from pipeline.detect.models import PoseModelError, cached_pose_task, unpacked_models

log = logging.getLogger(__name__)

MAX_PEOPLE = 4
DETECT_EVERY_S = 0.5  # a person walking in is found within half a second
OTHERS_BUDGET = 0.3  # landmark runs per frame shared by the non-focus tracks
MIN_DETECTION = 0.5  # detector score (solutions.pose: min_detection_confidence)
MIN_PRESENCE = 0.5  # landmark model's person-present score to keep a track (solutions.pose: min_tracking_confidence)
SAME_CENTRE_FRACTION = 0.1  # a detection centred within this fraction of its side of a track's centre is that track
SAME_SIZE_RATIO = 1.5  # ... if the two regions are of about one size (at most this ratio)
DUPLICATE_FRACTION = 0.1  # two tracks whose landmarks lie within this fraction of a body height are one person
FOCUS_MARGIN_M = 0.3  # another person must stand this much nearer the floor target to take the focus
FOCUS_MARGIN_IMAGE = 0.15  # ... or this much nearer the image centre (in body heights) without a calibration
FOCUS_ASTRAY_M = 1.0  # a focus farther than this from the floor target has likely jumped to someone passing by
FEET = [INDEX[n] for n in ("left_heel", "right_heel", "left_foot_index", "right_foot_index")]
FEET_HEIGHT_M = 0.02  # heel and toe landmarks sit about this high above the floor

# The filters of solutions.pose as mediapipe 0.10.21 builds them (its PoseLandmarkFiltering graph, read from
# the wheel's binary: the pbtxt in mediapipe's repository has other values): one-euro filters whose value
# scale is the person's size (the side of the region the two auxiliary landmarks span).
LANDMARK_FILTER = (0.05, 80.0, 1.0)  # one-euro min_cutoff, beta, derivative cutoff
AUX_FILTER = (0.01, 10.0, 1.0)  # the two auxiliary landmarks that place the next frame's region
VISIBILITY_ALPHA = 0.1  # low-pass on the landmark visibilities
FILTER_CLOCK_FPS = 30.0  # solutions.pose times its frames 1/30 s apart, whatever the video's rate
ROI_SCALE = 1.25  # pose_landmarks_to_roi.pbtxt: the region is 1.25 x the auxiliary landmarks' box


@dataclass
class PeopleTrack:
    """What the tracker found in one video."""
    xy: np.ndarray  # (F, P, 33, 2) pixels, NaN where the slot was not measured
    conf: np.ndarray  # (F, P, 33) visibility, 0 where not measured
    focus: np.ndarray  # (F,) int8 the slot measured on every frame (-1: nobody tracked)
    size: tuple[int, int]
    mask: np.ndarray | None = None  # (F, P, S, S) uint8 silhouette crops (pipeline.contracts.silhouette)
    box: np.ndarray | None = None  # (F, P, 3) float32 crop boxes
    stats: dict = field(default_factory=dict)  # landmark and detector runs, people per frame, tracks


# ----------------------------------------------------------------------------- filters


class OneEuro:
    """MediaPipe's one-euro filter (mediapipe/util/filtering/one_euro_filter.cc) on an array of values.

    ``value_scale`` makes the derivative scale-free (1 / the object's size in
    pixels, as LandmarksSmoothingCalculator passes it).
    """

    def __init__(self, min_cutoff: float, beta: float, d_cutoff: float, frequency: float = 30.0) -> None:
        self.min_cutoff, self.beta, self.d_cutoff, self.frequency = min_cutoff, beta, d_cutoff, frequency
        self.t: float | None = None
        self.x_raw = self.x = self.dx = None

    @staticmethod
    def _alpha(cutoff, frequency: float):
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau * frequency)

    def __call__(self, t: float, value: np.ndarray, value_scale: float) -> np.ndarray:
        if self.t is not None and t <= self.t:
            return value
        if self.t is not None:
            self.frequency = 1.0 / (t - self.t)
        self.t = t
        d = (value - self.x_raw) * value_scale * self.frequency if self.x_raw is not None else np.zeros_like(value)
        a_d = self._alpha(self.d_cutoff, self.frequency)
        self.dx = d if self.dx is None else a_d * d + (1 - a_d) * self.dx
        a = self._alpha(self.min_cutoff + self.beta * np.abs(self.dx), self.frequency)
        self.x = value if self.x is None else a * value + (1 - a) * self.x
        self.x_raw = value
        return self.x


def _object_scale(aux: np.ndarray) -> float:
    """The filters' object scale (pixels): the side of the square region whose centre is the first auxiliary
    landmark and whose half side reaches the second (OBJECT_SCALE_ROI in PoseLandmarkFiltering)."""
    return float(2.0 * np.hypot(*(aux[1, :2] - aux[0, :2])))


@dataclass
class _Smoother:
    """The solutions.pose filters of one person, reset whenever a frame of theirs is not measured."""
    landmarks: OneEuro = field(default_factory=lambda: OneEuro(*LANDMARK_FILTER))
    aux: OneEuro = field(default_factory=lambda: OneEuro(*AUX_FILTER))
    visibility: np.ndarray | None = None

    def __call__(self, t: float, lm: np.ndarray, vis: np.ndarray, aux: np.ndarray) -> tuple:
        """``lm`` (33, 3) and ``aux`` (2, 3) absolute pixels (z in x's units), ``vis`` (33,): smoothed copies."""
        self.visibility = vis if self.visibility is None else VISIBILITY_ALPHA * vis + (1 - VISIBILITY_ALPHA) * self.visibility
        scale = _object_scale(aux)  # of this frame's unfiltered auxiliary landmarks, for both filters
        if scale > 1e-6:
            lm, aux = self.landmarks(t, lm, 1.0 / scale), self.aux(t, aux, 1.0 / scale)
        return lm, self.visibility, aux


def region_from_aux(aux: np.ndarray, w: int, h: int):
    """The next frame's region (a NormalizedRect) from the two auxiliary landmarks (2, >=2) in pixels.

    pose_landmarks_to_roi.pbtxt: centre at the first point, side twice its
    distance to the second, rotated so that the second lies straight above,
    then squared on the long side and scaled by 1.25.
    """
    from mediapipe.framework.formats import rect_pb2

    (x0, y0), (x1, y1) = aux[0, :2], aux[1, :2]
    side = 2.0 * math.hypot(x1 - x0, y1 - y0)
    rotation = math.pi / 2 - math.atan2(-(y1 - y0), x1 - x0)
    rotation = rotation - 2 * math.pi * math.floor((rotation + math.pi) / (2 * math.pi))
    return rect_pb2.NormalizedRect(x_center=x0 / w, y_center=y0 / h, width=ROI_SCALE * side / w,
                                   height=ROI_SCALE * side / h, rotation=rotation)


# ----------------------------------------------------------------------------- MediaPipe graphs


class _Options:
    """What TaskInfo wants of task options: an object with ``to_pb2``."""

    def __init__(self, proto) -> None:
        self.proto = proto

    def to_pb2(self):
        return self.proto


def _runner(graph: str, inputs: list[str], outputs: list[str], options):
    from mediapipe.python._framework_bindings import task_runner
    from mediapipe.tasks.python.core.task_info import TaskInfo

    info = TaskInfo(task_graph=graph, input_streams=inputs, output_streams=outputs, task_options=_Options(options))
    return task_runner.TaskRunner.create(info.generate_graph_config())


class BlazePoseGraphs:
    """The person detector and the single-person landmark model as synchronous MediaPipe task runners."""

    DETECTOR = "mediapipe.tasks.vision.pose_detector.PoseDetectorGraph"
    LANDMARKS = "mediapipe.tasks.vision.pose_landmarker.SinglePoseLandmarksDetectorGraph"

    def __init__(self, task: str | Path | None = None, max_people: int = MAX_PEOPLE, segmentation: bool = False) -> None:
        from mediapipe.tasks.cc.vision.pose_detector.proto import pose_detector_graph_options_pb2 as det_pb2
        from mediapipe.tasks.cc.vision.pose_landmarker.proto import pose_landmarks_detector_graph_options_pb2 as lm_pb2
        from mediapipe.tasks.python import BaseOptions

        task = Path(task) if task is not None else cached_pose_task()
        det_model, lm_model = unpacked_models(task)
        try:
            self.detector = _runner(
                self.DETECTOR, ["IMAGE:image", "NORM_RECT:norm_rect"], ["EXPANDED_POSE_RECTS:rects", "IMAGE:image_out"],
                det_pb2.PoseDetectorGraphOptions(base_options=BaseOptions(model_asset_path=str(det_model)).to_pb2(),
                                                 num_poses=max_people, min_detection_confidence=MIN_DETECTION))
            outputs = ["LANDMARKS:landmarks", "AUXILIARY_LANDMARKS:aux", "PRESENCE_SCORE:presence"]
            self.segmentation = segmentation
            if segmentation:
                outputs.append("SEGMENTATION_MASK:mask")
            self.landmarker = _runner(
                self.LANDMARKS, ["IMAGE:image", "NORM_RECT:norm_rect"], outputs,
                lm_pb2.PoseLandmarksDetectorGraphOptions(
                    base_options=BaseOptions(model_asset_path=str(lm_model)).to_pb2(),
                    min_detection_confidence=MIN_PRESENCE))
        except Exception as exc:  # the graphs are MediaPipe internals: say which ones
            raise PoseModelError(f"mediapipe cannot build its pose sub-graphs from {task} ({exc}); hingecap needs "
                                 "mediapipe==0.10.21") from exc

    def detect(self, image_packet) -> list:
        """NormalizedRects of the people the detector finds in the whole image."""
        from mediapipe.framework.formats import rect_pb2
        from mediapipe.python import packet_creator, packet_getter

        whole = packet_creator.create_proto(rect_pb2.NormalizedRect(x_center=0.5, y_center=0.5, width=1, height=1))
        out = self.detector.process({"image": image_packet, "norm_rect": whole})
        return [] if out["rects"].is_empty() else list(packet_getter.get_proto_list(out["rects"]))

    def landmarks(self, image_packet, rect):
        """One person in ``rect``: (33, 4) normalised x, y, z, visibility, (2, 3) auxiliary x, y, z, the
        person-present score and the full-image mask (or None)."""
        from mediapipe.framework.formats import landmark_pb2
        from mediapipe.python import packet_creator, packet_getter

        out = self.landmarker.process({"image": image_packet, "norm_rect": packet_creator.create_proto(rect)})
        score = 0.0 if out["presence"].is_empty() else float(packet_getter.get_float(out["presence"]))
        if out["landmarks"].is_empty() or score < MIN_PRESENCE:
            return None, None, score, None
        lm = landmark_pb2.NormalizedLandmarkList()
        lm.MergeFrom(packet_getter.get_proto(out["landmarks"]))
        aux = landmark_pb2.NormalizedLandmarkList()
        aux.MergeFrom(packet_getter.get_proto(out["aux"]))
        mask = None
        if self.segmentation and not out["mask"].is_empty():
            mask = np.array(packet_getter.get_image(out["mask"]).numpy_view(), np.float32, copy=True).squeeze()
        return (np.array([(p.x, p.y, p.z, p.visibility) for p in lm.landmark[:N_LANDMARKS]]),
                np.array([(p.x, p.y, p.z) for p in aux.landmark[:2]]), score, mask)


# ----------------------------------------------------------------------------- who is the focus


class FocusRule:
    """Scores a person's 2D landmarks: lower is more likely the athlete (see the module docstring)."""

    def __init__(self, camera=None, target_xy: Sequence[float] | None = None) -> None:
        self.camera = camera
        self.target = None if target_xy is None else np.asarray(target_xy, float)
        self.margin = FOCUS_MARGIN_M if camera is not None and self.target is not None else FOCUS_MARGIN_IMAGE
        self.astray = FOCUS_ASTRAY_M if camera is not None and self.target is not None else np.inf

    def score(self, xy: np.ndarray, size: tuple[int, int]) -> float:
        ok = np.isfinite(xy).all(-1)
        if ok.sum() < 4:
            return math.inf
        if self.camera is not None and self.target is not None:
            feet = xy[FEET][ok[FEET]]
            if len(feet):
                floor = floor_points(self.camera, feet.mean(0), z=FEET_HEIGHT_M)
                if np.isfinite(floor).all():
                    return float(np.linalg.norm(floor - self.target))
        pts = xy[ok]
        height = max(float(np.ptp(pts[:, 1])), 1.0)
        centre = np.array(size, float) / 2 - 0.5
        return float(np.linalg.norm(pts.mean(0) - centre)) / height


# ----------------------------------------------------------------------------- the tracker


@dataclass
class _Track:
    rect: object  # NormalizedRect for the next landmark run
    born: int
    last_run: int = -10
    xy: np.ndarray | None = None  # (33, 2) last measured pixels
    smoother: _Smoother = field(default_factory=_Smoother)


def same_centre(a, b, fraction: float = SAME_CENTRE_FRACTION) -> bool:
    """Two regions on one person: about one size, centres (the hips, for a detector's and a track's region
    alike) within ``fraction`` of the larger side. Two people overlapping in the image, one behind the other,
    have their hips farther apart than that, or regions of other sizes."""
    sa, sb = max(a.width, a.height), max(b.width, b.height)
    alike = max(sa, sb) <= SAME_SIZE_RATIO * min(sa, sb)
    return alike and math.hypot(a.x_center - b.x_center, a.y_center - b.y_center) < fraction * max(sa, sb)


class PeopleTracker:
    """Frame-by-frame scheduler of the two graphs over one video (see the module docstring)."""

    def __init__(self, graphs: BlazePoseGraphs, size: tuple[int, int], fps: float, *,
                 focus: FocusRule | None = None, max_people: int = MAX_PEOPLE,
                 detect_every_s: float = DETECT_EVERY_S, others_budget: float = OTHERS_BUDGET) -> None:
        self.graphs, self.size = graphs, size
        self.focus_rule = focus or FocusRule()
        self.max_people = max_people
        self.detect_every = max(1, int(round(detect_every_s * fps)))
        self.budget = others_budget
        self.credit = 0.0
        self.tracks: list[_Track | None] = [None] * max_people
        self.focus = -1
        self.focus_score = np.inf
        self.frame = 0
        self.runs = {"landmarks": 0, "detector": 0, "tracks_started": 0}

    def step(self, rgb: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray, int, list]:
        """One frame: (P, 33, 2) pixels, (P, 33) visibility (NaN / 0 where not measured), the focus slot and
        per slot the full-image mask or None."""
        import mediapipe as mp
        from mediapipe.python import packet_creator

        h, w = rgb.shape[:2]
        image = packet_creator.create_image(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb)))
        P = self.max_people
        alive = [k for k in range(P) if self.tracks[k] is not None]
        new: list[int] = []
        # the detector also looks on every frame while the focus stands far from where the athlete should be:
        # a track that follows whoever walks through its region has left the athlete behind
        if not alive or self.frame % self.detect_every == 0 or self.focus_score > self.focus_rule.astray:
            new = self._detect(image, alive)
        run = self._schedule(new)
        xy = np.full((P, N_LANDMARKS, 2), np.nan)
        conf = np.zeros((P, N_LANDMARKS))
        masks: list = [None] * P
        for k in run:
            xy[k], conf[k], masks[k] = self._measure(k, image, t, w, h)
        self._drop_duplicates(xy, conf, masks)
        self._choose_focus()
        self.frame += 1
        return xy, conf, self.focus, masks

    def _detect(self, image, alive: list[int]) -> list[int]:
        """Run the detector; refresh the regions of tracks it sees, start tracks for the people none covers.

        A detection centred where a track's region is centred (both sit on the hips) is that track's person.
        One that only overlaps a track's region may be someone else (the athlete bent over in front of a
        standing coach): it starts a track, dropped again if its landmarks turn out to duplicate another's.
        While the focus is astray (it followed someone walking through), detections on it are not its own.
        """
        self.runs["detector"] += 1
        new = []
        astray = self.focus_score > self.focus_rule.astray
        for rect in self.graphs.detect(image):
            owners = [k for k in alive + new if not (k == self.focus and astray)]
            owner = next((k for k in owners if same_centre(self.tracks[k].rect, rect)), None)
            if owner is not None:
                # a fresher region for a track measured only now and then; the focus keeps its own,
                # smoothed one, as solutions.pose does
                if owner != self.focus and owner not in new and self.tracks[owner].last_run < self.frame - 1:
                    self.tracks[owner].rect = rect
                continue
            free = next((k for k in range(self.max_people) if self.tracks[k] is None), None)
            if free is None:
                break
            self.tracks[free] = _Track(rect=rect, born=self.frame)
            self.runs["tracks_started"] += 1
            new.append(free)
        return new

    def _schedule(self, new: list[int]) -> list[int]:
        """The focus and new tracks every frame; the others, most stale first, while the budget allows."""
        run = list(dict.fromkeys(([self.focus] if self.focus >= 0 and self.tracks[self.focus] is not None else []) + new))
        others = sorted((k for k in range(self.max_people) if self.tracks[k] is not None and k not in run),
                        key=lambda k: self.tracks[k].last_run)
        if others:
            self.credit = min(self.credit + self.budget, 1.0)
            self.credit = max(self.credit - len(new), -1.0)  # new people are measured at once, paid from the next frames
            while others and self.credit >= 1.0:
                run.append(others.pop(0))
                self.credit -= 1.0
        else:
            self.credit = 0.0
        return run

    def _measure(self, k: int, image, t: float, w: int, h: int):
        track = self.tracks[k]
        self.runs["landmarks"] += 1
        lm, aux, _, mask = self.graphs.landmarks(image, track.rect)
        if lm is None:
            self.tracks[k] = None  # lost: the detector looks again
            if k == self.focus:
                self.focus = -1
            return np.nan, 0.0, None
        if track.last_run != self.frame - 1:
            track.smoother = _Smoother()  # smoothing only across consecutive frames, as solutions.pose
        scale = np.array([w, h, w], float)
        pts, vis, aux_px = track.smoother(t, lm[:, :3] * scale, lm[:, 3], aux * scale)
        track.rect = region_from_aux(aux_px, w, h)
        track.last_run = self.frame
        # normalised image coordinates (0..1 over the image edges) -> pixels with centres at integers
        track.xy = pts[:, :2] - 0.5
        return track.xy, np.clip(vis, 0.0, 1.0), mask

    def _drop_duplicates(self, xy: np.ndarray, conf: np.ndarray, masks: list) -> None:
        """Two tracks that converged on one person: the younger one goes (the focus never does)."""
        alive = [k for k in range(self.max_people) if self.tracks[k] is not None and self.tracks[k].xy is not None]
        for i, a in enumerate(alive):
            for b in alive[i + 1:]:
                ta, tb = self.tracks[a], self.tracks[b]
                if ta is None or tb is None:
                    continue
                height = max(float(np.nanmax(ta.xy[:, 1]) - np.nanmin(ta.xy[:, 1])), 1.0)
                if np.nanmedian(np.linalg.norm(ta.xy - tb.xy, axis=-1)) < DUPLICATE_FRACTION * height:
                    drop = b if (b != self.focus and (tb.born >= ta.born or a == self.focus)) else a
                    self.tracks[drop] = None
                    xy[drop], conf[drop], masks[drop] = np.nan, 0.0, None

    def _choose_focus(self) -> None:
        scores = {k: self.focus_rule.score(tr.xy, self.size) for k, tr in enumerate(self.tracks)
                  if tr is not None and tr.xy is not None}
        if not scores:
            self.focus, self.focus_score = -1, np.inf
            return
        best = min(scores, key=scores.get)
        current = scores.get(self.focus, math.inf)
        if self.focus < 0 or self.tracks[self.focus] is None or scores[best] < current - self.focus_rule.margin:
            self.focus = best
        self.focus_score = scores[self.focus]


def track_people(frames: Iterable[np.ndarray], fps: float, *, focus: FocusRule | None = None,
                 max_people: int = MAX_PEOPLE, segmentation: bool = False, task: str | Path | None = None,
                 detect_every_s: float = DETECT_EVERY_S, others_budget: float = OTHERS_BUDGET,
                 on_frame: Callable[[int], None] | None = None) -> PeopleTrack:
    """Every person in BGR ``frames`` of one video at ``fps`` (> 0; the detector's period is in seconds) (see
    the module docstring). Returns slots up to the last one ever used (at least one).
    """
    graphs = BlazePoseGraphs(task, max_people, segmentation)
    tracker = None
    xys, confs, focus, crops, boxes = [], [], [], [], []
    size = (0, 0)
    for i, frame in enumerate(frames):
        if tracker is None:
            size = (frame.shape[1], frame.shape[0])
            tracker = PeopleTracker(graphs, size, fps, focus=focus, max_people=max_people,
                                    detect_every_s=detect_every_s, others_budget=others_budget)
        # the filters run on solutions.pose's clock: 30 frames per second whatever the video's rate (their
        # values were tuned on it; on Pose2Sim's 60 fps demo the video's own clock costs 0.2-0.6 px)
        xy, conf, f, masks = tracker.step(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), i / FILTER_CLOCK_FPS)
        xys.append(xy)
        confs.append(conf)
        focus.append(f)
        if segmentation:
            cb = [crop_mask(m, xy[k]) if m is not None else _empty_crop() for k, m in enumerate(masks)]
            crops.append(np.stack([c for c, _ in cb]))
            boxes.append(np.stack([b for _, b in cb]))
        if on_frame is not None:
            on_frame(i)
    F = len(xys)
    xy = np.asarray(xys, np.float64).reshape(F, max_people, N_LANDMARKS, 2)
    conf = np.asarray(confs, np.float64).reshape(F, max_people, N_LANDMARKS)
    seen = np.isfinite(xy).all(-1).any(-1)  # (F, P)
    used = max(1, int(np.flatnonzero(seen.any(0)).max() + 1) if seen.any() else 1)
    runs = tracker.runs if tracker is not None else {"landmarks": 0, "detector": 0, "tracks_started": 0}
    stats = {**runs, "frames": F, "slots": used,
             "people_per_frame": np.bincount(seen.sum(1), minlength=max_people + 1).tolist(),
             "focus_frames": int((np.asarray(focus) >= 0).sum())}
    out = PeopleTrack(xy[:, :used], conf[:, :used], np.asarray(focus, np.int8), size, stats=stats)
    if segmentation:
        out.mask = np.asarray(crops, np.uint8).reshape(F, max_people, CROP_SIZE, CROP_SIZE)[:, :used]
        out.box = np.asarray(boxes, np.float32).reshape(F, max_people, 3)[:, :used]
    return out


def _empty_crop() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((CROP_SIZE, CROP_SIZE), np.uint8), np.full(3, np.nan, np.float32)
