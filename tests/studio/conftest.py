import os
import threading
from pathlib import Path

import pytest

import workbench as wb
from workbench.errors import PermanentProviderError, TransientProviderError
from workbench.studio import RetryPolicy, register_provider
from workbench.studio.providers import LocalProvider

FAST = RetryPolicy(backoff=(0.01, 0.02), timeout=2.0, lease=30.0)


class FlakyProvider(LocalProvider):
    """Fails according to a script keyed by prompt: "transient2" fails twice then works,
    "permanent" always fails permanently, "hang" never answers, anything else works.
    Every call is appended to ``calls_file`` (one line per call) when given; with ``stamp``
    the artifact ends with the writing process's id, so a file overwritten by another
    process can be told apart."""
    name = "flaky"
    _lock = threading.Lock()
    _seen: dict = {}

    def __init__(self, calls_file: str | None = None, delay: float = 0.0, stamp: bool = False):
        self.calls_file = calls_file
        self.delay = delay
        self.stamp = stamp

    def generate(self, request, out_dir: Path):
        import time
        if self.calls_file:
            with open(self.calls_file, "a") as fh:
                fh.write(f"{request.generation_id}\n")
        with self._lock:
            n = self._seen[request.generation_id] = self._seen.get(request.generation_id, 0) + 1
        if self.delay:
            time.sleep(self.delay)
        if request.prompt == "transient2" and n <= 2:
            raise TransientProviderError("503 from upstream")
        if request.prompt == "permanent":
            raise PermanentProviderError("content rejected")
        if request.prompt == "hang":
            time.sleep(3600)
        artifact = super().generate(request, out_dir)
        if self.stamp:
            with open(artifact.path, "a") as fh:
                fh.write(f"<!-- written by process {os.getpid()} -->")
        return artifact


register_provider("flaky", FlakyProvider)


@pytest.fixture
def studio_ws(tmp_path):
    FlakyProvider._seen.clear()  # generation ids start again in every test's database
    ws = wb.open(tmp_path / "data")
    yield ws
    ws.close()
