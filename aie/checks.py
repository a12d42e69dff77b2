"""Checks used by the labs' test cells: tolerant, named, and with messages a learner can act on.

Every check takes a ``name`` first: a stable id such as ``"pca.components"``.
The name appears in the failure message, and the grader uses it to report
which checks a cohort fails most often.

Learners get points for the right idea, not for the exact float, so values are
compared with tolerances, after the type and the shape have been checked with
their own messages (a wrong shape is the commonest bug and deserves a clear one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["CheckFailed", "check_close", "check_equal", "check_raises", "check_shape"]


class CheckFailed(AssertionError):
    """A check did not hold. Subclasses AssertionError so nbgrader counts it as a failed test."""


def _fail(name: str, message: str, hint: str) -> None:
    text = f"[{name}] {message}"
    if hint:
        text += f"\n  Hint: {hint}"
    raise CheckFailed(text)


def _as_array(name: str, value: Any, hint: str) -> np.ndarray:
    if value is None:
        _fail(name, "got None. Did the function forget to `return` its result?", hint)
    try:
        array = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 (any conversion failure is the learner's to see)
        _fail(name, f"could not turn the result into an array: {exc}", hint)
    if array.dtype == object:
        _fail(name, f"got an array of Python objects ({type(value).__name__}); expected numbers.", hint)
    return array


def _align_signs(actual: np.ndarray, expected: np.ndarray, axis: int) -> np.ndarray:
    """Flip each vector along ``axis`` of ``actual`` to point the same way as ``expected``.

    Eigenvectors and singular vectors are defined only up to sign, so a right
    answer may differ from the reference by a factor of -1 per vector.
    """
    if actual.ndim == 1:
        return actual * (1.0 if np.dot(actual, expected) >= 0 else -1.0)
    dots = np.sum(actual * expected, axis=axis, keepdims=True)
    return actual * np.where(dots >= 0, 1.0, -1.0)


def check_shape(name: str, actual: Any, shape: tuple[int, ...], *, hint: str = "") -> None:
    """Check that ``actual`` is an array of exactly ``shape``."""
    array = _as_array(name, actual, hint)
    if array.shape != tuple(shape):
        _fail(name, f"expected shape {tuple(shape)}, got {array.shape}.", hint)


def check_close(
    name: str,
    actual: Any,
    expected: Any,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    up_to_sign: int | None = None,
    hint: str = "",
) -> None:
    """Check that ``actual`` equals ``expected`` within tolerances, with a clear message if not.

    ``up_to_sign=k`` accepts vectors that differ from the reference by a sign,
    where axis ``k`` of the array runs along each vector (``0`` for column
    vectors as in ``U`` of an SVD, ``1`` for row vectors as in ``Vt``).
    """
    expected_array = np.asarray(expected, dtype=float)
    array = _as_array(name, actual, hint)
    if not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
        _fail(name, f"expected numbers, got dtype {array.dtype}.", hint)
    if array.shape != expected_array.shape:
        _fail(name, f"expected shape {expected_array.shape}, got {array.shape}.", hint)
    array = array.astype(float)
    if np.isnan(array).any() and not np.isnan(expected_array).any():
        where = tuple(int(i) for i in np.argwhere(np.isnan(array))[0])
        _fail(name, f"the result holds NaN (first at index {where}); is something divided by zero?", hint)
    if up_to_sign is not None:
        array = _align_signs(array, expected_array, axis=up_to_sign)
    close = np.isclose(array, expected_array, rtol=rtol, atol=atol, equal_nan=True)
    if not close.all():
        bad = np.argwhere(~close)
        first = tuple(int(i) for i in bad[0]) if array.ndim else ()
        got, want = (array[first], expected_array[first]) if array.ndim else (array, expected_array)
        max_err = float(np.nanmax(np.abs(array - expected_array)))
        where = f" at index {first}" if array.ndim else ""
        _fail(
            name,
            f"{len(bad)} of {max(array.size, 1)} values differ{where}: got {got:.6g}, expected {want:.6g} "
            f"(largest absolute error {max_err:.3g}; tolerance rtol={rtol:g}, atol={atol:g}).",
            hint,
        )


def check_equal(name: str, actual: Any, expected: Any, *, hint: str = "") -> None:
    """Check exact equality, for integers, strings, labels and other discrete answers."""
    if isinstance(expected, np.ndarray) or isinstance(actual, np.ndarray):
        array = _as_array(name, actual, hint)
        expected_array = np.asarray(expected)
        if array.shape != expected_array.shape:
            _fail(name, f"expected shape {expected_array.shape}, got {array.shape}.", hint)
        if not np.array_equal(array, expected_array):
            _fail(name, f"expected {expected_array!r}, got {array!r}.", hint)
        return
    # Compare from the expected side and check the type: an object whose __eq__
    # always says True must not pass.
    if type(actual) is not type(expected) and not (
        isinstance(expected, (int, float)) and isinstance(actual, (int, float, np.integer, np.floating))
    ):
        wanted, got = type(expected).__name__, type(actual).__name__
        _fail(name, f"expected a value of type {wanted}, got {got}: {actual!r}.", hint)
    if not expected == actual:
        _fail(name, f"expected {expected!r}, got {actual!r}.", hint)


def check_raises(
    name: str,
    exception: type[BaseException],
    function: Callable[..., Any],
    *args: Any,
    hint: str = "",
    **kwargs: Any,
) -> None:
    """Check that calling ``function(*args, **kwargs)`` raises ``exception``."""
    try:
        function(*args, **kwargs)
    except exception:
        return
    except Exception as exc:  # noqa: BLE001
        _fail(name, f"expected {exception.__name__}, got {type(exc).__name__}: {exc}", hint)
    _fail(name, f"expected {exception.__name__} to be raised, but the call returned normally.", hint)
