"""The portal over HTTP: sign-in, sessions, CSRF, throttling, headers, and every route x
(signed out, no share, each level, other brand)."""
import logging
from html.parser import HTMLParser
import re
import time

import pytest
import sqlalchemy as sa

from workbench.errors import StorageError
from workbench.portal import create_app, revoke_token
from workbench.storage.models import Base

from .conftest import ORIGIN, SECRET, Team, csrf, settings_for, sign_in


@pytest.mark.parametrize("secret,match", [(None, "needs a secret"), ("short", "at least 32"),
                                          ("a" * 40, "guessable"), ("changeme", "at least 32")])
def test_the_server_refuses_a_missing_short_or_default_secret(tmp_path, secret, match):
    with pytest.raises(StorageError, match=match):
        create_app(settings_for(tmp_path).model_copy(update={"portal_secret": secret}))


def test_sign_in_sets_a_safe_cookie_and_stores_only_its_hash(team):
    c = team.client()
    bad = sign_in(c, "acme", "viewer", "wbt_wrong")
    assert bad.status_code == 401 and "sign-in refused" in bad.text
    wrong_user = sign_in(c, "acme", "editor", team.tokens["viewer"])  # someone else's token
    assert wrong_user.status_code == 401 and wrong_user.text.count("sign-in refused") == 1
    ok = sign_in(c, "acme", "viewer", team.tokens["viewer"])
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax") and "Path=/" in cookie
    sid = c.cookies["wb_session"]
    assert len(sid) >= 43
    with team.ws.db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                text = " ".join(map(str, row))
                assert sid not in text and not any(t in text for t in team.tokens.values()), table.name
    assert c.get("/").status_code == 200


def test_sessions_rotate_end_and_expire(tmp_path):
    team = Team(tmp_path, session_idle_minutes=0.02, session_max_hours=1)
    c = team.client("viewer")
    first = c.cookies["wb_session"]
    assert sign_in(c, "acme", "viewer", team.tokens["viewer"]).status_code == 303
    assert c.cookies["wb_session"] != first  # a new id at every sign-in
    stale = team.client()
    stale.cookies.set("wb_session", first)
    assert stale.get("/").status_code == 303  # the old id is ended
    time.sleep(1.5)  # past the idle timeout (1.2 s)
    assert c.get("/").status_code == 303 and c.get("/").headers["location"] == "/signin"
    # sign-out ends the session for good
    c2 = team.client("editor")
    token = csrf(c2)
    assert c2.post("/signout", data={"csrf": token}, headers={"Origin": ORIGIN}).status_code == 303
    replay = team.client()
    replay.cookies.set("wb_session", c2.cookies.get("wb_session") or "gone")
    assert replay.get("/").status_code == 303
    # revoking the token ends its sessions; removing the member too
    c3 = team.client("commenter")
    revoke_token(team.ws.db, team.ws.brand("acme").id, 3)  # commenter's token (third created)
    assert c3.get("/").status_code == 303
    c4 = team.client("owner")
    team.ws.brand("acme").members.remove("owner")
    assert c4.get("/").status_code == 303
    team.ws.close()


def test_absolute_timeout(tmp_path):
    team = Team(tmp_path, session_max_hours=0.0004)  # 1.4 s
    c = team.client("viewer")
    assert c.get("/").status_code == 200
    time.sleep(1.6)
    assert c.get("/").status_code == 303
    team.ws.close()


