# 2D landmarks and silhouettes of everyone: one MediaPipe job per camera video, so cameras run in parallel.
# A `{camera}.timestamps.csv` beside the video (hingecap record) is read for the frame times. The room's
# calibration says where the athlete stands as this camera sees it (who gets landmarks on every frame);
# it is `ancient`: a recalibration alone does not redo the detection.


rule detect:
    input:
        unpack(camera_video),
        calibration=lambda wildcards: ancient(room_calibration(wildcards.session)),
    output:
        pose2d=f"{RESULTS}/sessions/{{session}}/pose2d/{{cam}}.npz",
        silhouette=f"{RESULTS}/sessions/{{session}}/silhouette/{{cam}}.npz",
    log:
        f"{RESULTS}/sessions/{{session}}/logs/detect_{{cam}}.log",
    threads: 1
    resources:
        mem_mb=2000,
    params:
        options={"model_complexity": OPTIONS["model_complexity"], "max_frames": OPTIONS.get("max_frames"),
                 "progress": False},
        athlete=lambda wildcards: athlete_setting(wildcards.session),
    run:
        run_stage("pipeline.detect.stage:detect_video", log[0], input.video, output.pose2d,
                  silhouette=output.silhouette, timestamps=input.get("timestamps"), calibration=input.calibration,
                  camera=wildcards.cam, athlete=params.athlete, **params.options)
