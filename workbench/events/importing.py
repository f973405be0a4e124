"""How a source is read: encoding, column names, dates and amounts, as product exports need.

PostHog, Mixpanel and Amplitude exports, and the spreadsheets analysts save, differ from the event
columns in predictable ways. :class:`ImportOptions` says how to read them:

- ``encoding``: of a CSV or JSON-lines file. ``None`` detects it from the first megabyte (a BOM,
  UTF-8, else charset-normalizer's best guess, e.g. ``cp1252`` for a Windows export). A file in
  another encoding than UTF-8 is transcoded once into a UTF-8 scratch copy; DuckDB reads UTF-8.
  A line that cannot be decoded is never fatal: it is quarantined with its line number, and the
  others are ingested.
- ``columns``: source name -> event column, e.g. ``{"distinct_id": "user_id", "timestamp": "ts"}``.
- ``dayfirst``: how to read numeric dates such as ``02.03.2026`` (2 March or 3 February). When a
  source has such dates and neither ``dayfirst`` nor ``ts_format`` says how to read them, the ingest
  is refused before anything is stored. ``ts_format``: an explicit ``strftime`` format.
- ``decimal``: the decimal mark of amounts. Amounts may carry a currency symbol or code
  (``$12.50``, ``9,99 EUR``) and thousands separators (``1,234.50``, or ``1.234,50`` with
  ``decimal=","``).
"""
from __future__ import annotations

import codecs
import logging
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import InvalidInputError, invalid_input

__all__ = ["ImportOptions", "import_options", "detect_encoding", "to_utf8"]

log = logging.getLogger(__name__)

TARGETS = ("event_id", "brand", "user_id", "event", "ts", "revenue", "properties")
_SAMPLE = 1 << 20


class ImportOptions(BaseModel):
    """How to read a source (see the module)."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    encoding: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    dayfirst: bool | None = None
    ts_format: str | None = None
    decimal: Literal[".", ","] = "."

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v):
        if v is None:
            return v
        try:
            return codecs.lookup(v).name
        except LookupError:
            raise ValueError(f"unknown encoding {v!r}") from None

    @field_validator("columns")
    @classmethod
    def _targets(cls, v):
        bad = {k: t for k, t in v.items() if t not in TARGETS}
        if bad:
            raise ValueError(f"columns can only be renamed to event columns ({', '.join(TARGETS)}), not {bad}")
        targets = list(v.values())
        if len(set(targets)) != len(targets):
            raise ValueError("two source columns are renamed to the same event column")
        return v

    @field_validator("ts_format")
    @classmethod
    def _format(cls, v):
        if v is not None and "%" not in v:
            raise ValueError(f"ts_format {v!r} has no strftime directive, e.g. '%d.%m.%Y %H:%M'")
        return v


def import_options(options: ImportOptions | dict | None) -> ImportOptions:
    """Validated options (an InvalidInputError names what is wrong)."""
    if isinstance(options, ImportOptions):
        return options
    unknown = sorted(set(options or {}) - set(ImportOptions.model_fields))
    if unknown:
        raise InvalidInputError(f"unknown import option(s) {unknown}; use {', '.join(ImportOptions.model_fields)}")
    try:
        return ImportOptions.model_validate(options or {})
    except ValidationError as exc:
        raise invalid_input(exc, "import options") from exc


def detect_encoding(path: Path) -> str:
    """The encoding of a text file, from its first megabyte."""
    with open(path, "rb") as fh:
        sample = fh.read(_SAMPLE)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    guess = codecs.lookup(best.encoding).name if best is not None else "cp1252"
    log.info("%s is not UTF-8; reading it as %s", path, guess)
    return guess


def to_utf8(path: Path, encoding: str, target: Path) -> list[tuple[int, str, str]]:
    """Copy ``path`` into ``target`` as UTF-8; returns the lines that do not decode, as
    ``(line number, why, the line with undecodable bytes shown as \\xNN)``, left out of the copy."""
    bad: list[tuple[int, str, str]] = []
    line_no = 0
    if codecs.lookup(encoding).name.startswith(("utf-16", "utf-32")):  # lines are not byte-delimited
        try:
            with open(path, encoding=encoding, newline="") as src, open(target, "w", encoding="utf-8",
                                                                         newline="") as out:
                for line in src:
                    out.write(line)
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"{path} is not valid {encoding}: {exc.reason}") from exc
        return bad
    with open(path, "rb") as src, open(target, "w", encoding="utf-8", newline="") as out:
        for line in src:
            line_no += 1
            try:
                out.write(line.decode(encoding))
            except UnicodeDecodeError as exc:
                bad.append((line_no, exc.reason, line.decode(encoding, errors="backslashreplace").rstrip("\r\n")))
    if bad:
        log.warning("%s: %d line(s) are not valid %s and go to the quarantine", path, len(bad), encoding)
    return bad


def is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")

