"""An HTTP provider speaking the OpenAI ``images/generations`` shape (base64 responses).

Errors are classified: 429, 5xx, timeouts and connection failures are transient;
400/401/403/404 and content-policy rejections are permanent, and so is a response whose
image is not one (bad base64, or bytes that Pillow cannot read as PNG, JPEG or WebP):
asking again would not change what the service sends. The file is named for the format
it really is.
"""
from __future__ import annotations

import base64
import binascii
import io
from pathlib import Path

import httpx

from ...errors import PermanentProviderError, TransientProviderError
from ...domain import GenerationType
from .base import Artifact, GenerationRequest, register_provider

__all__ = ["OpenAIImagesProvider"]


class OpenAIImagesProvider:
    name = "openai-images"

    def __init__(self, base_url: str = "https://api.openai.com/v1", api_key: str | None = None,
                 timeout: float = 60.0, price_per_image: float = 0.04):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.price_per_image = price_per_image

    def default_model(self, gen_type: GenerationType) -> str:
        return "gpt-image-1"

    def estimate_cost(self, gen_type: GenerationType, parameters: dict) -> float:
        return self.price_per_image

    def generate(self, request: GenerationRequest, out_dir: Path) -> Artifact:
        if request.type != GenerationType.IMAGE_2D:
            raise PermanentProviderError(f"{self.name} only makes IMAGE_2D, not {request.type.value}")
        p = request.parameters
        body = {"model": request.model, "prompt": request.prompt, "n": 1, "size": f"{p['width']}x{p['height']}",
                "response_format": "b64_json"}
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            resp = httpx.post(f"{self.base_url}/images/generations", json=body, headers=headers, timeout=self.timeout)
        except httpx.TimeoutException as exc:
            raise TransientProviderError(f"{self.name} timed out after {self.timeout} s") from exc
        except httpx.TransportError as exc:
            raise TransientProviderError(f"{self.name} unreachable: {exc}") from exc
        if resp.status_code == 429 or resp.status_code >= 500:
            raise TransientProviderError(f"{self.name} answered {resp.status_code}: {resp.text[:200]}")
        if resp.status_code >= 400:
            try:
                err = resp.json().get("error", {})
            except ValueError:
                err = {}
            kind = "content rejected" if err.get("code") == "content_policy_violation" else "bad request"
            raise PermanentProviderError(f"{self.name} {kind} ({resp.status_code}): {err.get('message', resp.text[:200])}")
        try:
            encoded = resp.json()["data"][0]["b64_json"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise TransientProviderError(f"{self.name} returned an unreadable body") from exc
        ext = _image_extension(self.name, encoded)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"generation-{request.generation_id}.{ext}"
        path.write_bytes(base64.b64decode(encoded))
        return Artifact(path=path, cost=self.price_per_image, credits=1.0)


_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}


def _image_extension(provider: str, encoded) -> str:
    """The file extension of a base64 image, or a PermanentProviderError saying what it is not."""
    from PIL import Image, UnidentifiedImageError

    if not isinstance(encoded, str) or not encoded:
        raise PermanentProviderError(f"{provider} returned no image data (b64_json is {type(encoded).__name__})")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PermanentProviderError(f"{provider} returned b64_json that is not valid base64") from exc
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise PermanentProviderError(f"{provider} returned {len(data)} bytes that are not an image "
                                     f"(starting {data[:8]!r})") from exc
    if fmt not in _FORMATS:
        raise PermanentProviderError(f"{provider} returned a {fmt} image; expected one of {', '.join(_FORMATS)}")
    return _FORMATS[fmt]


register_provider("openai-images", OpenAIImagesProvider)
