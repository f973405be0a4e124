"""End to end in headless Chromium (Debian's, driven by Playwright; nothing downloaded): sign in,
read a shared report with its charts, discuss it, share it, follow public links, and check that a
script inside a report reaches neither the portal's cookie nor its page. Screenshots land in
``tests/portal/screenshots/``."""
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from workbench.config import get_settings
from workbench.datasets import generate_events
from workbench.portal import create_app, create_token
from workbench.workspace import Workspace

from .conftest import SECRET

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).parent / "screenshots"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

pytestmark = pytest.mark.slow

EVIL = """<script>
var out = {};
try { out.parent = parent.document.title; } catch (e) { out.parent = "blocked: " + e.name; }
try { out.cookie = document.cookie; } catch (e) { out.cookie = "blocked: " + e.name; }
try { parent.document.body.setAttribute("data-pwned", "1"); out.write = "wrote"; } catch (e) { out.write = "blocked"; }
fetch("/").then(function () { out.fetch = "reached"; show(); }, function () { out.fetch = "blocked"; show(); });
function show() { document.body.setAttribute("data-probe", JSON.stringify(out)); }
show();
</script>"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail("Debian's chromium is missing (CI=true: browser tests must run)")
        pytest.skip("chromium not installed")
    import uvicorn

    home = tmp_path_factory.mktemp("portal")
    settings = get_settings(home=home / "data", portal_secret=SECRET)
    ws = Workspace(settings)
    acme = ws.brand("acme")
    acme.ingest(generate_events(brands=1, users=300, days=35, seed=5).events)
    for name in ("owner", "carol", "bob", "dave"):
        acme.members.add(name)
    owner = ws.brand("acme", user="owner")
    report = owner.report("funnel", window="3d").id
    owner.collab.share("report", report, "carol", "COMMENT")
    evil = owner.report("funnel", window="1d")
    Path(evil.html_path).write_text(Path(evil.html_path).read_text().replace("</body>", EVIL + "</body>"))
    owner.collab.share("report", evil.id, "carol", "VIEW")
    studio = owner.studio
    gens = [studio.request("IMAGE_2D", "a red fox", {"width": 128, "height": 128}),
            studio.request("ANIMATION", "a running fox", {"frames": 4, "width": 64, "height": 64}),
            studio.request("MODEL_3D", "a fox figurine")]
    acme.studio.run()
    studio.create_collection("foxes")
    for g in gens:
        studio.add_to_collection("foxes", g)
    owner.collab.share("collection", "foxes", "carol", "VIEW")
    tokens = {u: create_token(ws.db, acme.id, u).token for u in ("owner", "carol", "bob", "dave")}
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    SHOTS.mkdir(exist_ok=True)
    yield {"url": f"http://127.0.0.1:{port}", "report": report, "evil": evil.id, "tokens": tokens, "ws": ws,
           "owner": owner}
    server.should_exit = True
    thread.join(10)
    ws.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


def _signed_in(browser, site, user, **context):
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    page.goto(site["url"] + "/signin")
    page.get_by_label("Brand").fill("acme")
    page.get_by_label("Your name").fill(user)
    page.get_by_label("Access token").fill(site["tokens"][user])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site["url"] + "/")
    return ctx, page


def test_read_discuss_and_resolve_a_shared_report(browser, site):
    ctx, page = _signed_in(browser, site, "carol")
    assert page.get_by_role("link", name=f"funnel #{site['report']}").count() == 1
    page.get_by_role("link", name=f"funnel #{site['report']}").click()
    frame = page.frame_locator("iframe.report-frame")
    frame.locator("img").first.wait_for(timeout=30_000)
    frame.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=30_000)  # interactive charts drawn
    assert frame.locator("img, .js-plotly-plot").count() >= 2, "the report's charts are shown"
    page.get_by_label("New comment (Markdown)").fill("Why did **checkout** drop?")
    page.get_by_role("button", name="Comment", exact=True).click()
    page.get_by_text("Reply", exact=True).first.click()
    page.get_by_label("Reply to carol").fill("Answering myself: the outage.")
    page.get_by_role("button", name="Reply", exact=True).click()
    page.reload()
    assert page.locator("li.comment strong", has_text="checkout").count() == 1
    assert page.locator("li.comment.depth-1").count() == 1
    page.get_by_role("button", name="Resolve thread").click()
    assert page.get_by_text("resolved").count() == 1
    page.frame_locator("iframe.report-frame").locator("img").first.wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / "report-with-thread.png"), full_page=True)
    # carol holds COMMENT: no run-again, no sharing forms
    assert page.get_by_role("button", name="Run again").count() == 0
    ctx.close()


def test_share_with_a_member_who_then_sees_it_and_a_member_without_a_share_is_refused(browser, site):
    ctx, page = _signed_in(browser, site, "owner")
    page.goto(f"{site['url']}/share/report/{site['report']}")
    page.get_by_label("Member").select_option("bob")
    page.get_by_label("Level").select_option("VIEW")
    page.get_by_role("button", name="Grant").click()
    assert page.locator("td", has_text="bob").count() == 1
    page.screenshot(path=str(SHOTS / "share-dialog.png"), full_page=True)
    ctx.close()
    ctx, page = _signed_in(browser, site, "bob")
    assert page.get_by_role("link", name=f"funnel #{site['report']}").count() == 1
    ctx.close()
    ctx, page = _signed_in(browser, site, "dave")
    response = page.goto(f"{site['url']}/reports/{site['report']}")
    assert response.status == 403 and page.get_by_role("heading", name="Not allowed").count() == 1
    ctx.close()


def test_public_link_signed_out_then_revoked(browser, site):
    ctx, page = _signed_in(browser, site, "owner")
    page.goto(f"{site['url']}/share/report/{site['report']}")
    page.get_by_role("button", name="Create public link").click()
    url = page.locator("#new-link").inner_text().strip()
    ctx.close()
    anon = browser.new_context()
    page = anon.new_page()
    page.goto(url)
    assert "/r/" not in page.url, "the token leaves the address bar"
    frame = page.frame_locator("iframe.report-frame")
    frame.locator("img").first.wait_for(timeout=30_000)
    assert page.get_by_text("Comments").count() == 0 and page.get_by_text("owner").count() == 0
    page.screenshot(path=str(SHOTS / "public-link.png"), full_page=True)
    site["owner"].collab.revoke_links("report", site["report"])
    response = page.goto(url)
    assert response.status == 404 and page.get_by_role("heading", name="Not found").count() == 1
    anon.close()


def test_a_script_in_a_report_reaches_neither_the_cookie_nor_the_portal(browser, site):
    ctx, page = _signed_in(browser, site, "carol")
    assert any(c["name"] == "wb_session" and c["httpOnly"] for c in ctx.cookies())
    page.goto(f"{site['url']}/reports/{site['evil']}")
    frame = page.frame_locator("iframe.report-frame")
    body = frame.locator("body")
    body.wait_for()
    deadline = time.time() + 10
    probe = None
    while time.time() < deadline:
        probe = body.get_attribute("data-probe")
        if probe and "fetch" in probe:
            break
        time.sleep(0.2)
    import json
    out = json.loads(probe)
    assert out["parent"].startswith("blocked") and out["write"] == "blocked"
    assert out["cookie"].startswith("blocked") or out["cookie"] == ""
    assert out["fetch"] == "blocked"
    assert page.locator("body").get_attribute("data-pwned") is None
    ctx.close()


def test_readable_at_200_percent_zoom(browser, site):
    # 200% zoom of a 1280 px window is a 640 CSS px viewport at device scale 2
    ctx, page = _signed_in(browser, site, "carol", viewport={"width": 640, "height": 800}, device_scale_factor=2)
    for path in ("/", f"/reports/{site['report']}", "/signin"):
        page.goto(site["url"] + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 200%"
    page.goto(f"{site['url']}/reports/{site['report']}")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") in ("A", "BUTTON", "INPUT", "TEXTAREA", "SUMMARY")
    page.screenshot(path=str(SHOTS / "report-at-200-percent.png"), full_page=True)
    ctx.close()


def test_the_gallery_shows_images_animates_gifs_and_offers_3d_downloads(browser, site):
    ctx, page = _signed_in(browser, site, "carol")
    page.get_by_role("link", name="foxes").first.click()
    images = page.locator(".gallery img")
    images.first.wait_for()
    assert images.count() == 2
    page.wait_for_function("Array.from(document.querySelectorAll('.gallery img'))"
                           ".every(i => i.complete && i.naturalWidth > 0)", timeout=15_000)
    loaded = page.evaluate("Array.from(document.querySelectorAll('.gallery img')).map(i => i.naturalWidth)")
    assert loaded == [128, 64], "both images decoded (the GIF is served as an image, so it animates)"
    download = page.get_by_role("link", name="Download generation-")
    assert download.count() == 1 and download.get_attribute("href").endswith(tuple("0123456789"))
    with page.expect_download() as info:
        download.click()
    assert info.value.suggested_filename.endswith(".glb")
    page.screenshot(path=str(SHOTS / "gallery.png"), full_page=True)
    ctx.close()
    ctx, page = _signed_in(browser, site, "dave")  # no share on the collection
    assert page.goto(f"{site['url']}/collections/foxes").status == 403
    ctx.close()
