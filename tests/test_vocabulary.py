"""Timestamp units, spans and vocabularies."""

from __future__ import annotations

import datetime as dt

import pytest

from ittybit_frames.vocabulary import canonical_kind, canonical_status, epoch_ms, parse_when

MS = 1711900000000


@pytest.mark.parametrize(
    "value",
    [
        MS,
        MS // 1000,
        float(MS),
        str(MS),
        "1711900000",
        "2024-03-31T15:46:40Z",
        "2024-03-31T15:46:40.000Z",
        "2024-03-31T17:46:40+02:00",
        "2024-03-31T15:46:40",
        dt.datetime(2024, 3, 31, 15, 46, 40, tzinfo=dt.UTC),
    ],
)
def test_every_documented_form_is_the_same_instant(value: object) -> None:
    assert epoch_ms(value) == MS


@pytest.mark.parametrize("value", [True, "soon", "", 12, 10**15, float("nan"), [1], {}])
def test_unusable_values_raise(value: object) -> None:
    with pytest.raises(ValueError):
        epoch_ms(value)


def test_sub_second_iso_and_seconds_with_fraction() -> None:
    assert epoch_ms("2025-01-01T01:23:45.678Z") - epoch_ms("2025-01-01T01:23:45Z") == 678
    assert epoch_ms(1711900000.25) == MS + 250


def test_parse_when_spans_and_dates() -> None:
    now = 1_800_000_000_000
    assert parse_when("90s", now_ms=now) == now - 90_000
    assert parse_when("12h", now_ms=now) == now - 12 * 3_600_000
    assert parse_when("2w", now_ms=now) == now - 14 * 86_400_000
    assert parse_when(dt.date(2024, 3, 31)) == epoch_ms("2024-03-31T00:00:00Z")
    assert parse_when(None) is None
    with pytest.raises(ValueError, match="7d"):
        parse_when("last tuesday")


def test_vocabularies() -> None:
    assert canonical_status("COMPLETED") == "succeeded"
    assert canonical_status("canceled") == "cancelled"
    assert canonical_kind("adaptive_video") == "adaptive_video"
    # One set for jobs and tasks: a G2-G4 top-level record is itself a task.
    assert canonical_kind("probe") == "probe"
    assert canonical_kind("speech") == canonical_kind("SPEECH ") == "speech"
    assert canonical_kind("vidoe") == "other"
    assert canonical_kind("ingest", task=True) == "import"


@pytest.mark.parametrize(
    "text", ["2025-03-01t10:00:00z", "2025-03-01T10:00:00z", "2025-03-01t10:00:00.250+01:00"]
)
def test_rfc3339_lower_case_t_and_z_are_read(text: str) -> None:
    # RFC 3339 section 5.6 allows "t" and "z" in lower case; "z" was 'not an ISO-8601
    # timestamp' (a problem row and NA).
    upper = text.upper()
    assert epoch_ms(text) == epoch_ms(upper) is not None
