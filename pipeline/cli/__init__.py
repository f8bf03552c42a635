"""The ``hingecap`` command line (``pipeline.cli.app``) and the workflow runner behind ``hingecap run``."""
from pipeline.cli.app import app

__all__ = ["app"]
