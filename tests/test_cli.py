import pandas as pd

from workbench.cli import main


def test_ingest_command_reports_counts_and_quarantine(tmp_path, capsys):
    path = tmp_path / "e.csv"
    pd.DataFrame({"user_id": ["u1", None], "event": ["view", "view"],
                  "ts": ["2026-01-01", "2026-01-01"]}).to_csv(path, index=False)
    assert main(["--home", str(tmp_path / "data"), "ingest", str(path), "--brand", "acme"]) == 0
    out = capsys.readouterr().out
    assert "1 accepted, 0 duplicates, 1 rejected" in out
    assert "missing user_id" in out


def test_bad_brand_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "e.csv"
    path.write_text("user_id,event,ts\nu,view,2026-01-01\n")
    assert main(["--home", str(tmp_path / "data"), "ingest", str(path), "--brand", "Not OK"]) == 2
    assert "invalid brand name" in capsys.readouterr().err


def test_demo_command_prints_summaries(tmp_path, capsys):
    assert main(["--home", str(tmp_path / "data"), "demo", "--brands", "1", "--users", "300", "--days", "35", "--no-reports"]) == 0
    out = capsys.readouterr().out
    assert "Funnel (7-day window)" in out and "add_to_cart" in out
    assert "Weekly retention" in out


def test_studio_commands(tmp_path, capsys):
    home = ["--home", str(tmp_path / "data")]
    assert main(home + ["studio", "request", "--brand", "acme", "--type", "TEMPLATE", "--prompt", "a page",
                        "-p", "sections=2", "--count", "3"]) == 0
    assert main(home + ["studio", "run", "--brand", "acme"]) == 0
    assert "3 succeeded, 0 failed" in capsys.readouterr().out
    assert main(home + ["studio", "list", "--brand", "acme"]) == 0
    assert capsys.readouterr().out.count("SUCCEEDED") == 3
    assert main(home + ["studio", "request", "--brand", "acme", "--type", "GIF", "--prompt", "x"]) == 2
    assert "unknown generation type" in capsys.readouterr().err
