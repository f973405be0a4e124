"""Threaded comments: replies to any depth, edits by the author, soft deletes, resolved threads, counts."""
import multiprocessing as mp

import pytest
import sqlalchemy as sa

import workbench as wb
from workbench.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from workbench.storage.models import Comment

from .conftest import BACKENDS


@pytest.fixture
def shop(team):
    owner = team.brand("acme", user="owner")
    owner.funnels.create("shop", steps=["view", "purchase"], window="1d")
    for user, level in {"viewer": "VIEW", "commenter": "COMMENT", "editor": "EDIT"}.items():
        owner.collab.share("funnel", "shop", user, level)
    return team


def test_a_thread_with_replies_edits_and_deletes(shop):
    ann, bob = shop.brand("acme", user="commenter").collab, shop.brand("acme", user="editor").collab
    first = ann.comment("funnel", "shop", "  Why did step 2 drop in March?  ")
    reply = bob.comment("funnel", "shop", "The checkout outage.", reply_to=first)
    deeper = ann.comment("funnel", "shop", "Thanks; **noted**.", reply_to=reply)
    second = bob.comment("funnel", "shop", "Separate point: the window.")
    thread = shop.brand("acme", user="viewer").collab.thread("funnel", "shop")
    assert list(thread.columns) == ["id", "parent_id", "depth", "author", "body", "created_at", "edited_at",
                                    "deleted", "resolved"]
    assert thread["id"].tolist() == [first, reply, deeper, second]  # depth first, oldest first
    assert thread["depth"].tolist() == [0, 1, 2, 0]
    assert thread["author"].tolist() == ["commenter", "editor", "commenter", "editor"]
    assert thread["body"].iloc[0] == "Why did step 2 drop in March?"  # stripped
    # edits: the author only
    with pytest.raises(PermissionDeniedError, match="author"):
        bob.edit_comment(first, "hijacked")
    ann.edit_comment(first, "Why did step 2 drop in early March?")
    # delete keeps the place and the replies; a brand admin may delete anyone's
    shop.brand("acme", user="admin").collab.delete_comment(reply)
    with pytest.raises(PermissionDeniedError):
        ann.delete_comment(second)
    after = ann.thread("funnel", "shop").set_index("id")
    assert after.loc[first, "body"] == "Why did step 2 drop in early March?" and after.loc[first, "edited_at"]
    assert bool(after.loc[reply, "deleted"]) and after.loc[reply, "body"] is None
    assert after.loc[deeper, "parent_id"] == reply and after.loc[deeper, "body"] == "Thanks; **noted**."
    with pytest.raises(InvalidInputError, match="deleted"):
        bob.edit_comment(reply, "back")


def test_resolve_reopen_and_counts(shop):
    ann = shop.brand("acme", user="commenter").collab
    first = ann.comment("funnel", "shop", "one")
    ann.comment("funnel", "shop", "a reply", reply_to=first)
    ann.comment("funnel", "shop", "two")
    counts = ann.comment_counts("funnel").set_index("ref")
    assert counts.loc["shop"].tolist() == [3, 2]
    ann.resolve_thread(first)
    thread = ann.thread("funnel", "shop")
    assert thread["resolved"].tolist() == [True, True, False]
    assert ann.comment_counts("funnel").set_index("ref").loc["shop"].tolist() == [3, 1]
    with pytest.raises(InvalidInputError, match="reply"):
        ann.resolve_thread(int(thread["id"].iloc[1]))
    with pytest.raises(PermissionDeniedError):
        shop.brand("acme", user="viewer").collab.resolve_thread(first)
    ann.reopen_thread(first)
    assert ann.comment_counts("funnel").set_index("ref").loc["shop", "open_threads"] == 2
    # counts list only what the user may view
    assert shop.brand("acme", user="nobody").collab.comment_counts("funnel").empty


@pytest.mark.parametrize("body,match", [("", "empty"), ("   \n\t ", "empty"), ("x" * 10_001, "at most 10,000"),
                                        (None, "text")])
def test_bad_bodies_are_refused_and_nothing_is_written(shop, body, match):
    ann = shop.brand("acme", user="commenter").collab
    with pytest.raises(InvalidInputError, match=match):
        ann.comment("funnel", "shop", body)
    first = ann.comment("funnel", "shop", "x" * 10_000)  # the limit itself is fine
    with pytest.raises(InvalidInputError, match=match):
        ann.edit_comment(first, body)
    with shop.db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Comment)) == 1


def test_permissions_and_unknown_comments(shop):
    viewer = shop.brand("acme", user="viewer").collab
    with pytest.raises(PermissionDeniedError):
        viewer.comment("funnel", "shop", "may I?")
    ann = shop.brand("acme", user="commenter").collab
    with pytest.raises(NotFoundError, match="no comment"):
        ann.comment("funnel", "shop", "reply to nothing", reply_to=999_999)
    shop.brand("acme", user="owner").funnels.create("other", steps=["view", "purchase"], window="1d")
    shop.brand("acme", user="owner").collab.share("funnel", "other", "commenter", "COMMENT")
    first = ann.comment("funnel", "shop", "here")
    with pytest.raises(InvalidInputError, match="another resource"):
        ann.comment("funnel", "other", "there", reply_to=first)
    # another brand's comment ids are unknown here
    globex = shop.brand("globex")
    globex.funnels.create("g", steps=["view", "purchase"], window="1d")
    theirs = globex.collab.comment("funnel", "g", "globex only")
    with pytest.raises(NotFoundError, match="no comment"):
        shop.brand("acme").collab.delete_comment(theirs)


def _grant_and_revoke(args, barrier, rounds, who):
    ws = wb.open(args["home"], database_url=args.get("database_url"))
    owner = ws.brand("acme", user="owner").collab
    barrier.wait(120)
    for i in range(rounds):
        level = ["VIEW", "COMMENT", "EDIT"][(i + who) % 3]
        owner.share("funnel", "shop", "viewer", level)
        if (i + who) % 4 == 0:
            owner.unshare("funnel", "shop", "viewer")
    ws.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_processes_granting_and_revoking_leave_one_row(backend, request, tmp_path):
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    ws = wb.open(tmp_path / "data", database_url=url)
    if url:
        with ws.db.engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE brands, users, shares, audit_events CASCADE")
    acme = ws.brand("acme")
    for name in ("owner", "viewer"):
        acme.members.add(name)
    ws.brand("acme", user="owner").funnels.create("shop", steps=["view", "purchase"], window="1d")
    args = {"home": str(tmp_path / "data"), "database_url": url}
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_grant_and_revoke, args=(args, barrier, 30, who)) for who in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(240)
    assert [p.exitcode for p in procs] == [0, 0]
    from workbench.storage.models import Share
    with ws.db.session() as s:
        rows = s.scalars(sa.select(Share)).all()
    assert len(rows) <= 1
    shares = ws.brand("acme", user="owner").collab.shares("funnel", "shop")
    assert len(shares) == len(rows)
    audit = ws.brand("acme").collab.audit()
    assert len(audit) >= 60 + 2  # every grant or change recorded (plus the two members)
    ws.close()