def test_failed_sign_ins_are_throttled_per_account_and_per_address(team):
    c = team.client()
    codes = [sign_in(c, "acme", "viewer", f"wbt_guess{i}").status_code for i in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    # the right token is refused too while the account is throttled
    assert sign_in(c, "acme", "viewer", team.tokens["viewer"]).status_code == 429
    # per address: ten failures over different accounts from one address
    more = [sign_in(c, "acme", f"user{i}", "wbt_x").status_code for i in range(6)]
    assert more[-1] == 429 and sign_in(c, "acme", "editor", team.tokens["editor"]).status_code == 429


def test_forms_need_the_token_and_the_same_origin(team):
    c = team.client("commenter")
    url = f"/reports/{team.report}/comments"
    token = csrf(c, f"/reports/{team.report}")
    assert c.post(url, data={"body": "no token"}, headers={"Origin": ORIGIN}).status_code == 403
    assert c.post(url, data={"body": "wrong token", "csrf": "0" * 64}, headers={"Origin": ORIGIN}).status_code == 403
    assert c.post(url, data={"body": "cross-site", "csrf": token},
                  headers={"Origin": "https://evil.example"}).status_code == 403
    assert c.post(url, data={"body": "cross-site", "csrf": token},
                  headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert c.post(url, data={"body": "fine", "csrf": token}, headers={"Origin": ORIGIN}).status_code == 303
    assert team.owner.collab.thread("report", team.report)["body"].tolist() == ["fine"]


def _status(client, method, url, data=None):
    if method == "GET":
        return client.get(url).status_code
    page = client.get("/")
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    return client.post(url, data={**(data or {}), "csrf": token.group(1) if token else ""},
                       headers={"Origin": ORIGIN}).status_code


def test_every_route_for_every_kind_of_visitor(team):
    rid, other = team.report, team.other
    routes = [("GET", f"/reports/{rid}", None), ("GET", f"/share/report/{rid}", None),
              ("POST", f"/reports/{rid}/comments", {"body": "hello"}), ("POST", f"/reports/{rid}/rerun", None),
              ("POST", f"/share/report/{rid}/grant", {"user": "nobody", "level": "VIEW"}),
              ("POST", f"/share/report/{rid}/link", None)]
    expected = {  # visitor -> status per route, by hand from the rule
        None: [303, 303, 303, 303, 303, 303],
        "nobody": [403, 403, 403, 403, 403, 403],
        "viewer": [200, 200, 403, 403, 403, 403],
        "commenter": [200, 200, 303, 403, 403, 403],
        "editor": [200, 200, 303, 303, 403, 403],
        "owner": [200, 200, 303, 303, 303, 200],
    }
    for visitor, codes in expected.items():
        c = team.client(visitor)
        got = [_status(c, m, url, data) for m, url, data in routes]
        assert got == codes, visitor
    # another brand's report and an unknown one answer the same 404 page
    c = team.client("owner")
    theirs, unknown = c.get(f"/reports/{other}"), c.get(f"/reports/{other + 999}")
    assert theirs.status_code == unknown.status_code == 404 and theirs.text == unknown.text
    assert c.get("/share/report/abc").status_code == 404
    for url in (f"/reports/{other}/comments", f"/reports/{other}/rerun"):
        assert _status(c, "POST", url, {"body": "x"}) == 404


def test_headers_frames_and_public_links(team, caplog):
    caplog.set_level(logging.DEBUG)
    c = team.client("viewer")
    page = c.get(f"/reports/{team.report}")
    for r in (page, c.get("/"), c.get("/signin")):
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    src = re.search(r'<iframe[^>]+src="(/frame/[^"]+)"[^>]*sandbox="allow-scripts"', page.text).group(1)
    assert "allow-same-origin" not in page.text
    frame = team.client().get(src)  # the signed URL works without the session
    csp = frame.headers["content-security-policy"]
    assert frame.status_code == 200 and "report for acme" in frame.text
    assert csp.startswith("sandbox allow-scripts") and "connect-src 'none'" in csp and "form-action 'none'" in csp
    assert "frame-ancestors 'self'" in csp
    assert team.client().get(src[:-3] + "abc").status_code == 404  # forged
    # a public link: redirected to a URL without the token, read-only, no comments or owner
    link = team.owner.collab.create_link("report", team.report)
    team.owner.collab.comment("report", team.report, "internal remark")
    anon = team.client()
    first = anon.get(f"/r/{link.token}")
    assert first.status_code == 303 and link.token not in first.headers["location"]
    assert first.headers["referrer-policy"] == "no-referrer" and "noindex" in first.headers["x-robots-tag"]
    public = anon.get(first.headers["location"])
    assert public.status_code == 200 and public.headers["x-robots-tag"].startswith("noindex")
    assert public.headers["referrer-policy"] == "no-referrer" and public.headers["cache-control"] == "no-store"
    assert "internal remark" not in public.text and "owner" not in public.text and "window" not in public.text
    assert link.token not in public.text
    # revoked, unknown and expired links: the same 404 page
    team.owner.collab.revoke_link(link.id)
    gone, unknown = anon.get(f"/r/{link.token}"), anon.get("/r/" + "A" * 43)
    assert gone.status_code == unknown.status_code == 404 and gone.text == unknown.text
    assert anon.get(first.headers["location"]).status_code == 404  # the signed view stops too
    sign_in(anon, "acme", "viewer", link.token)  # a failed sign-in is logged: without what was tried
    server = [r.getMessage() for r in caplog.records if r.name.startswith(("workbench", "uvicorn", "starlette"))]
    assert server, "the server logged nothing at all: the check would be empty"
    assert all(link.token not in m for m in server)
    assert all(t not in m for m in server for t in team.tokens.values())


def test_comment_markdown_is_rendered_safely(team):
    c = team.client("commenter")
    token = csrf(c, f"/reports/{team.report}")
    body = "**bold** <script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror=alert(3)>"
    assert c.post(f"/reports/{team.report}/comments", data={"body": body, "csrf": token},
                  headers={"Origin": ORIGIN}).status_code == 303
    page = c.get(f"/reports/{team.report}").text
    thread = page[page.index('id="thread"'):]
    assert "<strong>bold</strong>" in thread and "&lt;script&gt;alert(1)" in thread

    class Tags(HTMLParser):
        found: list = []

        def handle_starttag(self, tag, attrs):
            self.found.append((tag, dict(attrs)))

    parser = Tags()
    parser.feed(page)
    assert not [t for t, _ in parser.found if t in ("script", "img", "iframe") and _.get("src", "").startswith("x")]
    assert sum(t == "script" for t, _ in parser.found) == 0  # the portal page has no script at all
    assert not [a for _, a in parser.found for k in a if k.startswith("on")]
    assert not [a for t, a in parser.found if t == "a" and a.get("href", "").startswith("javascript")]


def test_a_public_link_to_a_generation_shows_its_image_without_server_paths(team):
    gid = team.owner.studio.request("IMAGE_2D", "a fox", {"width": 64, "height": 64})
    team.ws.brand("acme").studio.run()
    link = team.owner.collab.create_link("generation", gid)
    anon = team.client()
    page = anon.get(anon.get(f"/r/{link.token}").headers["location"])
    assert page.status_code == 200 and str(team.ws.artifacts_path) not in page.text
    src = re.search(r'<img src="(/p/[^"]+/file)"', page.text).group(1)
    image = anon.get(src)
    assert image.status_code == 200 and image.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert "sandbox" in image.headers["content-security-policy"]
    team.owner.collab.revoke_link(link.id)
    assert anon.get(src).status_code == 404


def test_comment_collection_and_sign_out_routes_for_every_kind_of_visitor(team):
    """The routes the first matrix leaves out: a comment's edit/delete/resolve/reopen, a
    collection's gallery and its files, and sign-out, for each visitor (by hand, from the rule)."""
    owner = team.owner
    first = owner.collab.comment("report", team.report, "owner's question")
    gid = owner.studio.request("IMAGE_2D", "a fox", {"width": 64, "height": 64})
    team.ws.brand("acme").studio.run()
    owner.studio.create_collection("foxes")
    owner.studio.add_to_collection("foxes", gid)
    for user, level in {"viewer": "VIEW", "commenter": "COMMENT", "editor": "EDIT"}.items():
        owner.collab.share("collection", "foxes", user, level)
    routes = [("GET", "/collections/foxes", None), ("GET", f"/collections/foxes/items/{gid}", None),
              ("POST", f"/comments/{first}/resolve", {"report": str(team.report)}),
              ("POST", f"/comments/{first}/reopen", {"report": str(team.report)}),
              ("POST", f"/comments/{first}/edit", {"report": str(team.report), "body": "edited"})]
    expected = {
        None: [303, 303, 303, 303, 303],
        "nobody": [403, 403, 403, 403, 403],
        "viewer": [200, 200, 403, 403, 403],
        "commenter": [200, 200, 303, 303, 403],   # only the author edits a comment
        "editor": [200, 200, 303, 303, 403],
        "owner": [200, 200, 303, 303, 303],
    }
    for visitor, codes in expected.items():
        c = team.client(visitor)
        assert [_status(c, m, url, data) for m, url, data in routes] == codes, visitor
    # delete: not the commenter (not the author), the owner (the author) may
    c = team.client("commenter")
    assert _status(c, "POST", f"/comments/{first}/delete", {"report": str(team.report)}) == 403
    c = team.client("owner")
    assert _status(c, "POST", f"/comments/{first}/delete", {"report": str(team.report)}) == 303
    # another brand's comment, collection and unknown ones: the same 404
    globex = team.ws.brand("globex")
    theirs = globex.collab.comment("report", team.other, "globex only")
    globex.studio.create_collection("theirs")
    assert _status(c, "POST", f"/comments/{theirs}/resolve", {"report": str(team.other)}) == 404
    assert c.get("/collections/theirs").text == c.get("/collections/nothing-here").text
    assert c.get("/collections/theirs").status_code == 404
    # sign-out needs the form token too
    assert c.post("/signout", data={}, headers={"Origin": ORIGIN}).status_code == 403
    assert c.get("/").status_code == 200
