"""Members, shares, public links and the audit log: the rules of SPEC 6 one by one."""
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
import sqlalchemy as sa

from workbench.errors import (AlreadyExistsError, InvalidInputError, LinkExpiredError, NotFoundError,
                              PermissionDeniedError)
from workbench.storage.models import Base


def _soon(seconds=0.6):
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


def test_members_add_list_change_remove(team):
    acme = team.brand("acme")
    listed = acme.members.list()
    assert list(listed.columns) == ["name", "email", "role", "created_at"]
    assert dict(zip(listed["name"], listed["role"]))["admin"] == "admin"
    with pytest.raises(AlreadyExistsError):
        acme.members.add("viewer")
    with pytest.raises(InvalidInputError, match="role"):
        acme.members.add("zed", role="boss")
    with pytest.raises(InvalidInputError, match="name"):
        acme.members.add("  ")
    with pytest.raises(PermissionDeniedError):
        team.brand("acme", user="viewer").members.add("mallory")
    acme.members.set_role("viewer", "admin")
    assert team.brand("acme", user="viewer").collab.can("delete", "funnel", _funnel(team, "owner", "f1"))
    acme.members.set_role("viewer", "member")
    acme.members.remove("nobody")
    assert "nobody" not in set(acme.members.list()["name"])
    with pytest.raises(NotFoundError, match="no member 'nobody'"):
        team.brand("acme", user="nobody")
    with pytest.raises(NotFoundError, match="no member 'ghost'"):
        team.brand("acme", user="ghost")
    acme.members.add("nobody")  # comes back
    assert team.brand("acme", user="nobody").user == "nobody"


def _funnel(team, user, name):
    team.brand("acme", user=user).funnels.create(name, steps=["view", "purchase"], window="1d")
    return name


def test_what_a_user_creates_is_theirs(team):
    bob = team.brand("acme", user="editor")
    _funnel(team, "editor", "mine")
    gid = bob.studio.request("TEMPLATE", "my page")
    with team.db.session() as s:
        from workbench.storage.models import FunnelDefinition, Generation, User
        uid = s.scalar(sa.select(User.id).where(User.name == "editor"))
        assert s.scalar(sa.select(FunnelDefinition.created_by).where(FunnelDefinition.name == "mine")) == uid
        assert s.scalar(sa.select(Generation.author_id).where(Generation.id == gid)) == uid
    with pytest.raises(PermissionDeniedError, match="author"):
        bob.studio.request("TEMPLATE", "as someone else", author="owner")
    # the owner of a resource holds ADMIN on it: may share and delete it
    assert bob.collab.level("funnel", "mine") == "ADMIN" and bob.collab.can("delete", "funnel", "mine")
    assert not team.brand("acme", user="viewer").collab.can("view", "funnel", "mine")


def test_share_rules(team):
    _funnel(team, "owner", "shop")
    owner, sharer = team.brand("acme", user="owner").collab, team.brand("acme", user="sharer").collab
    owner.share("funnel", "shop", "sharer", "ADMIN")
    owner.share("funnel", "shop", "editor", "EDIT")
    # changing a level keeps one row per user and resource
    owner.share("funnel", "shop", "editor", "COMMENT")
    shares = owner.shares("funnel", "shop")
    assert list(shares.columns) == ["user", "level", "expires_at", "granted_by", "created_at"]
    assert dict(zip(shares["user"], shares["level"])) == {"sharer": "ADMIN", "editor": "COMMENT"}
    # an EDIT holder cannot share; the ADMIN sharer can, to members of this brand only
    with pytest.raises(PermissionDeniedError):
        team.brand("acme", user="editor").collab.share("funnel", "shop", "viewer", "VIEW")
    sharer.share("funnel", "shop", "viewer", "VIEW")
    with pytest.raises(NotFoundError, match="no member 'stranger'"):
        sharer.share("funnel", "shop", "stranger", "VIEW")
    team.brand("globex").members.add("gina")
    with pytest.raises(NotFoundError, match="no member 'gina'"):
        sharer.share("funnel", "shop", "gina", "VIEW")
    with pytest.raises(InvalidInputError, match="level"):
        sharer.share("funnel", "shop", "viewer", "OWNER")
    with pytest.raises(InvalidInputError, match="past"):
        sharer.share("funnel", "shop", "viewer", "VIEW", expires_at="2020-01-01")
    # a level that expires cannot be handed on, even at ADMIN
    owner.share("funnel", "shop", "commenter", "ADMIN", expires_at=datetime.now(timezone.utc) + timedelta(days=1))
    commenter = team.brand("acme", user="commenter").collab
    assert commenter.level("funnel", "shop") == "ADMIN" and not commenter.can("share", "funnel", "shop")
    with pytest.raises(PermissionDeniedError, match="does not expire"):
        commenter.share("funnel", "shop", "nobody", "VIEW")
    mine = team.brand("acme", user="viewer").collab.shared_with_me()
    assert list(mine.columns) == ["kind", "ref", "title", "level", "expires_at"]
    assert mine.to_dict("records")[0] | {"expires_at": None} == {"kind": "funnel", "ref": "shop", "title": "shop",
                                                                 "level": "VIEW", "expires_at": None}
    assert owner.unshare("funnel", "shop", "viewer") is True and owner.unshare("funnel", "shop", "viewer") is False
    assert team.brand("acme", user="viewer").collab.shared_with_me().empty


