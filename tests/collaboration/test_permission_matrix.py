"""The permission matrix: 7 users x 5 actions x 7 resource kinds, each cell checked through
``can()`` and by performing the action (it works, or raises PermissionDeniedError), on
SQLite and PostgreSQL. Expected cells come from the rule as written in SPEC 6, spelled out
here by hand rather than computed by the code under test."""
import itertools

import pytest

from workbench.errors import PermissionDeniedError

from .conftest import LEVELS, USERS

KINDS = ["report", "funnel", "cohort", "segment", "prediction", "generation", "collection"]
ACTIONS = ["view", "comment", "edit", "share", "delete"]

# who may do what (by hand, from the table: owner and brand admin hold ADMIN and may delete;
# a share gives its level and everything below it; nobody holds nothing)
ALLOWED = {
    "owner": set(ACTIONS), "admin": set(ACTIONS),
    "viewer": {"view"}, "commenter": {"view", "comment"}, "editor": {"view", "comment", "edit"},
    "sharer": {"view", "comment", "edit", "share"}, "nobody": set(),
}


class Factory:
    """Fresh resources of every kind, owned by member ``owner`` and shared at each level."""

    def __init__(self, ws):
        self.ws = ws
        self.owner = ws.brand("acme", user="owner")
        self.n = 0
        self.gid = self.owner.studio.request("TEMPLATE", "spare page")  # for collections

    def make(self, kind):
        self.n += 1
        o, name = self.owner, f"{kind}-{self.n}"
        if kind == "report":
            ref = o.report("funnel", window="3d").id
        elif kind == "funnel":
            o.funnels.create(name, steps=["view", "purchase"], window="1d")
            ref = name
        elif kind == "cohort":
            o.cohorts.create(name, period="week", periods=2)
            ref = name
        elif kind == "segment":
            o.segments.create(name, conditions=[{"kind": "behaviour", "event": "purchase", "op": ">=", "count": 1,
                                                 "within_days": 30}])
            ref = name
        elif kind == "prediction":
            ref = o.forecast("purchases", 7, folds=0).prediction_id
        elif kind == "generation":
            ref = o.studio.request("TEMPLATE", f"page {self.n}")
        else:
            o.studio.create_collection(name)
            o.studio.add_to_collection(name, self.gid)
            ref = name
        for user, level in LEVELS.items():
            o.collab.share(kind, ref, user, level)
        return ref


def perform(scope, kind, action, ref):
    """Do ``action`` to the resource through its own API, as ``scope``'s user."""
    st, collab = scope.studio, scope.collab
    if action == "comment":
        return collab.comment(kind, ref, "looks right to me")
    if action == "share":
        return collab.share(kind, ref, "extra", "VIEW")
    saved = {"funnel": scope.funnels, "cohort": scope.cohorts, "segment": scope.segments}
    table = {
        "report": {"view": lambda: scope.get_report(ref), "edit": lambda: scope.rerun_report(ref), "delete": lambda: scope.delete_report(ref)},
        "prediction": {"view": lambda: scope.predictions.get(ref), "edit": lambda: scope.predictions.rerun(ref),
                       "delete": lambda: scope.predictions.delete(ref)},
        "generation": {"view": lambda: st.get(ref), "edit": lambda: st.regenerate(ref),
                       "delete": lambda: st.delete(ref)},
        "collection": {"view": lambda: st.collection_items(ref), "edit": lambda: st.remove_from_collection(ref, -1),
                       "delete": lambda: st.delete_collection(ref)},
    }
    if kind in saved:
        changes = {"funnel": {"window": "2d"}, "cohort": {"periods": 3}, "segment": {"match": "any"}}[kind]
        table[kind] = {"view": lambda: saved[kind].get(ref), "edit": lambda: saved[kind].update(ref, **changes),
                       "delete": lambda: saved[kind].delete(ref)}
    return table[kind][action]()


@pytest.mark.slow
def test_every_cell_of_the_matrix(team):
    factory = Factory(team)
    scopes = {u: team.brand("acme", user=u) for u in USERS}
    shared = {kind: factory.make(kind) for kind in KINDS}  # reused by actions that leave it in place
    checked = 0
    for kind, action, user in itertools.product(KINDS, ACTIONS, USERS):
        expected = action in ALLOWED[user]
        ref = factory.make(kind) if action == "delete" else shared[kind]
        assert scopes[user].collab.can(action, kind, ref) is expected, (kind, action, user)
        if expected:
            perform(scopes[user], kind, action, ref)
        else:
            with pytest.raises(PermissionDeniedError):
                perform(scopes[user], kind, action, ref)
        checked += 1
    assert checked == 7 * 5 * 7
    # lists show only what each user may view: nobody sees none of owner's resources
    assert scopes["nobody"].funnels.list().empty and scopes["nobody"].reports().empty
    assert scopes["nobody"].studio.list()["id"].tolist() == []
    assert scopes["nobody"].predictions.list().empty and scopes["nobody"].studio.collections().empty
    assert set(scopes["viewer"].funnels.list()["name"]) >= {shared["funnel"]}
    assert shared["report"] in scopes["viewer"].reports()["id"].tolist()
