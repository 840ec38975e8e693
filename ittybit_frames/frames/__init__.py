"""Job payloads -> two typed tables (jobs, tasks) plus a table of data problems.

One module per job (lower ones never import higher ones):

- ``_container``: :class:`JobFrames`, the result, with its reprs, ``subset`` and
  ``to_parquet`` (which imports the lake writer when called).
- ``_convert``: :func:`to_frames`, which drives the rest (and ``to_frames_in_parts``, the
  same for records handed over as they come, converted meanwhile).
- ``_input``: what the caller handed over (NDJSON, a JSON array, an envelope of any
  kind, dicts), a byte order mark skipped; a bad first line does not hide NDJSON.
- ``_ndjson``: the fast path for NDJSON (DuckDB reads the lines of the documented
  shape), with ``_ndjson_shape`` (that shape), ``_ndjson_groups`` (its check on groups
  of lines) and ``_ndjson_checks`` (value checks).
- ``_careful``: the careful per-record path, with its field handlers in ``_fields`` and
  ``_outputs`` (a task's input and output files -> ``input_*``/``output_*``).
- ``_assembly``: derived columns, input order, de-duplication, durations, dtypes.
- ``_values``: the problems table, value checks, typed column conversion, plain values
  (Mappings, sequences, numpy scalars as JSON would give them).
- ``_jsontext``: JSON text with sorted keys, one value or many at once.
"""

from ittybit_frames.frames._container import ArrowFrames, JobFrames, PolarsFrames
from ittybit_frames.frames._convert import to_frames, to_frames_in_parts

__all__ = ["ArrowFrames", "JobFrames", "PolarsFrames", "to_frames", "to_frames_in_parts"]
