"""Report parameters checked before a kernel starts, so that a typo costs a second, not a run.

Each value must fit the type its notebook declares (``int``, ``float``, ``bool``, ``str``, ``list``,
``Optional[...]``), and the parameters every report shares mean the same everywhere: ``since`` and
``until`` are dates with since before until, ``steps``/``start_event``/``return_event`` are events
the brand has, ``breakdown`` is a column or property it has, ``window`` is a duration, ``period`` is
day, week or month, ``metric``/``metrics`` are daily metrics.
"""
from __future__ import annotations

from typing import Any

from ..analyses import vocabulary
from ..analytics._inputs import parse_window
from ..analytics.metrics import DAILY_METRICS
from ..context import check_period
from ..errors import InvalidInputError

__all__ = ["check_parameters"]

_TYPES = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,), "list": (list, tuple)}


def _fits(value: Any, declared: str) -> bool:
    optional = declared.startswith("Optional[") or declared in ("None", "NoneType")
    if value is None:
        return optional
    base = declared[len("Optional["):-1] if declared.startswith("Optional[") else declared
    base = base.split("[", 1)[0].lower()
    kinds = _TYPES.get(base)
    if kinds is None:
        return True  # a type we do not know: the notebook will say
    if base in ("int", "float") and isinstance(value, bool):
        return False
    return isinstance(value, kinds)


def check_parameters(ctx, declared: dict[str, dict], params: dict[str, Any]) -> None:
    """InvalidInputError naming the first parameter that does not fit."""
    for key, value in params.items():
        if key in declared and not _fits(value, str(declared[key]["type"])):
            raise InvalidInputError(f"report parameter {key!r} must be {declared[key]['type']}, got {value!r}")
    merged = {k: v["default"] for k, v in declared.items()}
    merged.update(params)
    merged = {k: _default(v) for k, v in merged.items()}
    check_period(merged.get("since"), merged.get("until"))
    if "window" in merged:
        parse_window(merged["window"])
    if "period" in merged and merged["period"] not in ("day", "week", "month"):
        raise InvalidInputError(f"report parameter 'period' must be day, week or month, got {merged['period']!r}")
    metrics = list(merged.get("metrics") or []) + ([merged["metric"]] if merged.get("metric") else [])
    unknown = [m for m in metrics if m not in DAILY_METRICS]
    if unknown:
        raise InvalidInputError(f"unknown metric(s) {unknown}; daily metrics are {', '.join(DAILY_METRICS)}")
    ctx.brand_id  # noqa: B018 - an unknown brand is a NotFoundError with close names
    vocabulary.check_events(ctx, list(merged.get("steps") or []))
    vocabulary.check_events(ctx, [merged.get("start_event"), merged.get("return_event")])
    vocabulary.check_breakdown(ctx, merged.get("breakdown"))


def _default(value):
    """papermill reports defaults as source text ("None", "'week'", "[...]"): their values."""
    import ast
    if isinstance(value, str):
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    return value
