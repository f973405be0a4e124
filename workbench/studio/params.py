"""Per-type generation parameters, validated at the service boundary."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import invalid_input
from ..domain import GenerationType

__all__ = ["ImageParams", "ModelParams", "AnimationParams", "TemplateParams", "validate_params"]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImageParams(_Params):
    width: int = Field(default=512, ge=64, le=2048)
    height: int = Field(default=512, ge=64, le=2048)
    style: Literal["flat", "gradient", "noise"] = "gradient"


class ModelParams(_Params):
    shape: Literal["box", "sphere", "cylinder"] = "sphere"
    detail: int = Field(default=2, ge=0, le=5)
    size: float = Field(default=1.0, gt=0, le=100)


class AnimationParams(_Params):
    frames: int = Field(default=12, ge=2, le=120)
    fps: int = Field(default=12, ge=1, le=60)
    width: int = Field(default=256, ge=32, le=1024)
    height: int = Field(default=256, ge=32, le=1024)


class TemplateParams(_Params):
    format: Literal["json", "html"] = "html"
    sections: int = Field(default=3, ge=1, le=20)
    title: str | None = Field(default=None, max_length=200)


PARAMS = {GenerationType.IMAGE_2D: ImageParams, GenerationType.MODEL_3D: ModelParams,
          GenerationType.ANIMATION: AnimationParams, GenerationType.TEMPLATE: TemplateParams}


def validate_params(gen_type: GenerationType, params: dict | None) -> dict:
    """Parameters with defaults filled in; a clear error naming the bad field otherwise."""
    try:
        return PARAMS[gen_type](**(params or {})).model_dump()
    except ValidationError as exc:
        raise invalid_input(exc, f"parameters for {gen_type.value}") from exc
