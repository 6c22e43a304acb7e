"""Paths people type are checked before they reach a disk or a bucket."""

import pytest

from files.paths import breadcrumbs, name_clean, path_clean
from portal.errors import PortalError


@pytest.mark.parametrize(
    "path, clean", [("", ""), ("a", "a"), ("a/b/c.txt", "a/b/c.txt"), ("a//b/", "a/b"), ("./a/./b", "a/b")]
)
def test_ordinary_paths_are_normalised(path, clean):
    assert path_clean(path) == clean


@pytest.mark.parametrize(
    "path, words",
    [
        ("../etc/passwd", "'..' is not allowed"),
        ("a/../../b", "'..' is not allowed"),
        ("/etc/passwd", "not an absolute path"),
        ("\\\\server\\share", "not an absolute path"),
        ("C:/Windows", "not an absolute path"),
        ("a/b\x00c", "cannot be used"),
        ("a/\x07bell", "cannot be used"),
        ("a\\b", "cannot contain"),
        ("x" * 300, "too long"),
    ],
)
def test_paths_that_could_leave_the_root_are_refused_in_words(path, words):
    with pytest.raises(PortalError) as caught:
        path_clean(path)
    assert words in caught.value.message
    assert caught.value.status_code == 400


@pytest.mark.parametrize("name", ["", "a/b", "..", ".", "nul\x00", "tab\there"])
def test_bad_names_are_refused(name):
    with pytest.raises(PortalError):
        name_clean(name)


def test_breadcrumbs_lead_from_the_top():
    assert breadcrumbs("a/b/c") == [("a", "a"), ("b", "a/b"), ("c", "a/b/c")]
    assert breadcrumbs("") == []
