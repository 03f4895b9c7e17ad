"""Type checks for config dataclasses read from files and the command line.

One rule for every config (:class:`~flowkit.models.base.ModelConfig`,
:class:`~flowkit.train.TrainConfig`): each value must match its field's annotation, so
a wrong type is one clear line naming the field and the expected type instead of an
error from deep inside the code.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, ClassVar, Self

__all__ = ["Config", "check_field", "check_fields"]


def _describe(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if tp is type(None):
        return "null"
    if origin in (list, tuple):
        plural = {int: "integers", float: "finite numbers", str: "strings"}.get(args[0], _describe(args[0]))
        count = f"{len(args)} " if origin is tuple and Ellipsis not in args else ""
        return f"a list of {count}{plural}"
    if origin is dict or tp is dict:
        return "an object"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    return {int: "an integer", float: "a finite number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def _matches(value: Any, tp: Any) -> bool:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return True
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if tp is str:
        return isinstance(value, str)
    if origin is tuple:
        items = args[:1] * len(value) if len(args) == 2 and args[1] is Ellipsis else args
        return (
            isinstance(value, (list, tuple))
            and len(value) == len(items)
            and all(_matches(v, a) for v, a in zip(value, items, strict=True))
        )
    if origin is list:
        return isinstance(value, (list, tuple)) and all(_matches(v, args[0]) for v in value)
    if origin is dict or tp is dict:
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    return isinstance(value, tp)


def check_field(cls: type, name: str, value: Any, where: str) -> None:
    """Raise ``ValueError("<where>: field <name> must be <type>, got <value>")`` unless
    ``value`` fits field ``name`` of the dataclass ``cls`` (floats must be finite; ``bool``
    is not an integer; JSON lists stand for tuples)."""
    tp = typing.get_type_hints(cls)[name]
    if not _matches(value, tp):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise ValueError(f"{where}: field {name} must be {_describe(tp)}, got {shown}")


def check_fields(cls: type, data: dict[str, Any], where: str) -> None:
    """:func:`check_field` for every known field in ``data``; unknown names are an error too."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}; valid fields: {sorted(names)}")
    for name, value in data.items():
        check_field(cls, name, value, where)


class Config:
    """Base of flowkit's config dataclasses (model configs, the training config): a dict
    round trip whose every value is checked against its field's annotation.

    Subclasses are dataclasses; :meth:`check` may be extended to check more than the fields.
    """

    #: What error messages call a dict given for this config when no ``where`` is passed.
    KIND: ClassVar[str] = "config"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def check(cls, data: Any, where: str) -> None:
        """``data`` is a dict whose every key is a field and every value fits it
        (:func:`check_fields`); else a ``ValueError`` naming ``where``."""
        if not isinstance(data, dict):
            raise ValueError(f"{where}: a {cls.KIND} must be a JSON object, got {type(data).__name__}")
        check_fields(cls, data, where)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str | None = None) -> Self:
        """Build from a dict, checked by :meth:`check`; errors name ``where`` (default: the
        class name), the field and the expected type."""
        cls.check(data, where or cls.__name__)
        return cls(**data)

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed, checked like :meth:`from_dict`."""
        return type(self).from_dict({**self.to_dict(), **changes})
