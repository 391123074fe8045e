"""Semantic-version bump rules."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.exceptions import RegistryError
from workbench.registry import TAG, next_semver

PREV = {TAG + "semver": "1.4.2", TAG + "schema_sha256": "s1", TAG + "data_sha256": "d1"}


def test_first_version_is_1_0_0() -> None:
    assert next_semver(None, schema_sha256="s", data_sha256="d") == ("1.0.0", "initial")


@pytest.mark.parametrize(
    ("schema", "data", "expected"),
    [("s2", "d1", ("2.0.0", "major")), ("s2", "d2", ("2.0.0", "major")), ("s1", "d2", ("1.5.0", "minor")), ("s1", "d1", ("1.4.3", "patch"))],
    ids=["schema-change", "schema-and-data", "new-data", "same-data"],
)
def test_auto_bump_rules(schema: str, data: str, expected: tuple[str, str]) -> None:
    assert next_semver(PREV, schema_sha256=schema, data_sha256=data) == expected


def test_explicit_bump_and_invalid_bump() -> None:
    assert next_semver(PREV, schema_sha256="s1", data_sha256="d1", bump="major") == ("2.0.0", "major")
    with pytest.raises(RegistryError, match=re.escape("bump 'huge' is not valid; use one of auto, major, minor, patch.")):
        next_semver(PREV, schema_sha256="s1", data_sha256="d1", bump="huge")


@given(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50), st.booleans(), st.booleans())
def test_auto_bump_always_increases(major: int, minor: int, patch: int, schema_changed: bool, data_changed: bool) -> None:
    import semver

    prev = {TAG + "semver": f"{major}.{minor}.{patch}", TAG + "schema_sha256": "s", TAG + "data_sha256": "d"}
    new, _ = next_semver(prev, schema_sha256="x" if schema_changed else "s", data_sha256="y" if data_changed else "d")
    assert semver.Version.parse(new) > semver.Version.parse(prev[TAG + "semver"])
