"""Generations: artifacts, retries and classification, exactly-once finishing, versions, collections, analytics."""
import json
import time

import pytest
import trimesh
from PIL import Image

from workbench.errors import InvalidInputError, NotFoundError
from workbench.studio.runner import claim, run_batch

from .conftest import FAST


def test_default_provider_writes_real_deterministic_artifacts(studio_ws):
    st = studio_ws.brand("acme").studio
    ids = {t: st.request(t, "a red fox in the snow") for t in ("IMAGE_2D", "MODEL_3D", "ANIMATION", "TEMPLATE")}
    ids["json"] = st.request("TEMPLATE", "a red fox in the snow", {"format": "json"})
    result = st.run(policy=FAST)
    assert result.succeeded == 5 and result.failed == 0
    get = {k: st.get(v) for k, v in ids.items()}
    png = Image.open(get["IMAGE_2D"]["artifact_uri"])
    assert png.format == "PNG" and png.size == (512, 512)
    gif = Image.open(get["ANIMATION"]["artifact_uri"])
    assert gif.format == "GIF" and gif.n_frames == 12
    mesh = trimesh.load(get["MODEL_3D"]["artifact_uri"], file_type="glb", force="mesh")
    assert len(mesh.vertices) > 10 and len(mesh.faces) > 10
    assert "<h1>" in open(get["TEMPLATE"]["artifact_uri"]).read()
    assert len(json.load(open(get["json"]["artifact_uri"]))["sections"]) == 3
    again = st.regenerate(ids["IMAGE_2D"])
    st.run(policy=FAST)
    same = open(st.get(again)["artifact_uri"], "rb").read() == open(get["IMAGE_2D"]["artifact_uri"], "rb").read()
    assert same, "same prompt and parameters must give the same image"
    assert all(g["cost"] > 0 and g["duration_seconds"] >= 0 for g in get.values())


def test_transient_failures_are_retried_and_permanent_ones_are_not(studio_ws):
    st = studio_ws.brand("acme").studio
    flaky = st.request("IMAGE_2D", "transient2", provider="flaky")
    bad = st.request("IMAGE_2D", "permanent", provider="flaky")
    st.run(policy=FAST)
    f, b = st.get(flaky), st.get(bad)
    assert (f["status"].value, f["attempts"], f["error"]) == ("SUCCEEDED", 3, None)
    assert (b["status"].value, b["attempts"]) == ("FAILED", 1) and "content rejected" in b["error"]


def test_a_hanging_provider_times_out_and_fails_after_three_attempts(studio_ws):
    st = studio_ws.brand("acme").studio
    gid = st.request("IMAGE_2D", "hang", provider="flaky")
    t0 = time.perf_counter()
    st.run(policy=FAST.__class__(backoff=(0.01, 0.01), timeout=0.3, lease=30))
    g = st.get(gid)
    assert g["status"].value == "FAILED" and g["attempts"] == 3 and "timed out" in g["error"]
    assert time.perf_counter() - t0 < 10


def test_a_killed_batch_is_reclaimed_after_its_lease_and_finishes_once(studio_ws, tmp_path):
    st = studio_ws.brand("acme").studio
    calls = tmp_path / "calls.txt"
    studio_ws.provider_config["flaky"] = {"calls_file": str(calls)}
    ids = [st.request("IMAGE_2D", f"picture {i}", provider="flaky") for i in range(6)]
    # a worker claims three and dies without finishing them (lease 0.2 s)
    dead = claim(studio_ws.db, "dead-worker", 3, lease=0.2)
    assert len(dead) == 3
    first = run_batch(studio_ws.db, studio_ws.artifacts_path, worker="w1", policy=FAST,
                      provider_config=studio_ws.provider_config)
    assert first.succeeded == 3  # the dead worker's three are still leased
    time.sleep(0.3)
    second = run_batch(studio_ws.db, studio_ws.artifacts_path, worker="w2", policy=FAST,
                       provider_config=studio_ws.provider_config)
    assert second.succeeded == 3 and sorted(second.ids) == sorted(dead)
    assert run_batch(studio_ws.db, studio_ws.artifacts_path, policy=FAST).ids == []  # re-run: nothing left
    listed = st.list()
    assert (listed["status"] == "SUCCEEDED").all() and sorted(listed["id"]) == sorted(ids)
    assert sorted(int(x) for x in calls.read_text().split()) == sorted(ids)  # each ran once


def test_cancel_releases_the_reservation_and_the_worker_leaves_it_alone(studio_ws):
    st = studio_ws.brand("acme").studio
    st.set_budget(monthly_cost_limit=1.0)
    gid = st.request("IMAGE_2D", "to cancel")
    assert st.usage()["reserved_count"] == 1
    assert st.cancel(gid) is True and st.cancel(gid) is False
    assert st.usage()["reserved_count"] == 0 and st.usage()["reserved_cost"] == 0
    assert st.run(policy=FAST).ids == []
    assert st.get(gid)["status"].value == "CANCELLED"


