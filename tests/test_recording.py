"""What a graded kernel sends back (aie.recording) and how the grader judges it (grader.autograde.judge_record).

A value must survive the trip closely enough that the grader's verdict equals
the one `aie.checks` gives inside a kernel: right answers pass, wrong ones fail.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from aie import checks
from aie.recording import MAX_DEPTH, QualifiedName, Unencodable, decode, encode
from grader.autograde import judge_record


def trip(value: object) -> object:
    return decode(json.loads(json.dumps(encode(value))))


def verdict(kind: str, actual: object, expected: object, **params: object) -> str | None:
    """The grader's verdict on ``actual`` for a check whose reference is ``expected``."""
    golden = {"kind": kind, "name": "x", "expected": encode(expected), "params": params}
    student = {"kind": kind, "name": "x", "actual": json.loads(json.dumps(encode(actual)))}
    return judge_record(golden, student)


VALUES = [
    None, True, 3, -2.5, float("nan"), "text", np.float32(1.5), np.int64(7),
    np.arange(6).reshape(2, 3), np.array([True, False]), np.array(["a", "b"]), torch.ones(2, 2),
    [1, 2, 3], (1, 2), ["a", "b"], [1.0, float("inf")], [], (), [[1, 2], [3, 4]],
    ([False, True], 1.0, 0), ((5, 3), [9, 1, 2]), {"status": "ok", "version": 1}, {1: [1, 2], "k": (3, None)},
    nn.Linear, list, np.float32, np.dtype("int64"), torch.float32, (torch.float32, torch.int64),
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_a_value_the_kernel_sends_passes_its_own_check_in_the_grader(value: object) -> None:
    numeric_array = isinstance(value, (np.ndarray, torch.Tensor)) and np.asarray(value).dtype.kind in "biuf"
    nan = isinstance(value, float) and np.isnan(value)  # equal to nothing, in the kernel too: close() takes it
    if numeric_array or nan or (isinstance(value, list) and value == [1.0, float("inf")]):
        checks.check_close("x", value, value)
        assert verdict("close", value, value) is None
    else:
        checks.check_equal("x", value, value)
        assert verdict("equal", value, value) is None


@pytest.mark.parametrize(("actual", "expected"), [
    (torch.float64, torch.float32),              # the wrong dtype
    (np.dtype("float32"), torch.float32),        # numpy's float32 is not torch's
    (nn.Module, nn.Linear),                      # the wrong class
    ([5, 3], (5, 3)),                            # a list where a tuple is asked for
    (((3, 5), [9, 1]), ((5, 3), [9, 1])),        # the pair in the wrong order
    (([False, True], 1.0, 1), ([False, True], 1.0, 0)),  # off by one, deep inside
    ({"status": "ok"}, {"status": "ok", "version": 1}),  # a missing key
    ({"status": "OK", "version": 1}, {"status": "ok", "version": 1}),
    ([1, 2], [1, 2, 3]),                         # one short
    ("1", 1),                                    # a string for a number
], ids=repr)
def test_a_wrong_value_fails_in_the_grader_as_in_the_kernel(actual: object, expected: object) -> None:
    with pytest.raises(checks.CheckFailed):
        checks.check_equal("x", actual, expected)
    assert verdict("equal", actual, expected) is not None


def test_structure_survives_the_trip() -> None:
    assert trip((1, [2, 3], {"a": (True, None)})) == (1, [2, 3], {"a": (True, None)})
    assert type(trip((1, 2))) is tuple and type(trip([1, 2])) is list
    assert trip([1, 2]) == [1, 2] and all(type(x) is int for x in trip([1, 2]))
    assert trip(torch.int64) == QualifiedName("dtype", "torch.int64")
    assert trip(nn.Linear) == QualifiedName("class", "torch.nn.modules.linear.Linear")
    assert trip(["1", 1]) == ["1", 1], "mixed items travel one by one, not as one array of strings"


def test_a_comparison_that_cannot_say_yes_or_no_fails_cleanly() -> None:
    # The student's tuple holds an array where the reference holds a list: `==` raises instead of answering.
    message = verdict("equal", (np.array([1, 2]), 3), ([1, 2], 3))
    assert message is not None and message.startswith("[x]")


@pytest.mark.parametrize("payload", [
    {"type": "tuple", "items": "not a list"},
    {"type": "list", "array": {"type": "int", "value": 3}},
    {"type": "dict", "items": [[{"type": "list", "items": []}, {"type": "none"}]]},  # an unhashable key
    {"type": "dict", "items": [["short"]]},
    {"type": "class"},
    {"type": "array", "dtype": "int", "shape": [2], "data": [1]},
    {"type": "mystery"},
])
def test_malformed_records_decode_to_unencodable(payload: dict) -> None:
    assert isinstance(decode(payload), Unencodable)


def test_nesting_is_bounded_both_ways() -> None:
    deep: list = []
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    assert "deep" in json.dumps(encode(deep))
    payload: dict = {"type": "none"}
    for _ in range(MAX_DEPTH + 5):
        payload = {"type": "list", "items": [payload]}
    value = decode(payload)
    while isinstance(value, list):
        value = value[0]
    assert isinstance(value, Unencodable)
