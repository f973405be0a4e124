"""Generation providers, pluggable by name."""
from .base import Artifact, GenerationRequest, Provider, get_provider, register_provider
from .http import OpenAIImagesProvider
from .local import LocalProvider

__all__ = ["Artifact", "GenerationRequest", "Provider", "LocalProvider", "OpenAIImagesProvider", "get_provider",
           "register_provider"]
