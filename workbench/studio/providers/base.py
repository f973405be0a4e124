"""What a provider is: it turns a request into an artifact file, or raises a classified error."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from ...errors import InvalidInputError
from ...domain import GenerationType

__all__ = ["GenerationRequest", "Artifact", "Provider", "register_provider", "get_provider"]


@dataclass(frozen=True)
class GenerationRequest:
    generation_id: int
    type: GenerationType
    prompt: str
    parameters: dict
    model: str


@dataclass(frozen=True)
class Artifact:
    path: Path
    cost: float
    credits: float


class Provider(Protocol):
    """Providers raise TransientProviderError (worth retrying) or PermanentProviderError."""
    name: str

    def default_model(self, gen_type: GenerationType) -> str: ...

    def estimate_cost(self, gen_type: GenerationType, parameters: dict) -> float: ...

    def generate(self, request: GenerationRequest, out_dir: Path) -> Artifact: ...


_REGISTRY: dict[str, Callable[..., Provider]] = {}


def register_provider(name: str, factory: Callable[..., Provider]) -> None:
    _REGISTRY[name] = factory


def get_provider(name: str, **config) -> Provider:
    if name not in _REGISTRY:
        raise InvalidInputError(f"unknown provider {name!r}; registered: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**config)
