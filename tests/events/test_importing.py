"""Real exports: encodings (detected, or lines quarantined), renamed columns, epoch times,
day-first dates and currency amounts; every row accounted for."""
import pandas as pd
import pytest

from workbench.errors import InvalidInputError


def _stored(ws, brand="acme"):
    return ws.brand(brand).events().df().sort_values(["ts", "user_id"]).reset_index(drop=True)


def test_a_windows_export_with_renamed_columns_epochs_dayfirst_dates_and_amounts(ws, tmp_path):
    text = ("distinct_id;event_name;timestamp;amount;city\n"
            "u1;purchase;25.03.2026 10:00;€9,99;Zürich\n"
            "u2;purchase;02.03.2026 10:00;1.234,50 EUR;Köln\n"
            "u3;view;1772445600;;Besançon\n"
            "u4;view;1772445600000;;Málaga\n"
            "u5;purchase;2026-03-02T11:00:00Z;12;Genève\n"
            "u6;purchase;2026-03-02T12:00:00Z;twelve;Brno\n")
    path = tmp_path / "export.csv"
    path.write_bytes(text.encode("cp1252"))
    report = ws.brand("acme").ingest(path, columns={"distinct_id": "user_id", "event_name": "event",
                                                    "timestamp": "ts", "amount": "revenue"}, decimal=",")
    assert (report.accepted, report.duplicates, report.rejected) == (5, 0, 1)
    assert report.reasons == {"revenue is not a finite number": 1}
    stored = _stored(ws)
    by_user = stored.set_index("user_id")
    assert by_user.loc["u1", "ts"] == pd.Timestamp("2026-03-25T10:00Z")  # 25 > 12: day-first, evidently
    assert by_user.loc["u2", "ts"] == pd.Timestamp("2026-03-02T10:00Z")  # ... so 02.03 is 2 March
    assert by_user.loc["u3", "ts"] == by_user.loc["u4", "ts"] == pd.Timestamp("2026-03-02T10:00Z")
    assert by_user.loc["u1", "revenue"] == 9.99 and by_user.loc["u2", "revenue"] == 1234.5
    assert by_user.loc["u5", "revenue"] == 12.0
    assert '"city":"Zürich"' in by_user.loc["u1", "properties"]  # decoded as Windows-1252
    bad = pd.read_csv(report.quarantine_path, dtype=str)
    assert bad["user_id"].tolist() == ["u6"] and bad["revenue"].tolist() == ["twelve"]


def test_dollar_amounts_with_thousands_separators(ws, tmp_path):
    path = tmp_path / "usd.csv"
    path.write_text("user_id,event,ts,revenue\na,purchase,2026-03-02,$12.50\nb,purchase,2026-03-02,\"1,234.50\"\n"
                    "c,purchase,2026-03-02,12.50 USD\nd,purchase,2026-03-02,\"9,99\"\n")
    report = ws.brand("acme").ingest(path)
    assert (report.accepted, report.rejected) == (3, 1)
    assert sorted(_stored(ws)["revenue"]) == [12.5, 12.5, 1234.5]


def test_undecodable_lines_are_quarantined_with_their_line_number(ws, tmp_path):
    good = "".join(f"u{i},view,2026-03-02T10:{i % 60:02d}:00Z,café\n" for i in range(30_000))
    data = ("user_id,event,ts,place\n" + good).encode() + b"x1,view,2026-03-02T11:00:00Z,caf\xe9\n" + \
        "u-last,view,2026-03-02T12:00:00Z,café\n".encode()
    path = tmp_path / "mostly-utf8.csv"
    path.write_bytes(data)
    assert len(data) > 1 << 20  # the odd line lies past the part the encoding is detected from
    report = ws.brand("acme").ingest(path)
    assert (report.accepted, report.rejected, report.total) == (30_001, 1, 30_002)
    bad = pd.read_csv(report.quarantine_path, dtype=str)
    assert bad["reason"].item().startswith("line 30002 could not be read")
    assert "x1,view" in bad["raw_line"].item()


def test_undecodable_lines_of_a_named_encoding_keep_their_numbers(ws, tmp_path):
    path = tmp_path / "cp.csv"
    path.write_bytes(b"user_id,event,ts\nu1,view,2026-03-02\nu2,vi\x81ew,2026-03-02\nu3,view,2026-03-02\n"
                     b"u4,view,2026-03-02,extra,fields\n")
    report = ws.brand("acme").ingest(path, encoding="cp1252")
    assert (report.accepted, report.rejected) == (2, 2)
    reasons = pd.read_csv(report.quarantine_path, dtype=str)["reason"].tolist()
    assert reasons[0].startswith("line 3 is not valid cp1252") and reasons[1].startswith("line 5 could not")


def test_ambiguous_day_month_dates_are_refused_before_anything_is_stored(ws, tmp_path):
    path = tmp_path / "dates.csv"
    path.write_text("user_id,event,ts\na,view,02.03.2026\nb,view,04.05.2026\n")
    with pytest.raises(InvalidInputError, match="dayfirst=True or dayfirst=False"):
        ws.brand("acme").ingest(path)
    assert ws.store.version("acme") is None
    report = ws.brand("acme").ingest(path, dayfirst=False)
    assert sorted(_stored(ws)["ts"]) == [pd.Timestamp("2026-02-03T00:00Z"), pd.Timestamp("2026-04-05T00:00Z")]
    assert report.accepted == 2
    ws.brand("globex").ingest(path, ts_format="%d.%m.%Y")
    assert sorted(_stored(ws, "globex")["ts"])[0] == pd.Timestamp("2026-03-02T00:00Z")


def test_bad_import_options_are_named(ws, tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("user_id,event,ts\nu,view,2026-03-02\n")
    acme = ws.brand("acme")
    with pytest.raises(InvalidInputError, match="unknown encoding 'klingon'"):
        acme.ingest(path, encoding="klingon")
    with pytest.raises(InvalidInputError, match="columns maps \\['distinct_id'\\]"):
        acme.ingest(path, columns={"distinct_id": "user_id"})
    with pytest.raises(InvalidInputError, match="only be renamed to event columns"):
        acme.ingest(path, columns={"user_id": "person"})
    with pytest.raises(InvalidInputError, match="decimal"):
        acme.ingest(path, decimal=";")
    with pytest.raises(InvalidInputError, match=r"unknown import option\(s\) \[.separator.\]; use encoding"):
        acme.ingest(path, separator=";")
