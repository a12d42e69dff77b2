"""Sandbox users: two grading batches on one machine never share one."""

from __future__ import annotations

import os

import pytest

from grader.sandbox import SandboxUnavailable, reserved_uids

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandbox users are taken only by a grader running as root")


def test_two_batches_at_once_get_different_sandbox_users() -> None:
    with reserved_uids(2) as first, reserved_uids(2) as second:
        assert len(set(first)) == 2 and not set(first) & set(second)
    with reserved_uids(2) as again:  # released at the end of the context
        assert set(again) & (set(first) | set(second))


def test_asking_for_more_users_than_exist_fails_clearly() -> None:
    with pytest.raises(SandboxUnavailable, match="sandbox users are free"):
        with reserved_uids(10_000):
            pass