def test_expired_and_revoked_shares_are_refused(team):
    import time
    _funnel(team, "owner", "shop")
    owner = team.brand("acme", user="owner").collab
    owner.share("funnel", "shop", "viewer", "EDIT", expires_at=_soon())
    viewer = team.brand("acme", user="viewer")
    assert viewer.funnels.get("shop").steps == ["view", "purchase"]
    time.sleep(0.8)
    with pytest.raises(PermissionDeniedError):
        viewer.funnels.get("shop")
    assert viewer.funnels.list().empty and viewer.collab.shared_with_me().empty
    owner.share("funnel", "shop", "editor", "EDIT")
    owner.unshare("funnel", "shop", "editor")
    with pytest.raises(PermissionDeniedError):
        team.brand("acme", user="editor").funnels.update("shop", window="2d")


def test_other_brands_refs_read_exactly_like_unknown_ones(team):
    globex = team.brand("globex")
    globex.funnels.create("theirs", steps=["view", "purchase"], window="1d")
    gid = globex.studio.request("TEMPLATE", "their page")
    pid = globex.forecast("purchases", 7, folds=0).prediction_id
    acme = team.brand("acme", user="owner")
    unknown_gid, unknown_pid = gid + 1000, pid + 1000
    for call in (lambda r: acme.studio.get(r), lambda r: acme.collab.thread("generation", r),
                 lambda r: acme.collab.share("generation", r, "viewer", "VIEW")):
        with pytest.raises(NotFoundError) as theirs:
            call(gid)
        with pytest.raises(NotFoundError) as nothing:
            call(unknown_gid)
        assert str(theirs.value).replace(str(gid), "N") == str(nothing.value).replace(str(unknown_gid), "N")
    with pytest.raises(NotFoundError) as theirs:
        acme.predictions.get(pid)
    with pytest.raises(NotFoundError) as nothing:
        acme.predictions.get(unknown_pid)
    assert str(theirs.value).replace(str(pid), "N") == str(nothing.value).replace(str(unknown_pid), "N")
    with pytest.raises(NotFoundError) as theirs:
        acme.funnels.get("theirs")
    with pytest.raises(NotFoundError) as nothing:
        acme.funnels.get("nothing")
    assert str(theirs.value).replace("theirs", "X") == str(nothing.value).replace("nothing", "X")
    # and an unknown ref is NotFoundError, not PermissionDeniedError, also for a user with no access
    with pytest.raises(NotFoundError):
        team.brand("acme", user="nobody").studio.get(gid)


