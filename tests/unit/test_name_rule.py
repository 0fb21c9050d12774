"""The name rule and tag escaping, without Redis."""

from __future__ import annotations

import string

import pytest
from tta_memory.errors import InvalidInputError
from tta_memory.names import MAX_NAME_CHARS, Tag, check_name, check_tags, escape_tag


@pytest.mark.parametrize(
    "good", ["acme", "a b", "日本語", "a`b", "`", "_", "a\u00a0b", "x" * MAX_NAME_CHARS, "😀"]
)
def test_good_names_pass_unchanged(good):
    assert check_name("workspace", good) == good


@pytest.mark.parametrize(
    "bad",
    [
        "",
        " ",
        " acme",
        "acme ",
        "acme\t",
        "\u00a0acme",
        "acme\u3000",
        "a\x00b",
        "a\x1fb",
        "a\x7fb",
        "a\x85b",
        "\ud800",
        "a\udfffb",
        "x" * (MAX_NAME_CHARS + 1),
        None,
        1,
        b"acme",
        ["acme"],
    ],
)
def test_bad_names_are_refused(bad):
    with pytest.raises(InvalidInputError):
        check_name("workspace", bad)


def test_tags_are_checked_by_the_same_rule_and_deduplicated():
    assert check_tags(["a", "b", "a"]) == ["a", "b"]
    assert check_tags(None) == []
    for bad in (["a "], [" a"], ["\ud800"], [""], "a", [1]):
        with pytest.raises(InvalidInputError):
            check_tags(bad)


@pytest.mark.parametrize("char", string.punctuation + " ")
def test_every_ascii_special_character_is_escaped(char):
    assert escape_tag(f"a{char}b") == f"a\\{char}b"


def test_letters_digits_and_non_ascii_are_left_alone():
    assert escape_tag("Abc019日本語é\u00a0") == "Abc019日本語é\u00a0"


def test_tag_filter_escapes_backtick_and_never_matches_all():
    assert str(Tag("workspace") == "acme`") == "@workspace:{acme\\`}"
    assert str(Tag("t") == ["a|b", "c"]) == "@t:{a\\|b|c}"
    for empty in ("", [], [""], None):
        with pytest.raises(InvalidInputError):
            Tag("workspace") == empty  # noqa: B015 (the comparison builds the filter)
