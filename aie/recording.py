"""Check results as data: what a kernel under grading sends back instead of a verdict.

When the grader runs a submission, it rewrites each test cell so that every
``check_*`` call becomes ``record(kind, name, actual)``: the kernel computes the
student's answer on the test's inputs and publishes it as a display message of
type ``RECORD_MIME``. The comparison with the reference happens in the grader's
own process, which student code never reaches, so monkeypatching numpy, the
checks or ``AssertionError`` inside the kernel cannot change a verdict.

``encode`` turns a value into plain JSON; ``decode`` is its safe inverse (no
pickle, whitelisted types, bounded sizes), used on the grader's side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

RECORD_MIME = "application/vnd.aie.check+json"
MAX_ELEMENTS = 1_000_000
MAX_STRING = 20_000
MAX_DEPTH = 20
# Bump when the encoding changes: the grader's cached golden records carry it in their name.
RECORDING_VERSION = 2
_NUMERIC_KINDS = {"b": "bool", "i": "int", "u": "int", "f": "float"}


def _float(value: float) -> float | str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return float(value)


def _qualified_name(value: Any) -> str | None:
    """``module.qualname`` for a class, ``numpy.<name>`` or ``torch.<name>`` for a dtype; None otherwise."""
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    if isinstance(value, np.dtype):
        return f"numpy.{value}"
    if type(value).__module__ == "torch" and type(value).__name__ == "dtype":
        return str(value)  # "torch.float32"
    return None


# Lists and tuples whose items are all one kind of scalar travel as one compact array.
def _scalar_kind(item: Any) -> str | None:
    if isinstance(item, (bool, np.bool_)):
        return "bool"
    if isinstance(item, (int, np.integer)):
        return "int"
    if isinstance(item, (float, np.floating)):
        return "float"
    return "str" if isinstance(item, str) else None


def encode(value: Any, _depth: int = 0) -> dict[str, Any]:
    """A JSON-safe description of ``value``, or why it cannot be sent.

    Scalars, strings, numeric and string arrays (torch tensors included), and
    what tests compare with ``check_equal``: lists, tuples and dicts of those,
    nested, and classes and dtypes by qualified name.
    """
    if _depth > MAX_DEPTH:
        return {"type": "unencodable", "reason": f"nested more than {MAX_DEPTH} levels deep"}
    if value is None:
        return {"type": "none"}
    if isinstance(value, (bool, np.bool_)):
        return {"type": "bool", "value": bool(value)}
    if isinstance(value, (int, np.integer)):
        return {"type": "int", "value": int(value)}
    if isinstance(value, (float, np.floating)):
        return {"type": "float", "value": _float(float(value))}
    if isinstance(value, str):
        return {"type": "str", "value": value[:MAX_STRING]}
    name = _qualified_name(value)
    if name is not None:
        return {"type": "class" if isinstance(value, type) else "dtype", "value": name[:MAX_STRING]}
    if isinstance(value, (list, tuple)):
        container = "tuple" if isinstance(value, tuple) else "list"
        if len(value) > MAX_ELEMENTS:
            return {"type": "unencodable", "reason": f"{container} of {len(value)} items is too large"}
        kinds = {_scalar_kind(item) for item in value}
        if len(kinds) == 1 and None not in kinds:
            return {"type": container, "array": encode(np.asarray(value), _depth + 1)}
        return {"type": container, "items": [encode(item, _depth + 1) for item in value]}
    if isinstance(value, dict):
        if len(value) > MAX_ELEMENTS:
            return {"type": "unencodable", "reason": f"dict of {len(value)} items is too large"}
        return {"type": "dict", "items": [[encode(k, _depth + 1), encode(v, _depth + 1)] for k, v in value.items()]}
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 (anything that cannot become an array is reported, not raised)
        return {"type": "unencodable", "reason": f"{type(value).__name__}: {exc}"[:300]}
    if array.size > MAX_ELEMENTS:
        return {"type": "unencodable", "reason": f"array of {array.size} elements is too large"}
    kind = _NUMERIC_KINDS.get(array.dtype.kind)
    if kind is None:
        if array.dtype.kind == "U":
            return {"type": "array", "dtype": "str", "shape": list(array.shape),
                    "data": [s[:MAX_STRING] for s in array.ravel().tolist()]}
        return {"type": "unencodable", "reason": f"{type(value).__name__} of dtype {array.dtype}"[:300]}
    flat = array.ravel().tolist()
    if kind == "float":
        flat = [_float(x) for x in flat]
    return {"type": "array", "dtype": kind, "shape": list(array.shape), "data": flat}


class Unencodable:
    """Stands for a value the kernel could not send; equal to nothing."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"<unencodable: {self.reason}>"


@dataclass(frozen=True)
class QualifiedName:
    """A class or a dtype, as the kernel named it: equal to another of the same kind and name.

    The grader cannot hold the kernel's objects, so ``type(x) is nn.Linear``
    becomes a comparison of names; the kernel is the student's, so this is what
    their code claims, like every value it sends.
    """

    kind: str  # "class" or "dtype"
    name: str

    def __repr__(self) -> str:
        return self.name if self.kind == "dtype" else f"<class '{self.name}'>"


