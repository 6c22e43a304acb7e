import pytest

from provisioning.parameters import name_error, parameters_validate

SCHEMA = {
    "type": "object",
    "properties": {
        "gpus": {"type": "integer", "title": "GPUs", "minimum": 0, "maximum": 4, "default": 0},
        "size": {"type": "string", "enum": ["small", "large"], "default": "small"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "public": {"type": "boolean", "default": False},
        "owner": {"type": "string", "pattern": "^[a-z]+$", "x-pattern-message": "Owner: lowercase letters only."},
    },
    "required": ["owner"],
}


def test_defaults_are_filled_in():
    clean, errors = parameters_validate(SCHEMA, {"owner": "ann"})
    assert errors == {}
    assert clean == {"owner": "ann", "gpus": 0, "size": "small", "public": False}


@pytest.mark.parametrize(
    "given, field, message",
    [
        ({"owner": "ann", "gpus": 9}, "gpus", "GPUs must be at most 4; you gave 9."),
        ({"owner": "ann", "gpus": -1}, "gpus", "GPUs must be at least 0; you gave -1."),
        ({"owner": "ann", "gpus": "two"}, "gpus", "GPUs must be a whole number."),
        ({"owner": "ann", "gpus": True}, "gpus", "GPUs must be a whole number."),
        ({"owner": "ann", "size": "huge"}, "size", "Size must be one of: small, large."),
        ({"owner": "Ann"}, "owner", "Owner: lowercase letters only."),
        ({}, "owner", "Owner is required."),
        (
            {"owner": "ann", "colour": "red"},
            "colour",
            "Unknown parameter colour; this template takes: gpus, owner, public, size, tags.",
        ),
    ],
)
def test_errors_in_plain_words(given, field, message):
    _, errors = parameters_validate(SCHEMA, given)
    assert errors[field] == message


def test_parameters_must_be_an_object():
    assert parameters_validate(SCHEMA, ["x"])[1] == {"parameters": "Parameters must be an object of name: value pairs."}


@pytest.mark.parametrize("name", ["ab", "thesis-data", "a1", "x" * 40])
def test_good_names(name):
    assert name_error(name) is None


@pytest.mark.parametrize("name", ["", "a", "A-b", "1abc", "abc-", "a_b", "a b", "x" * 41, "é-x", "a;drop", None])
def test_bad_names(name):
    assert "lowercase" in name_error(name) or "Give the resource a name" in name_error(name)
