"""The OpenAI-style images provider against a local server on 127.0.0.1 that plays failures."""
import base64
import io
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from workbench.errors import PermanentProviderError, TransientProviderError
from workbench.storage.models import GenerationType
from workbench.studio.providers import GenerationRequest, OpenAIImagesProvider

from .conftest import FAST


def _png() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


# 200 answers whose "image" is not one
NOT_IMAGES = {"html": base64.b64encode(b"<html><body>Service unavailable</body></html>").decode(),
              "garbage": "not base64 at all!!",
              "truncated": _png()[:60],
              "empty": ""}


class Script:
    """What the server answers next, per prompt: a list of 'ok', '429', '500', 'hang', 'reject', '400'."""
    plays: dict = {}
    requests: list = []


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Script.requests.append((self.path, body))
        plan = Script.plays.get(body["prompt"], ["ok"])
        step = plan.pop(0) if len(plan) > 1 else plan[0]
        if step == "hang":
            time.sleep(2)
            step = "ok"
        if step == "ok":
            payload, code = {"created": 1, "data": [{"b64_json": _png()}]}, 200
        elif step in NOT_IMAGES:
            payload, code = {"created": 1, "data": [{"b64_json": NOT_IMAGES[step]}]}, 200
        elif step == "reject":
            payload, code = {"error": {"code": "content_policy_violation", "message": "rejected by safety system"}}, 400
        elif step == "400":
            payload, code = {"error": {"code": "invalid_size", "message": "size not supported"}}, 400
        else:
            payload, code = {"error": {"message": "busy"}}, int(step)
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the client gave up on a slow answer (the timeout case): expected


@pytest.fixture
def server():
    srv = QuietServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    Script.plays, Script.requests = {}, []
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()


def req(prompt):
    return GenerationRequest(1, GenerationType.IMAGE_2D, prompt, {"width": 256, "height": 256, "style": "flat"},
                             "gpt-image-1")


def test_classifies_answers(server, tmp_path):
    p = OpenAIImagesProvider(base_url=server, api_key="k", timeout=0.5)
    Script.plays = {"rate": ["429"], "boom": ["500"], "slow": ["hang"], "nsfw": ["reject"], "huge": ["400"]}
    art = p.generate(req("a fox"), tmp_path)
    assert Image.open(art.path).size == (64, 64)
    path, body = Script.requests[0]
    assert path == "/v1/images/generations" and body["size"] == "256x256" and body["response_format"] == "b64_json"
    for prompt, error, match in (("rate", TransientProviderError, "429"), ("boom", TransientProviderError, "500"),
                                 ("slow", TransientProviderError, "timed out"),
                                 ("nsfw", PermanentProviderError, "content rejected"),
                                 ("huge", PermanentProviderError, "bad request")):
        with pytest.raises(error, match=match):
            p.generate(req(prompt), tmp_path)


def test_end_to_end_with_retries(server, studio_ws):
    studio_ws.provider_config["openai-images"] = {"base_url": server, "timeout": 0.5}
    st = studio_ws.brand("acme").studio
    Script.plays = {"flaky fox": ["429", "500", "ok"], "bad fox": ["reject"], "lost fox": ["500"]}
    ok = st.request("IMAGE_2D", "flaky fox", {"width": 256, "height": 256}, provider="openai-images")
    bad = st.request("IMAGE_2D", "bad fox", provider="openai-images")
    lost = st.request("IMAGE_2D", "lost fox", provider="openai-images")
    st.run(policy=FAST)
    g = {k: st.get(v) for k, v in {"ok": ok, "bad": bad, "lost": lost}.items()}
    assert (g["ok"]["status"].value, g["ok"]["attempts"]) == ("SUCCEEDED", 3)
    assert (g["bad"]["status"].value, g["bad"]["attempts"]) == ("FAILED", 1)
    assert (g["lost"]["status"].value, g["lost"]["attempts"]) == ("FAILED", 3) and "500" in g["lost"]["error"]


@pytest.mark.parametrize("answer,match", [("html", "not an image"), ("garbage", "not valid base64"),
                                          ("truncated", "not an image|not valid base64"),
                                          ("empty", "no image data")])
def test_a_non_image_answer_fails_permanently_and_stores_nothing(server, studio_ws, answer, match):
    studio_ws.provider_config["openai-images"] = {"base_url": server, "timeout": 2}
    st = studio_ws.brand("acme").studio
    Script.plays = {"fox": [answer]}
    gid = st.request("IMAGE_2D", "fox", provider="openai-images")
    st.run(policy=FAST)
    g = st.get(gid)
    assert (g["status"].value, g["attempts"], g["artifact_uri"]) == ("FAILED", 1, None)
    assert g["error"].startswith("permanent:") and re.search(match, g["error"])
    assert not [p for p in studio_ws.artifacts_path.rglob("*") if p.is_file()], "nothing may be stored"
    assert st.usage()["reserved_count"] == 0 and st.usage()["spent_cost"] == 0
