"""Alerts on the demo data's planted incidents, sent through the outbox to a real SMTP server."""
import pytest

from workbench.datasets import generate_events
from workbench.delivery import check_alerts
from workbench.errors import InvalidInputError


@pytest.fixture
def demo(tmp_path, smtp):
    from .conftest import make_workspace
    ws = make_workspace(tmp_path, smtp.port)
    data = generate_events(brands=1, users=2000, days=90, seed=0)
    ws.brand("shop").ingest(data.events.assign(brand="shop"))
    ws.brand("shop").members.add("ann", email="ann@example.com")
    yield ws, data.incidents
    ws.close()


def test_the_checkout_outage_alerts_once_and_recovers_once(demo, smtp, hook):
    ws, incidents = demo
    url, receiver = hook
    outage = incidents[incidents["kind"] == "checkout_outage"]["day"].iloc[0]
    shop = ws.brand("shop")
    shop.alerts.create("purchases", direction="down",
                       channels=[{"type": "email", "to": ["ann"]}, {"type": "webhook", "url": url}])
    first = check_alerts(shop.context)
    second = check_alerts(shop.context)  # the next night, the same history: nothing new
    assert first == {"anomalies": 1, "recoveries": 1} and second == {"anomalies": 0, "recoveries": 0}
    ws.deliver()
    subjects = [m["Subject"] for m in smtp.messages]
    assert subjects == [f"shop: purchases unusual on {outage:%Y-%m-%d}", "shop: purchases back to normal"]
    alert_mail = smtp.messages[0]
    text = alert_mail.get_body(("plain",)).get_content()
    assert "expected about" in text and "robust score -" in text
    [chart] = list(alert_mail.iter_attachments())
    assert chart.get_content_type() == "image/png" and chart.get_content()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(receiver.got) == 2 and all(code == 200 for code, _, _ in receiver.got)
    assert shop.alerts.list()["open_since"].isna().all()


def test_without_a_direction_every_unusual_day_is_told_once(demo, smtp):
    ws, incidents = demo
    shop = ws.brand("shop")
    shop.alerts.create("active_users", channels=[{"type": "email", "to": ["ann"]}])
    got = check_alerts(shop.context)
    spike = incidents[incidents["kind"] == "traffic_spike"]["day"].iloc[0]
    ws.deliver()
    assert got["anomalies"] >= 1 and any(f"{spike:%Y-%m-%d}" in m["Subject"] for m in smtp.messages)
    assert check_alerts(shop.context) == {"anomalies": 0, "recoveries": 0}


@pytest.mark.parametrize("kwargs,match", [({"metric": "happiness"}, "unknown metric"),
                                          ({"metric": "purchases", "direction": "sideways"}, "direction"),
                                          ({"metric": "purchases", "threshold": -1}, "threshold")])
def test_bad_alerts_are_refused(demo, kwargs, match):
    ws, _ = demo
    with pytest.raises(InvalidInputError, match=match):
        ws.brand("shop").alerts.create(channels=[{"type": "email", "to": ["ann"]}], **kwargs)
