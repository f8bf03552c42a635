"""The session report: a self-contained HTML page, Open3D figures, plots and progress across sessions."""
from __future__ import annotations


def build_report(*args, **kwargs):
    """See pipeline.report.html.build_report (imported lazily: it pulls in matplotlib and open3d)."""
    from pipeline.report.html import build_report as _build

    return _build(*args, **kwargs)


__all__ = ["build_report"]
