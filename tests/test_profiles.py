"""Profiles: typed overrides; unknown keys and wrong types are refused."""

import pytest

from mike.profiles import PROFILES, ConfigError, get_profile


def test_overrides_apply_typed_values():
    p = get_profile("small").with_overrides(
        {"teacher.steps": 7, "transfer.lr": 1, "segmenter_widths": [8, 8, 8, 16]}
    )
    assert p.teacher.steps == 7 and p.transfer.lr == 1.0 and isinstance(p.transfer.lr, float)
    assert p.segmenter_widths == (8, 8, 8, 16)
    assert get_profile("small").teacher.steps != 7  # profiles themselves are untouched


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"teacher.stepz": 3}, "unknown config key 'teacher.stepz'"),
        ({"nonsense": 1}, "unknown config key 'nonsense'"),
        ({"teacher.steps": "many"}, "teacher.steps: expected int"),
        ({"teacher.steps": 2.5}, "teacher.steps: expected int"),
        ({"segmenter_widths": [8, 8]}, "expected a list of 4 values"),
        ({"teacher": 3}, "is a section"),
    ],
)
def test_bad_overrides_are_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        get_profile("small").with_overrides(overrides)


def test_unknown_profile():
    with pytest.raises(ConfigError, match="unknown profile 'huge'"):
        get_profile("huge")
    assert set(PROFILES) == {"smoke", "small", "paper"}
