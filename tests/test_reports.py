"""Report notebooks: structure, execution with defaults, self-contained HTML, recorded runs."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

import workbench as wb
from workbench.datasets import generate_events
from workbench.errors import InvalidInputError, NotFoundError
from workbench.reports import REPORTS, ReportFailedError

from .conftest import IN_CI

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
FORBIDDEN = [r"\bdef\b", r"\bclass\b", r"groupby", r"\bSELECT\b", r"\bsql\(", r"\.query\("]


def code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("**/*.ipynb")), ids=lambda p: p.name)
def test_notebooks_are_thin_and_diffable(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "workbench"
    for cell in code_cells(path):
        assert not cell.get("outputs"), f"{path.name}: strip outputs before committing"
        for pattern in FORBIDDEN:
            assert not re.search(pattern, cell.source, re.IGNORECASE), f"{path.name}: logic ({pattern}) in a cell"


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_every_report_has_a_typed_commented_parameters_cell(name):
    cells = code_cells(NOTEBOOKS / "reports" / REPORTS[name])
    params = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, f"{name}: needs exactly one cell tagged 'parameters'"
    for line in params[0].source.splitlines():
        if "=" in line:
            assert re.match(r"^\w+: [\w\[\]]+ = .+  # .+", line), f"{name}: untyped or uncommented parameter: {line}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    home = tmp_path_factory.mktemp("reports") / "data"
    ws = wb.open(home)
    ws.brand("acme").ingest(generate_events(brands=1, users=1500, days=90, seed=5).events)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def page():
    """A Chromium page 1280 px wide (Debian's chromium, driven by Playwright)."""
    if shutil.which("chromium") is None:
        if IN_CI:
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium not installed")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                    args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield browser.new_page(viewport={"width": 1280, "height": 900})
        browser.close()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REPORTS))
def test_report_runs_with_defaults_to_self_contained_html(demo, name, page):
    run = demo.brand("acme").report(name)
    assert run.status == "SUCCEEDED" and run.html_path.exists() and run.notebook_path.exists()
    html = run.html_path.read_text()
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']https?://", html), "fetches from the network"
    assert "<pre" not in html or "Traceback" not in html
    charts = re.findall(r'<img [^>]*src="data:image/png;base64', html)
    assert charts, "no chart"
    alts = re.findall(r'<img alt="([^"]*)"', html)  # every chart described by its section
    assert len(alts) == len(charts) and all(a.startswith("Chart. ") for a in alts)
    listed = demo.brand("acme").reports()
    assert run.id in listed["id"].tolist()
    # in a browser 1280 px wide: nothing sticks out of the page, the header names brand and period
    page.goto(run.html_path.as_uri())
    page.wait_for_load_state("load")
    seen = page.evaluate("""() => ({
        width: document.documentElement.scrollWidth,
        wide: [...document.querySelectorAll('body *')].filter(
            e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1).length,
        header: (document.querySelector('.wb-header') || {}).innerText || '',
        title: document.title, plots: document.querySelectorAll('.js-plotly-plot').length})""")
    assert seen["width"] <= 1280 and seen["wide"] == 0, seen
    assert "Brand acme" in seen["header"] and "2026-01-05 – 2026-04-04 (UTC)" in seen["header"]
    assert "data version 0" in seen["header"] and seen["title"].endswith("· acme")
    assert seen["plots"] >= (0 if name == "prediction" else 1)  # interactive charts drawn, offline
    assert html.count("<script") < 40 and html.count("plotly.js v") <= 1  # plotly.js inlined once at most


@pytest.mark.slow
def test_funnel_report_numbers_equal_the_api(demo, capfd):
    acme = demo.brand("acme")
    run = acme.report("funnel", window="3d")
    assert "without encryption" not in capfd.readouterr().err  # the kernel's own log stays quiet
    html = run.html_path.read_text()
    expected = acme.funnel(["view", "add_to_cart", "checkout", "purchase"], "3d")
    for users in expected["users"]:
        assert f"<td>{users:,}</td>" in html
    assert f"<strong>{expected['users'].iloc[0]:,}</strong>" in html  # the prose uses the same numbers


