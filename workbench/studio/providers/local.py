"""The embedded default provider: offline, deterministic, real files of the right format.

The same prompt and parameters always give byte-identical artifacts (PNG, GLB, GIF,
JSON/HTML), derived from a SHA-256 of the request; the cost model is per pixel, vertex,
frame or section.
"""
from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path

import numpy as np

from ...errors import PermanentProviderError
from ...domain import GenerationType
from .base import Artifact, GenerationRequest, register_provider

__all__ = ["LocalProvider"]

_EXT = {GenerationType.IMAGE_2D: "png", GenerationType.MODEL_3D: "glb", GenerationType.ANIMATION: "gif",
        GenerationType.TEMPLATE: "json"}


def _seed(prompt: str, parameters: dict) -> int:
    digest = hashlib.sha256(json.dumps([prompt, parameters], sort_keys=True).encode()).digest()
    return int.from_bytes(digest[:8], "big")


class LocalProvider:
    name = "local"

    def default_model(self, gen_type: GenerationType) -> str:
        return f"local-{gen_type.value.lower()}-v1"

    def estimate_cost(self, gen_type: GenerationType, p: dict) -> float:
        if gen_type == GenerationType.IMAGE_2D:
            return round(0.002 + p["width"] * p["height"] / 1e6 * 0.02, 6)
        if gen_type == GenerationType.MODEL_3D:
            return round(0.01 * (1 + p["detail"]), 6)
        if gen_type == GenerationType.ANIMATION:
            return round(0.001 * p["frames"] * p["width"] * p["height"] / 65536, 6)
        return round(0.001 * p["sections"], 6)

    def generate(self, request: GenerationRequest, out_dir: Path) -> Artifact:
        if not request.prompt.strip():
            raise PermanentProviderError("the prompt is empty")
        rng = np.random.default_rng(_seed(request.prompt, request.parameters))
        p = request.parameters
        ext = _EXT[request.type]
        if request.type == GenerationType.TEMPLATE and p["format"] == "html":
            ext = "html"
        path = out_dir / f"generation-{request.generation_id}.{ext}"
        out_dir.mkdir(parents=True, exist_ok=True)
        getattr(self, f"_{request.type.value.lower()}")(rng, request, path)
        cost = self.estimate_cost(request.type, p)
        return Artifact(path=path, cost=cost, credits=round(cost * 100, 4))

    @staticmethod
    def _image(rng, p: dict):
        from PIL import Image
        w, h = p["width"], p["height"]
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        if p["style"] == "flat":
            arr = np.broadcast_to(a, (h, w, 3))
        elif p["style"] == "gradient":
            t = np.linspace(0, 1, w)[None, :, None]
            arr = np.broadcast_to(a * (1 - t) + b * t, (h, w, 3))
        else:
            arr = rng.integers(0, 256, (h, w, 3))
        return Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8))

    def _image_2d(self, rng, request, path: Path) -> None:
        self._image(rng, request.parameters).save(path, format="PNG", optimize=False)

    def _animation(self, rng, request, path: Path) -> None:
        from PIL import Image
        p = request.parameters
        base = np.asarray(self._image(rng, {**p, "style": "gradient"}), dtype=np.int16)
        frames = [Image.fromarray(np.roll(base, int(i * p["width"] / p["frames"]), axis=1).astype(np.uint8))
                  for i in range(p["frames"])]
        frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], duration=int(1000 / p["fps"]),
                       loop=0)

    def _model_3d(self, rng, request, path: Path) -> None:
        import trimesh
        p = request.parameters
        if p["shape"] == "box":
            mesh = trimesh.creation.box(extents=[p["size"]] * 3)
        elif p["shape"] == "cylinder":
            mesh = trimesh.creation.cylinder(radius=p["size"] / 2, height=p["size"], sections=8 * (p["detail"] + 2))
        else:
            mesh = trimesh.creation.icosphere(subdivisions=p["detail"], radius=p["size"] / 2)
        mesh.vertices += rng.normal(0, 0.01 * p["size"], mesh.vertices.shape)
        colour = np.r_[rng.integers(0, 256, 3), 255].astype(np.uint8)
        mesh.visual.vertex_colors = np.tile(colour, (len(mesh.vertices), 1))
        path.write_bytes(trimesh.exchange.gltf.export_glb(trimesh.Scene(mesh)))

    def _template(self, rng, request, path: Path) -> None:
        p = request.parameters
        title = p["title"] or request.prompt[:80]
        words = request.prompt.split() or ["untitled"]
        sections = [{"heading": f"{words[int(rng.integers(len(words)))].title()} {i + 1}",
                     "body": " ".join(words[int(j) % len(words)] for j in rng.integers(0, 10_000, 12))}
                    for i in range(p["sections"])]
        if path.suffix == ".json":
            path.write_text(json.dumps({"title": title, "sections": sections}, indent=2))
        else:
            body = "".join(f"<section><h2>{html.escape(s['heading'])}</h2><p>{html.escape(s['body'])}</p></section>"
                           for s in sections)
            path.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                            f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>")


register_provider("local", LocalProvider)
