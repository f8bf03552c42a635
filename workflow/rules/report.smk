# The page a coach opens. The athlete's earlier sessions (by date, then name) are inputs, so their
# progress shows and a session added later does not redo the reports before it. The camera videos, the
# room's calibration, sync.json and the pose2d files give the video panel: each video is re-encoded once
# as a browser-playable proxy beside the page (report/video/{cam}.webm, kept while newer than its video).


rule report:
    input:
        pose3d=f"{RESULTS}/sessions/{{session}}/pose3d.npz",
        kinematics=f"{RESULTS}/sessions/{{session}}/kinematics.csv",
        reps=f"{RESULTS}/sessions/{{session}}/reps.json",
        history=report_history,
        sync=f"{RESULTS}/sessions/{{session}}/sync.json",
        calibration=lambda wildcards: room_calibration(wildcards.session),
        pose2d=lambda wildcards: list(pose2d_files(wildcards).values()),
        videos=lambda wildcards: list(report_videos(wildcards).values()),
    output:
        f"{RESULTS}/sessions/{{session}}/report/index.html",
    log:
        f"{RESULTS}/sessions/{{session}}/logs/report.log",
    threads: 2
    resources:
        mem_mb=4000,
    params:
        session=lambda wildcards: session_dir(wildcards.session),
        meta=session_meta,
        history=history_entries,
        figures=OPTIONS["figures"],
        videos=report_videos,
    run:
        run_stage("pipeline.report.html:build_report", log[0], params.session, params.meta,
                  history=params.history, figures=params.figures, videos=params.videos,
                  calibration=input.calibration)
