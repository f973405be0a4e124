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


def test_team_commands(tmp_path, capsys):
    home = ["--home", str(tmp_path / "data")]
    run = lambda *a: main(home + list(a))  # noqa: E731
    assert run("members", "add", "ann", "--brand", "acme", "--role", "admin", "--email", "ann@example.com") == 0
    assert run("members", "add", "bob", "--brand", "acme") == 0
    assert run("members", "list", "--brand", "acme") == 0
    out = capsys.readouterr().out
    assert "ann@example.com" in out and "bob" in out
    assert run("studio", "request", "--brand", "acme", "--type", "TEMPLATE", "--prompt", "p", "--as", "ann") == 0
    gid = int(capsys.readouterr().out.split()[1].rstrip(":"))
    # bob has no access yet: a one-line refusal, exit 2
    assert run("comment", "add", "generation", str(gid), "hello", "--brand", "acme", "--as", "bob") == 2
    assert "may not comment" in capsys.readouterr().err
    assert run("share", "grant", "generation", str(gid), "bob", "comment", "--brand", "acme", "--as", "ann") == 0
    assert run("comment", "add", "generation", str(gid), "hello", "--brand", "acme", "--as", "bob") == 0
    cid = int(capsys.readouterr().out.split()[-1])
    assert run("comment", "reply", "generation", str(gid), "hi bob", "--to", str(cid), "--brand", "acme",
               "--as", "ann") == 0
    assert run("comment", "resolve", str(cid), "--brand", "acme", "--as", "bob") == 0
    assert run("comment", "list", "generation", str(gid), "--brand", "acme", "--as", "bob") == 0
    out = capsys.readouterr().out
    assert "hello" in out and "hi bob" in out and "True" in out
    assert run("share", "mine", "--brand", "acme", "--as", "bob") == 0
    assert "COMMENT" in capsys.readouterr().out
    assert run("link", "create", "generation", str(gid), "--brand", "acme", "--as", "ann") == 0
    out = capsys.readouterr().out
    link_id, token = out.split()[1].rstrip(":"), out.split()[2]
    assert run("link", "open", token) == 0
    assert f"generation {gid} of acme" in capsys.readouterr().out
    assert run("link", "revoke", link_id, "--brand", "acme", "--as", "ann") == 0
    assert run("link", "open", token) == 2
    assert "no such link" in capsys.readouterr().err
    assert run("share", "grant", "generation", str(gid), "nobody", "VIEW", "--brand", "acme") == 2
    assert "no member 'nobody'" in capsys.readouterr().err
    assert run("members", "remove", "bob", "--brand", "acme", "--as", "bob") == 2
    assert "brand admins" in capsys.readouterr().err


def test_subscription_and_alert_commands(tmp_path, capsys):
    home = ["--home", str(tmp_path / "data")]
    run = lambda *a: main(home + list(a))  # noqa: E731
    assert run("members", "add", "bob", "--brand", "acme", "--email", "bob@example.com") == 0
    assert run("subscriptions", "create", "weekly", "--brand", "acme", "--report", "kpi", "--cron", "0 8 * * 1",
               "--timezone", "Europe/Paris", "--email", "bob", "--webhook", "https://hooks.example.com/x") == 0
    out = capsys.readouterr().out
    assert "next run" in out and "webhook signing secret" in out
    assert run("subscriptions", "pause", "weekly", "--brand", "acme") == 0
    assert run("subscriptions", "list", "--brand", "acme") == 0
    assert "paused" in capsys.readouterr().out
    assert run("subscriptions", "resume", "weekly", "--brand", "acme") == 0
    assert run("subscriptions", "runs", "weekly", "--brand", "acme") == 0
    assert run("subscriptions", "create", "bad", "--brand", "acme", "--report", "kpi", "--cron", "often",
               "--email", "bob") == 2
    assert "not a cron expression" in capsys.readouterr().err
    assert run("alerts", "create", "purchases", "--brand", "acme", "--direction", "down", "--email", "bob") == 0
    assert run("alerts", "list", "--brand", "acme") == 0
    assert "purchases" in capsys.readouterr().out
    assert run("subscriptions", "delete", "weekly", "--brand", "acme") == 0
    assert run("deliver") == 0