def test_versions_history_compare_and_collections(studio_ws):
    st = studio_ws.brand("acme").studio
    v1 = st.request("IMAGE_2D", "a fox", author="ann")
    v2 = st.regenerate(v1, parameters={"style": "flat"}, author="bob")
    v3 = st.edit(v2, prompt="a fox at night")
    hist = st.history(v3)
    assert hist["id"].tolist() == [v1, v2, v3] and hist["version"].tolist() == [1, 2, 3]
    assert hist["parent_id"].tolist()[1:] == [v1, v2]
    diff = st.compare(v1, v3).set_index("field")
    assert diff.loc["prompt", str(v3)] == "a fox at night" and "parameters" in diff.index
    st.create_collection("foxes")
    st.add_to_collection("foxes", v1)
    st.add_to_collection("foxes", v3)
    st.add_to_collection("foxes", v3)  # idempotent
    assert st.collections().set_index("name").loc["foxes", "count"] == 2
    st.remove_from_collection("foxes", v1)
    assert st.collection_items("foxes")["id"].tolist() == [v3]


def test_analytics_by_day_and_type(studio_ws):
    st = studio_ws.brand("acme").studio
    st.request("IMAGE_2D", "ok", provider="flaky")
    st.request("IMAGE_2D", "permanent", provider="flaky")
    st.request("TEMPLATE", "ok")
    st.run(policy=FAST)
    day = st.analytics()
    assert day[["generations", "succeeded", "failed"]].iloc[0].tolist() == [3, 2, 1]
    assert day["success_rate"].iloc[0] == pytest.approx(2 / 3)
    by_type = st.analytics("type").set_index("type")
    assert by_type.loc["IMAGE_2D", "generations"] == 2 and by_type.loc["TEMPLATE", "success_rate"] == 1.0
    assert {"p50_duration", "p95_duration", "cost"} <= set(day.columns)


@pytest.mark.parametrize("kwargs,match", [
    ({"type": "VIDEO", "prompt": "x"}, "unknown generation type"),
    ({"type": "IMAGE_2D", "prompt": "  "}, "non-empty prompt"),
    ({"type": "IMAGE_2D", "prompt": "x", "parameters": {"width": 5}}, "width"),
    ({"type": "IMAGE_2D", "prompt": "x", "parameters": {"colour": "red"}}, "colour"),
    ({"type": "IMAGE_2D", "prompt": "x", "provider": "nope"}, "unknown provider"),
])
def test_bad_requests_are_refused_with_reasons(studio_ws, kwargs, match):
    st = studio_ws.brand("acme").studio
    with pytest.raises(InvalidInputError, match=match):
        st.request(kwargs.pop("type"), kwargs.pop("prompt"), **kwargs)
    assert "acme" not in studio_ws.brands(), "a refused request writes nothing, not even the brand"


def test_brands_do_not_see_each_others_generations(studio_ws):
    gid = studio_ws.brand("acme").studio.request("IMAGE_2D", "x")
    studio_ws.brand("globex").members.add("gina")  # globex exists, with nothing in its studio
    other = studio_ws.brand("globex").studio
    with pytest.raises(NotFoundError):
        other.get(gid)
    assert other.list().empty


@pytest.mark.parametrize("kwargs,match", [
    ({"lease": 0}, "lease must be"), ({"lease": -5}, "lease must be"), ({"lease": float("nan")}, "lease must be"),
    ({"max_attempts": 0}, "max_attempts"), ({"max_attempts": 2.5}, "max_attempts"),
    ({"timeout": 0}, "timeout"), ({"backoff": (-1.0,)}, "backoff"), ({"backoff": (5.0,), "lease": 2}, "backoff"),
])
def test_invalid_retry_policies_are_refused(kwargs, match):
    from workbench.studio import RetryPolicy
    with pytest.raises(InvalidInputError, match=match):
        RetryPolicy(**kwargs)


def test_a_call_longer_than_the_lease_is_kept_by_its_heartbeat(studio_ws, tmp_path):
    """A provider call of 5 s under a 2 s lease: the worker renews its claim, so a second live
    runner started after the first lease would have lapsed finds nothing to take, and the
    provider is called once."""
    import threading
    from workbench.studio import RetryPolicy
    calls = tmp_path / "calls.txt"
    studio_ws.provider_config["flaky"] = {"calls_file": str(calls), "delay": 5.0}
    st = studio_ws.brand("acme").studio
    gid = st.request("TEMPLATE", "slow page", provider="flaky")
    policy = RetryPolicy(backoff=(0.01,), timeout=30, lease=2.0)
    first = threading.Thread(target=run_batch, args=(studio_ws.db, studio_ws.artifacts_path),
                             kwargs={"policy": policy, "provider_config": studio_ws.provider_config})
    first.start()
    time.sleep(3.0)  # past the first lease
    second = run_batch(studio_ws.db, studio_ws.artifacts_path, policy=policy,
                       provider_config=studio_ws.provider_config)
    first.join(30)
    assert second.ids == []
    assert calls.read_text().split() == [str(gid)]
    g = st.get(gid)
    assert g["status"].value == "SUCCEEDED" and g["attempts"] == 1
    assert not list(studio_ws.artifacts_path.rglob(".staging/*/*")), "staged files must be moved or removed"
