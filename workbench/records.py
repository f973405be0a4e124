"""Result frames to and from JSON-safe records, for storing results in the application database."""
from __future__ import annotations

import json

import pandas as pd

__all__ = ["frame_to_records", "records_to_frame"]


def frame_to_records(df: pd.DataFrame) -> list[dict]:
    """JSON-safe records: ISO timestamps, NaN as null."""
    return json.loads(df.to_json(orient="records", date_format="iso"))


def records_to_frame(records: list[dict], date_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """The frame back, with ``date_columns`` as tz-naive UTC timestamps."""
    df = pd.DataFrame.from_records(records)
    for col in date_columns:
        if col in df and len(df):
            df[col] = pd.to_datetime(df[col]).dt.tz_localize(None)
    return df
