# 2D landmarks: one MediaPipe job per camera video, so cameras run in parallel.
# A `{camera}.timestamps.csv` beside the video (hingecap record) is read for the frame times.


def camera_video(wildcards):
    video = CAMERAS[wildcards.session][wildcards.cam]
    stamps = video.with_name(f"{video.stem}.timestamps.csv")
    return {"video": str(video), **({"timestamps": str(stamps)} if stamps.is_file() else {})}


rule detect:
    input:
        unpack(camera_video),
    output:
        f"{RESULTS}/sessions/{{session}}/pose2d/{{cam}}.npz",
    log:
        f"{RESULTS}/sessions/{{session}}/logs/detect_{{cam}}.log",
    threads: 1
    resources:
        mem_mb=2000,
    params:
        model_complexity=OPTIONS["model_complexity"],
        max_frames=OPTIONS.get("max_frames"),
    run:
        from pipeline.detect2d import detect_video
        from pipeline.stage_log import stage_log

        with stage_log(log[0]):
            detect_video(input.video, output[0], model_complexity=params.model_complexity,
                         timestamps=input.get("timestamps"), max_frames=params.max_frames, progress=False)