@pytest.mark.slow
def test_retention_and_kpi_reports_show_the_api_numbers(demo):
    acme = demo.brand("acme")
    html = acme.report("retention", periods=4).html_path.read_text()
    table = acme.retention(period="week", periods=4)
    assert f"<strong>{table['cohort'].nunique()}</strong>" in html
    assert f"<strong>{int(table.loc[table.period == 0, 'cohort_size'].sum()):,}</strong>" in html
    for users in wb.analytics.retention_curve(table)["users"]:  # the average-curve table, in full
        assert f"<td>{users:,}</td>" in html
    kpi = acme.report("kpi").html_path.read_text()
    digest = acme.anomaly_digest(["active_users", "sessions", "purchases", "revenue", "signups", "conversion_rate"])
    flagged = int(digest["is_anomaly"].sum())
    assert (f"{flagged} unusual day(s)" in kpi) if flagged else ("No unusual days" in kpi)


@pytest.mark.slow
def test_a_failed_run_is_recorded_with_its_partial_notebook(demo):
    acme = demo.brand("acme")
    with pytest.raises(ReportFailedError, match="2 to 20 steps"):
        acme.report("funnel", steps=["view"])
    failed = acme.reports().iloc[0]
    assert failed["status"] == "FAILED" and "2 to 20 steps" in failed["error"]
    row = wb.reports.get_report(acme, int(failed["id"]))
    assert Path(row.notebook_path).exists()


@pytest.mark.parametrize("name, params, match", [
    ("funnel", {"steps": ["view", "add_to_kart"]}, "did you mean 'add_to_cart'"),
    ("funnel", {"since": "yesterday"}, "since 'yesterday' is not a date"),
    ("funnel", {"since": "2026-03-01", "until": "2026-02-01"}, "must be before until"),
    ("funnel", {"window": "a week"}, "window"),
    ("funnel", {"breakdown": "cuntry"}, "did you mean 'country'"),
    ("retention", {"period": "fortnight"}, "day, week or month"),
    ("retention", {"start_event": "sign_up"}, "no event 'sign_up'"),
    ("prediction", {"horizon": "ten"}, "'horizon' must be int"),
    ("prediction", {"metric": "revenu"}, "unknown metric"),
    ("kpi", {"metrics": ["active_users", "sales"]}, "unknown metric"),
])
def test_parameters_are_checked_before_a_kernel_starts(demo, name, params, match):
    acme = demo.brand("acme")
    before = len(acme.reports())
    with pytest.raises((InvalidInputError, NotFoundError), match=match):
        acme.report(name, **params)
    assert len(acme.reports()) == before  # refused before a run was even recorded


def test_unknown_report_or_parameter(demo):
    with pytest.raises(InvalidInputError, match="available: funnel, kpi, prediction, retention"):
        demo.brand("acme").report("sales")
    with pytest.raises(InvalidInputError, match="has no parameter"):
        demo.brand("acme").report("funnel", colour="red")


@pytest.mark.slow
def test_report_opens_in_headless_chromium_with_charts(demo, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if IN_CI:
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium not installed")
    run = demo.brand("acme").report("retention")
    shot = tmp_path / "report.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1800",
                    f"--screenshot={shot}", run.html_path.as_uri()], check=True, timeout=120,
                   capture_output=True)
    from PIL import Image
    img = Image.open(shot).convert("RGB")
    assert img.size == (1200, 1800)
    colours = img.getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 200, "the page looks blank: charts not drawn"
    blues = sum(n for n, (r, g, b) in colours if b > 150 and r < 120)
    assert blues > 2000, "no heatmap cells visible"


def test_cli_parses_json_parameters(demo, capsys):
    from workbench.cli import _parse_value
    assert _parse_value("30") == 30 and _parse_value('["a", "b"]') == ["a", "b"] and _parse_value("7d") == "7d"
    assert json.loads("null") is None


def test_charts_get_the_text_of_their_section_as_alternative_text():
    import nbformat

    from workbench.reports import describe_charts

    png = {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"},
           "metadata": {}}
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("plot()", outputs=[nbformat.from_dict(dict(png))]),
        nbformat.v4.new_markdown_cell("## Steps\n\nUsers counted once, at the furthest `step`. More text."),
        nbformat.v4.new_code_cell("plot()", outputs=[nbformat.from_dict(dict(png)),
                                                     nbformat.v4.new_output("stream", text="hi")]),
    ])
    describe_charts(nb)
    assert nb.cells[0].outputs[0].metadata["image/png"]["alt"] == "Chart"
    assert nb.cells[2].outputs[0].metadata["image/png"]["alt"] == "Chart. Steps: Users counted once, at the furthest step"
    assert "metadata" not in nb.cells[2].outputs[1] or not nb.cells[2].outputs[1].get("metadata")
