# The page a coach opens. The athlete's earlier sessions (by date, then name) are inputs, so their
# progress shows and a session added later does not redo the reports before it.


rule report:
    input:
        pose3d=f"{RESULTS}/sessions/{{session}}/pose3d.npz",
        kinematics=f"{RESULTS}/sessions/{{session}}/kinematics.csv",
        reps=f"{RESULTS}/sessions/{{session}}/reps.json",
        history=lambda wildcards: [f"{session_dir(s)}/reps.json" for s in earlier_sessions(config, wildcards.session)],
    output:
        f"{RESULTS}/sessions/{{session}}/report/index.html",
    log:
        f"{RESULTS}/sessions/{{session}}/logs/report.log",
    threads: 2
    resources:
        mem_mb=4000,
    params:
        meta=lambda wildcards: {k: v for k, v in SESSIONS[wildcards.session].items()
                                if k in ("athlete", "exercise", "date", "load_kg", "notes")},
        figures=OPTIONS["figures"],
    run:
        from pipeline.report import build_report
        from pipeline.stage_log import stage_log

        history = [{"dir": Path(p).parent, **SESSIONS[Path(p).parent.name]} for p in input.history]
        with stage_log(log[0]):
            build_report(Path(input.reps).parent, params.meta, Path(output[0]).parent, history=history,
                         figures=params.figures)
