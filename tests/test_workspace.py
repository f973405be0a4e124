"""Brand isolation: nothing read through one brand's scope belongs to another."""
import pandas as pd
import pytest

import workbench as wb
from workbench.datasets import FUNNEL_STEPS, generate_events


@pytest.fixture
def two_brands(ws):
    demo = generate_events(brands=2, users=400, days=35, seed=1).events
    for brand, frame in demo.groupby("brand"):
        ws.brand(brand).ingest(frame)
    return ws, demo


def test_events_are_limited_to_the_brand(two_brands):
    ws, demo = two_brands
    for brand in ("acme", "globex"):
        got = ws.brand(brand).events().df()
        assert set(got["brand"]) == {brand}
        assert len(got) == (demo["brand"] == brand).sum()
        assert set(got["user_id"]) == set(demo.loc[demo.brand == brand, "user_id"])


def test_analyses_see_only_their_brand(two_brands):
    ws, demo = two_brands
    acme_only = demo[demo.brand == "acme"]
    assert ws.brand("acme").funnel(FUNNEL_STEPS, "7d").equals(wb.analytics.funnel(acme_only, FUNNEL_STEPS, "7d"))
    ret = ws.brand("acme").retention(period="week", periods=3)
    pd.testing.assert_frame_equal(ret, wb.analytics.retention(acme_only, period="week", periods=3))


def test_time_range_filter(two_brands):
    ws, demo = two_brands
    got = ws.brand("acme").events(since="2026-01-10", until="2026-01-20").df()
    assert got["ts"].min() >= pd.Timestamp("2026-01-10", tz="UTC")
    assert got["ts"].max() < pd.Timestamp("2026-01-20", tz="UTC")
    a = demo[(demo.brand == "acme") & (demo.ts >= "2026-01-10") & (demo.ts < "2026-01-20")]
    assert len(got) == len(a)


@pytest.mark.postgres
def test_workspace_on_postgres(postgres_url, tmp_path):
    ws = wb.open(tmp_path / "data", database_url=postgres_url)
    ws.brand("acme").ingest(pd.DataFrame({"user_id": ["u"], "event": ["x"], "ts": ["2026-01-01"]}))
    assert "acme" in ws.brands()
    ws.close()


@pytest.mark.postgres
def test_a_postgresql_url_without_a_driver_uses_psycopg(postgres_url, tmp_path):
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    ws = wb.open(tmp_path / "data", database_url=plain)
    assert ws.db.engine.url.drivername == "postgresql+psycopg" and "acme" in ws.brands() + [ws.brand("acme").name]
    ws.close()


def test_reading_a_brand_nothing_was_written_to_suggests_names_and_creates_nothing(ws):
    from workbench.errors import NotFoundError
    ws.brand("acme").members.add("ann")
    for read in (lambda b: b.funnel(["view", "purchase"], "1d"), lambda b: b.studio.list(),
                 lambda b: b.funnels.list(), lambda b: b.reports(), lambda b: b.events()):
        with pytest.raises(NotFoundError, match="no brand 'acmee'; did you mean 'acme'"):
            read(ws.brand("acmee"))
    assert ws.brands() == ["acme"]
    assert ws.brand("newco").funnels.create("shop", steps=["view", "purchase"], window="1d")  # a write creates it
    assert ws.brands() == ["acme", "newco"]
    out = ws.delete_brand("newco")
    assert out["database"] is True and ws.brands() == ["acme"]
    with pytest.raises(NotFoundError, match="no brand 'newco'"):
        ws.delete_brand("newco")