def test_every_error_is_one_line_with_a_non_zero_exit(tmp_path, capsys):
    home = ["--home", str(tmp_path / "data")]
    assert main(home + ["studio", "list", "--brand", "acme"]) == 2  # a brand nothing was written to
    assert capsys.readouterr().err == "error: no brand 'acme'; none exist yet: ingest events to create one\n"
    assert main(home + ["members", "add", "ann", "--brand", "acme"]) == 0
    capsys.readouterr()
    assert main(home + ["studio", "list", "--brand", "acme", "--status", "DONE"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown generation status 'DONE'" in err
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"user_id,event,ts\nu1,view,2026-01-01\n")
    assert main(home + ["ingest", str(tmp_path / "missing.csv"), "--brand", "acme"]) in (1, 2)
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1 and "Traceback" not in err
    assert main(home + ["studio", "request", "--brand", "acme", "--type", "IMAGE_2D", "--prompt", "permanent",
                        "--provider", "nope"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_studio_run_fails_the_exit_code_when_generations_failed_and_budgets(tmp_path, capsys):
    from .studio import conftest  # noqa: F401 - registers the "flaky" provider
    home = ["--home", str(tmp_path / "data")]
    assert main(home + ["studio", "request", "--brand", "acme", "--type", "TEMPLATE", "--prompt", "permanent",
                        "--provider", "flaky"]) == 0
    assert main(home + ["studio", "run", "--brand", "acme"]) == 1
    assert "1 generation(s) failed" in capsys.readouterr().err
    assert main(home + ["studio", "budget", "--brand", "acme", "--cost", "5", "--quota", "10"]) == 0
    assert "of 5.0" in capsys.readouterr().out and main(home + ["studio", "list", "--brand", "acme"]) == 0
    assert "artifact_uri" in capsys.readouterr().out


def test_the_command_starts_without_loading_the_analytics(tmp_path):
    import subprocess
    import sys
    code = ("import sys, workbench.cli; workbench.cli.build_parser(); "
            "print(sorted(m for m in ('pandas', 'duckdb', 'sqlalchemy', 'prefect') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_event_table_commands(tmp_path, capsys):
    import shutil
    from pathlib import Path

    home = tmp_path / "data"
    shutil.copytree(Path(__file__).parent / "events" / "fixtures" / "legacy_events", home / "events")
    args = ["--home", str(home)]
    assert main(args + ["db", "upgrade"]) == 0
    assert "events of acme: 399 rows from 2 file(s) converted" in capsys.readouterr().out
    path = tmp_path / "e.csv"
    path.write_text("user_id,event,ts\nzoe,view,2026-03-02\nzoe,view,2026-03-03\n")
    assert main(args + ["ingest", str(path), "--brand", "acme"]) == 0
    assert main(args + ["versions", "--brand", "acme"]) == 0
    out = capsys.readouterr().out
    assert "WRITE" in out.upper() and " 1 " in out
    assert main(args + ["forget-user", "zoe", "--brand", "acme"]) == 2  # no terminal to confirm on
    assert "not confirmed" in capsys.readouterr().err
    assert main(args + ["forget-user", "zoe", "--brand", "acme", "--yes", "--vacuum"]) == 0
    assert "deleted 2 event(s)" in capsys.readouterr().out
    assert main(args + ["compact"]) == 0
    assert capsys.readouterr().out.startswith("acme: ")
    assert main(args + ["vacuum", "--brand", "acme", "--retention-hours", "0"]) == 0
    assert main(args + ["versions", "--brand", "nobody"]) == 2


def test_ingest_reads_exports_as_told(tmp_path, capsys):
    path = tmp_path / "export.csv"
    path.write_bytes("distinct_id;name;when;amount\nu1;purchase;02.03.2026 10:00;9,99 €\n".encode("cp1252"))
    args = ["--home", str(tmp_path / "data"), "ingest", str(path), "--brand", "acme", "--column", "distinct_id=user_id",
            "--column", "name=event", "--column", "when=ts", "--column", "amount=revenue"]
    assert main(args) == 2
    assert "dayfirst" in capsys.readouterr().err
    assert main(args + ["--dayfirst", "--decimal", ","]) == 0
    assert "1 accepted, 0 duplicates, 0 rejected" in capsys.readouterr().out
    assert main(args[:6] + ["--column", "nope"]) == 2
    assert "SOURCE=EVENT_COLUMN" in capsys.readouterr().err
