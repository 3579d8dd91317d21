"""The project's one validation library (pydantic v2), set up once for configuration and documents.

Configuration sections and the documents the watcher and inspector exchange (manifest, clip sidecar,
analysis results, status.json) are pydantic models built on :class:`Strict`: frozen, unknown keys
rejected, no coercion (``"5"`` is not an integer, ``1`` is not ``true``); a TOML or JSON array is accepted
where a field is a tuple (:data:`Items`). Bounds live in the schema (``Field(ge=..., le=...)``).

:func:`validate` is total: it returns the model or raises the caller's error type with the first problem
as ``(key, message)``, the key spelled the way users write it (``watcher[1].host``, ``detector.mask[0][2]``)
and the message in the house's words (``must be >= 1, got 0``), never pydantic's own exception.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from shared.naming import check_camera_name

__all__ = ["CameraName", "Items", "Problem", "Strict", "checked_by", "first_problem", "key_of", "validate"]

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

# A tuple that also accepts a list (TOML arrays and JSON arrays arrive as lists); its items stay strict.
Items = Annotated[tuple[T, ...], Field(strict=False)]


def checked_by(check: Callable[[T], str | None]) -> AfterValidator:
    """A field validator from one of the house's check functions (None: fine; else the problem, which
    becomes the message)."""

    def run(value: T) -> T:
        problem = check(value)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(run)


# A camera's (or a watcher's) name: shared.naming's rules, checked where it is read.
CameraName = Annotated[str, checked_by(check_camera_name)]


class Strict(BaseModel):
    """Base of every configuration section and document: frozen, no unknown keys, no coercion."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class Problem(ValueError):
    """The first thing wrong with a table or document: where (a dotted key) and what."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key
        self.message = message


def key_of(loc: Sequence[int | str], prefix: str = "") -> str:
    """``("watcher", 1, "host")`` → ``watcher[1].host``; joined under ``prefix`` (a section name)."""
    key = prefix
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        else:
            key = f"{key}.{part}" if key else str(part)
    return key


def _show(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_EXPECTED = {
    "int_type": "expected an integer",
    "float_type": "expected a number",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
    "dataclass_type": "expected a table",
    "none_required": "expected null",
    "finite_number": "expected a finite number",
}


def message_of(err: ErrorDetails) -> str:
    """One pydantic error in the house's words."""
    kind = err["type"]
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    value = err.get("input")
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return "unknown key"
    if kind in ("missing", "missing_keyword_argument"):
        return "is required"
    if kind in _EXPECTED:
        return f"{_EXPECTED[kind]}, got {_show(value)}"
    bounds = {"greater_than_equal": (">=", "ge"), "less_than_equal": ("<=", "le"),
              "greater_than": (">", "gt"), "less_than": ("<", "lt")}
    if kind in bounds:
        op, name = bounds[kind]
        return f"must be {op} {ctx.get(name)}, got {_show(value)}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}, got {_show(value)}"
    if kind in ("too_short", "too_long"):
        bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        word = "at least" if kind == "too_short" else "at most"
        return f"must have {word} {bound} items, got {ctx.get('actual_length')}"
    if kind in ("string_too_short", "string_too_long"):
        bound = ctx.get("min_length") if kind == "string_too_short" else ctx.get("max_length")
        word = "at least" if kind == "string_too_short" else "at most"
        return f"must have {word} {bound} characters"
    if kind == "string_pattern_mismatch":
        return f"does not match {ctx.get('pattern')}: {_show(value)}"
    if kind in ("value_error", "assertion_error"):
        error = ctx.get("error")
        return str(error) if error is not None else err["msg"]
    return f"{err['msg']}, got {_show(value)}"


def _model_at(model: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model that holds the last key of ``loc`` (best effort: through fields, tuples and Annotated)."""
    here: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = here.model_fields.get(part) if isinstance(here, type) and issubclass(here, BaseModel) else None
        if field is None:
            return None
        here = field.annotation
        while typing.get_origin(here) in (tuple, list, Annotated):
            here = typing.get_args(here)[0]
    return here if isinstance(here, type) and issubclass(here, BaseModel) else None


def first_problem(exc: ValidationError, prefix: str = "", model: type[BaseModel] | None = None) -> Problem:
    """The first error of a ValidationError as a :class:`Problem` (key joined under ``prefix``); with
    ``model``, an unknown key's message lists the keys that model knows there. A validator that raises
    :class:`Problem` names a key below the model it runs on: that key is joined to the model's own."""
    errors = exc.errors(include_url=False)
    if not errors:  # pragma: no cover - pydantic never raises an empty ValidationError
        return Problem(prefix, str(exc))
    err = errors[0]
    loc = list(err["loc"])
    # A union's branch name ("function-after[...]", "tuple[...]") is pydantic's, not the user's key.
    loc = [p for p in loc if isinstance(p, int) or ("[" not in p and "(" not in p)]
    message = message_of(err)
    if err["type"] == "extra_forbidden" and model is not None:
        holder = _model_at(model, loc)
        if holder is not None:
            message += f" (known keys: {', '.join(sorted(holder.model_fields))})"
    key = key_of(loc, prefix)
    inner = (err.get("ctx") or {}).get("error")
    if isinstance(inner, Problem):  # a model validator's rule about one of its keys (``host: is required``)
        key = key + inner.key if not key or not inner.key or inner.key.startswith("[") else f"{key}.{inner.key}"
        message = inner.message
    return Problem(key, message)


def validate(model: type[M], data: object, *, prefix: str = "", context: Mapping[str, Any] | None = None) -> M:
    """``model`` built from ``data`` (a dict from TOML or JSON), or :class:`Problem`; never another exception
    for data made of dicts, lists, strings, numbers, booleans and None. A table that is not a dict is a
    Problem at ``prefix``."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise Problem(prefix, f"expected a table, got {type(data).__name__}")
    try:
        return model.model_validate(data, context=dict(context) if context else None)
    except ValidationError as e:
        raise first_problem(e, prefix, model) from None
    except (ValueError, TypeError, ArithmeticError) as e:  # a validator's own slip, still a rejection
        raise Problem(prefix, f"invalid: {e}") from None
