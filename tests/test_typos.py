"""Names a brand's events never had are errors that suggest close matches, not silent zeros."""
import pytest

from workbench.datasets import generate_events
from workbench.errors import NotFoundError


@pytest.fixture
def acme(ws):
    ws.brand("acme").ingest(generate_events(brands=1, users=200, days=30, seed=4).events)
    return ws.brand("acme")


def test_unknown_funnel_step(acme):
    with pytest.raises(NotFoundError, match="no event 'add_to_kart'; did you mean 'add_to_cart'"):
        acme.funnel(["view", "add_to_kart", "purchase"], "7d")
    for call in (acme.funnel_dropoff, acme.time_to_convert, acme.funnel_over_time):
        with pytest.raises(NotFoundError, match="add_to_kart"):
            call(["view", "add_to_kart"], "7d")


def test_unknown_breakdown_column_or_property(acme):
    with pytest.raises(NotFoundError, match="no column or property 'cuntry'; did you mean 'country'"):
        acme.funnel(["view", "purchase"], "7d", breakdown="cuntry")
    assert len(acme.funnel(["view", "purchase"], "7d", breakdown="properties.device")) > 2


def test_unknown_retention_events(acme):
    with pytest.raises(NotFoundError, match="no event 'signin'"):
        acme.retention(start_event="signin")
    with pytest.raises(NotFoundError, match="did you mean 'purchase'"):
        acme.retention(return_event="purchse")


def test_saved_definitions_refuse_unknown_names(acme):
    with pytest.raises(NotFoundError, match="did you mean 'add_to_cart'"):
        acme.funnels.create("shop", steps=["view", "add_to_kart"], window="7d")
    acme.funnels.create("shop", steps=["view", "add_to_cart"], window="7d")
    with pytest.raises(NotFoundError, match="did you mean 'checkout'"):
        acme.funnels.update("shop", steps=["view", "chekout"])
    with pytest.raises(NotFoundError, match="no event 'sign_up'"):
        acme.cohorts.create("weekly", period="week", periods=4, start_event="sign_up")
    with pytest.raises(NotFoundError, match="did you mean 'device'"):
        acme.segments.create("mobile", conditions=[{"kind": "property", "field": "devise", "value": "mobile"}])
    with pytest.raises(NotFoundError, match="did you mean 'purchase'"):
        acme.segment_users({"conditions": [{"kind": "behaviour", "event": "purchases"}]})


def test_a_brand_without_events_has_nothing_to_check(ws):
    ws.brand("empty").members.add("ann")
    assert ws.brand("empty").funnels.create("shop", steps=["view", "buy"], window="1d").steps == ["view", "buy"]


def test_a_brand_written_again_after_deletion_is_checked_against_its_new_events(ws):
    import pandas as pd

    rows = lambda event: pd.DataFrame({"user_id": ["u"], "event": [event], "ts": ["2026-03-02"]})  # noqa: E731
    ws.brand("acme").ingest(rows("view"))
    assert ws.brand("acme").funnel(["view", "view"], "1d")["users"].tolist() == [1, 0]
    ws.delete_brand("acme")
    ws.brand("acme").ingest(rows("signup"))  # version 0 again, of another table
    assert ws.brand("acme").funnel(["signup", "signup"], "1d")["users"].tolist() == [1, 0]
    with pytest.raises(NotFoundError, match="no event 'view'"):
        ws.brand("acme").funnel(["view", "signup"], "1d")
