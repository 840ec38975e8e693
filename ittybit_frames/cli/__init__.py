"""The ``ittybit-frames`` command. The only module that configures logging.

Exit codes: 0 success; 1 finished with per-item failures (or the API could not be
reached); 2 usage or configuration error; 3 interrupted.
"""

from ittybit_frames.cli._main import main

__all__ = ["main"]
