"""The checks that labs' test cells use: they fail with a useful message, and only when they should."""

from __future__ import annotations

import numpy as np
import pytest

from aie.checks import CheckFailed, check_close, check_equal, check_raises, check_shape


def test_close_values_pass_within_tolerance() -> None:
    check_close("x", [1.0, 2.0 + 1e-9], [1.0, 2.0])
    check_close("x", np.float32(0.1), 0.1, rtol=1e-6)


@pytest.mark.parametrize(
    ("actual", "expected", "message"),
    [
        (None, [1.0], "forget to `return`"),
        ([1.0, 2.0], [[1.0, 2.0]], "expected shape (1, 2), got (2,)"),
        ([1.0, np.nan], [1.0, 2.0], "NaN"),
        ([1.0, 2.5], [1.0, 2.0], "1 of 2 values differ at index (1,)"),
        (["a"], [1.0], "expected numbers"),
    ],
)
def test_close_fails_with_a_message_that_says_why(actual, expected, message) -> None:
    with pytest.raises(CheckFailed, match=None) as failure:
        check_close("name", actual, expected, hint="a hint")
    assert message in str(failure.value)
    assert str(failure.value).startswith("[name]") and "Hint: a hint" in str(failure.value)


def test_close_accepts_vectors_that_differ_only_in_sign_when_asked() -> None:
    reference = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    flipped = reference * np.array([-1.0, 1.0])
    check_close("u", flipped, reference, up_to_sign=0)
    with pytest.raises(CheckFailed):
        check_close("u", flipped, reference)
    with pytest.raises(CheckFailed):  # a real difference is still a difference
        check_close("u", flipped * 2, reference, up_to_sign=0)


def test_failed_check_is_an_assertion_error_so_nbgrader_counts_it() -> None:
    assert issubclass(CheckFailed, AssertionError)


def test_equal_rejects_an_object_that_claims_to_equal_everything() -> None:
    class AlwaysEqual:
        def __eq__(self, other: object) -> bool:
            return True

    with pytest.raises(CheckFailed, match="of type int"):
        check_equal("n", AlwaysEqual(), 3)
    check_equal("n", np.int64(3), 3)
    check_equal("flag", True, True)


def test_shape_and_raises() -> None:
    check_shape("s", np.zeros((2, 3)), (2, 3))
    with pytest.raises(CheckFailed, match=r"expected shape \(3, 2\)"):
        check_shape("s", np.zeros((2, 3)), (3, 2))
    check_raises("r", ValueError, int, "x")
    with pytest.raises(CheckFailed, match="returned normally"):
        check_raises("r", ValueError, int, "3")
    with pytest.raises(CheckFailed, match="got TypeError"):
        check_raises("r", ValueError, len, 3)