def test_public_links(team, tmp_path):
    import time
    owner = team.brand("acme", user="owner")
    run = owner.report("funnel", window="3d")
    link = owner.collab.create_link("report", run.id)
    assert len(link.token) >= 43 and link.token not in repr(link)  # 32 random bytes, URL-safe
    view = team.open_link(link.token)
    assert (view.kind, view.ref, view.brand) == ("report", run.id, "acme") and "over 3d" in view.content
    assert set(vars(view)) == {"kind", "ref", "brand", "title", "content"}
    # a later run does not change what the link shows
    again = owner.rerun_report(run.id)
    assert again.id != run.id and team.open_link(link.token).ref == run.id
    # other kinds: a definition's latest result, a prediction's forecast, a generation's file, a collection
    owner.funnels.create("shop", steps=["view", "purchase"], window="1d")
    owner.funnels.calculate("shop")
    fview = team.open_link(owner.collab.create_link("funnel", "shop").token)
    assert isinstance(fview.content, pd.DataFrame) and list(fview.content["step"]) == [1, 2]
    pid = owner.forecast("purchases", 7, folds=0).prediction_id
    assert len(team.open_link(owner.collab.create_link("prediction", pid).token).content) == 7
    listed = owner.collab.links("report", run.id)
    assert list(listed.columns) == ["id", "created_by", "created_at", "expires_at", "revoked_at"]
    assert listed["created_by"].tolist() == ["owner"]
    # revoked, expired, unknown
    assert owner.collab.revoke_link(link.id) is True
    with pytest.raises(NotFoundError):
        team.open_link(link.token)
    short = owner.collab.create_link("report", run.id, expires_at=_soon())
    time.sleep(0.8)
    with pytest.raises(LinkExpiredError):
        team.open_link(short.token)
    with pytest.raises(NotFoundError):
        team.open_link("x" * 43)
    # bulk revocation per resource and per creator
    a, b = owner.collab.create_link("funnel", "shop"), owner.collab.create_link("prediction", pid)
    assert owner.collab.revoke_links("funnel", "shop") == 2
    assert owner.collab.revoke_links(created_by="owner") >= 1
    for token in (a.token, b.token):
        with pytest.raises(NotFoundError):
            team.open_link(token)
    # only ADMIN level (from ownership, admin role or a share) creates links
    with pytest.raises(PermissionDeniedError):
        team.brand("acme", user="editor").collab.create_link("report", run.id)


def test_no_token_is_stored_anywhere_in_clear(team):
    owner = team.brand("acme", user="owner")
    owner.funnels.create("shop", steps=["view", "purchase"], window="1d")
    tokens = [owner.collab.create_link("funnel", "shop").token for _ in range(5)]
    seen = 0
    with team.db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                text = " ".join(map(str, row))
                seen += 1
                assert not any(t in text for t in tokens), f"a token in clear in {table.name}"
    assert seen > 20


def test_a_link_for_brand_a_reveals_nothing_of_brand_b(team):
    globex = team.brand("globex")
    globex.funnels.create("shop", steps=["view", "purchase"], window="1d")
    globex.funnels.calculate("shop")
    acme = team.brand("acme")
    acme.funnels.create("shop", steps=["view", "purchase"], window="1d")
    acme.funnels.calculate("shop")
    view = team.open_link(acme.collab.create_link("funnel", "shop").token)
    assert view.brand == "acme"
    assert view.content.equals(acme.funnels.latest("shop"))
    assert not view.content.equals(globex.funnels.latest("shop"))


def test_the_audit_log_records_every_change_of_access(team):
    owner = team.brand("acme", user="owner")
    _funnel(team, "owner", "shop")
    owner.collab.share("funnel", "shop", "viewer", "VIEW")
    owner.collab.share("funnel", "shop", "viewer", "EDIT")
    owner.collab.unshare("funnel", "shop", "viewer")
    link = owner.collab.create_link("funnel", "shop")
    owner.collab.revoke_link(link.id)
    owner.funnels.delete("shop")
    log = team.brand("acme").collab.audit()
    assert list(log.columns) == ["at", "actor", "action", "kind", "resource_id", "detail"]
    mine = log[log["actor"] == "owner"]
    assert mine["action"].tolist() == ["share.grant", "share.change", "share.revoke", "link.create", "link.revoke",
                                       "delete"]
    assert all(link.token not in str(d) for d in log["detail"])
    with pytest.raises(PermissionDeniedError):
        owner.collab.audit()  # a member, not a brand admin
    assert team.brand("acme", user="admin").collab.audit().shape[0] == log.shape[0]
