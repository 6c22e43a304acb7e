from django import forms

from provisioning.forms import ResourceForm

SCHEMA = {
    "type": "object",
    "properties": {
        "gpus": {
            "type": "integer",
            "title": "GPUs",
            "minimum": 0,
            "maximum": 4,
            "default": 1,
            "description": "How many",
        },
        "size": {"type": "string", "enum": ["small", "large"]},
        "public": {"type": "boolean", "default": False},
        "packages": {"type": "array", "items": {"type": "string"}},
        "env": {"type": "object", "additionalProperties": {"type": "string"}},
        "token": {"type": "string", "writeOnly": True},
        "note": {"type": "string"},
    },
    "required": ["size"],
}


def test_one_widget_per_type():
    form = ResourceForm(schema=SCHEMA)
    assert list(form.fields) == ["name", "gpus", "size", "public", "packages", "env", "token", "note"]
    assert isinstance(form.fields["gpus"].widget, forms.NumberInput)
    assert form.fields["gpus"].widget.attrs == {"min": 0, "max": 4}
    assert form.fields["gpus"].initial == 1
    assert form.fields["gpus"].label == "GPUs"
    assert form.fields["gpus"].help_text == "How many"
    assert isinstance(form.fields["size"], forms.ChoiceField)
    assert form.fields["size"].choices == [("small", "small"), ("large", "large")]
    assert form.fields["size"].required
    assert isinstance(form.fields["public"], forms.BooleanField)
    assert isinstance(form.fields["packages"].widget, forms.Textarea)
    assert isinstance(form.fields["env"].widget, forms.Textarea)
    assert isinstance(form.fields["token"].widget, forms.PasswordInput)
    assert isinstance(form.fields["note"].widget, forms.TextInput)
    assert not form.fields["note"].required


def test_values_become_json():
    form = ResourceForm(
        {
            "name": "x1",
            "gpus": "2",
            "size": "large",
            "public": "on",
            "packages": "numpy\n\n torch ",
            "env": "A=1\nB = two",
            "note": "",
        },
        schema=SCHEMA,
    )
    assert form.is_valid(), form.errors
    assert form.parameters() == {
        "gpus": 2,
        "size": "large",
        "public": True,
        "packages": ["numpy", "torch"],
        "env": {"A": "1", "B": "two"},
    }


def test_bad_numbers_pass_through_for_the_schema_to_explain():
    form = ResourceForm({"name": "x1", "gpus": "two", "size": "small"}, schema=SCHEMA)
    assert form.is_valid()
    assert form.parameters()["gpus"] == "two"


def test_only_visible_parameters_are_asked():
    form = ResourceForm(schema=SCHEMA, visible=["gpus"])
    assert list(form.fields) == ["name", "gpus"]