def _unfloat(value: Any) -> float:
    if isinstance(value, str):
        if value not in ("nan", "inf", "-inf"):
            raise ValueError(f"not a float: {value!r}")
        return float(value)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError(f"not a float: {value!r}")
    return float(value)


def _decode_array(payload: dict[str, Any]) -> Any:
    shape = tuple(int(n) for n in payload["shape"])
    data = payload["data"]
    if not isinstance(data, list) or len(data) != math.prod(shape) or len(data) > MAX_ELEMENTS:
        return Unencodable("array data does not match its shape")
    dtype = payload["dtype"]
    if dtype == "float":
        return np.array([_unfloat(x) for x in data], dtype=float).reshape(shape)
    if dtype == "int":
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in data):
            return Unencodable("bad int array")
        return np.array(data, dtype=np.int64).reshape(shape)
    if dtype == "bool":
        if not all(isinstance(x, bool) for x in data):
            return Unencodable("bad bool array")
        return np.array(data, dtype=bool).reshape(shape)
    if dtype == "str":
        return np.array([str(x)[:MAX_STRING] for x in data], dtype=str).reshape(shape)
    return Unencodable(f"unknown dtype {dtype!r}")


def _decode_sequence(payload: dict[str, Any], depth: int) -> Any:
    if "array" in payload:
        array = decode(payload["array"], depth + 1)
        if not isinstance(array, np.ndarray) or array.ndim != 1:
            return Unencodable("bad compact sequence")
        items = array.tolist()
    else:
        raw = payload["items"]
        if not isinstance(raw, list) or len(raw) > MAX_ELEMENTS:
            return Unencodable("bad sequence")
        items = [decode(item, depth + 1) for item in raw]
    return tuple(items) if payload["type"] == "tuple" else items


def _decode_dict(payload: dict[str, Any], depth: int) -> Any:
    raw = payload["items"]
    if not isinstance(raw, list) or len(raw) > MAX_ELEMENTS:
        return Unencodable("bad dict")
    result = {}
    for pair in raw:
        key, value = decode(pair[0], depth + 1), decode(pair[1], depth + 1)
        try:
            result[key] = value
        except TypeError:  # an unhashable key: a list or an array
            return Unencodable("a dict key that is not hashable")
    return result


def decode(payload: Any, _depth: int = 0) -> Any:
    """Rebuild a value from ``encode``'s output; anything malformed becomes ``Unencodable``."""
    if _depth > MAX_DEPTH + 1:
        return Unencodable("nested too deep")
    try:
        kind = payload["type"]
        if kind == "none":
            return None
        if kind == "bool":
            return bool(payload["value"]) if isinstance(payload["value"], bool) else Unencodable("bad bool")
        if kind == "int":
            value = payload["value"]
            return value if isinstance(value, int) and not isinstance(value, bool) else Unencodable("bad int")
        if kind == "float":
            return _unfloat(payload["value"])
        if kind == "str":
            return str(payload["value"])[:MAX_STRING]
        if kind in ("class", "dtype"):
            return QualifiedName(kind, str(payload["value"])[:MAX_STRING])
        if kind == "array":
            return _decode_array(payload)
        if kind in ("list", "tuple"):
            return _decode_sequence(payload, _depth)
        if kind == "dict":
            return _decode_dict(payload, _depth)
        if kind == "unencodable":
            return Unencodable(str(payload.get("reason", ""))[:300])
    except (KeyError, TypeError, ValueError, OverflowError, IndexError) as exc:
        return Unencodable(f"malformed record: {exc}"[:300])
    return Unencodable(f"unknown record type {kind!r}"[:300])


def _publish(record: dict[str, Any]) -> None:
    from IPython.display import publish_display_data

    publish_display_data({RECORD_MIME: record, "text/plain": f"check {record['name']} recorded"})


def record(kind: str, name: str, actual: Any) -> None:
    """Kernel side, under grading: send the student's value for check ``name``."""
    _publish({"kind": kind, "name": str(name), "actual": encode(actual)})


def record_raises(name: str, function: Any, *args: Any, **kwargs: Any) -> None:
    """Kernel side, under grading: send the name of the exception a call raises (or that it raised none)."""
    kwargs.pop("hint", None)
    try:
        function(*args, **kwargs)
        outcome = "<no exception>"
    except Exception as exc:  # noqa: BLE001 (the class is the answer being recorded)
        outcome = type(exc).__name__
    _publish({"kind": "raises", "name": str(name), "actual": encode(outcome)})


def golden(kind: str, name: str, actual: Any, expected: Any, **params: Any) -> None:
    """Trusted reference run: run the real check, then send the expected value and the check's settings."""
    from aie import checks

    check = {"close": checks.check_close, "equal": checks.check_equal, "shape": checks.check_shape}[kind]
    check(name, actual, expected, **params)
    _publish({"kind": kind, "name": str(name), "expected": encode(expected), "params": params})


def golden_raises(name: str, exception: type[BaseException], function: Any, *args: Any, **kwargs: Any) -> None:
    """Trusted reference run of ``check_raises``: check, then send the expected exception's name."""
    from aie import checks

    checks.check_raises(name, exception, function, *args, **kwargs)
    _publish({"kind": "raises", "name": str(name), "expected": encode(exception.__name__),
              "params": {"hint": kwargs.get("hint", "")}})
