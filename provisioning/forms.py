"""Forms made from a template's JSON Schema, with one mapping of type to widget (as Coder does).

string -> text (password when `writeOnly`/`format: password`), string with enum -> select, integer/number with
minimum/maximum -> number input, boolean -> checkbox, array of strings -> one per line, object of strings -> KEY=value
lines. The server validates everything again with jsonschema (provisioning.parameters).
"""

from __future__ import annotations

from django import forms

from provisioning.parameters import NAME_HELP


def _widget_attrs(spec: dict) -> dict:
    attrs = {}
    if "minimum" in spec:
        attrs["min"] = spec["minimum"]
    if "maximum" in spec:
        attrs["max"] = spec["maximum"]
    if spec.get("examples"):
        attrs["placeholder"] = str(spec["examples"][0])
    return attrs


def field_for(name: str, spec: dict, required: bool) -> forms.Field:
    label = spec.get("title") or name.replace("_", " ").capitalize()
    common = {
        "label": label,
        "help_text": spec.get("description", ""),
        "required": required,
        "initial": spec.get("default"),
    }
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if "enum" in spec:
        labels = spec.get("x-labels") or {}
        choices = [(str(v), labels.get(str(v), str(v))) for v in spec["enum"]]
        if not required and "default" not in spec:
            choices = [("", "—")] + choices
        return forms.ChoiceField(choices=choices, **common)
    if kind == "boolean":
        return forms.BooleanField(**{**common, "required": False})
    if kind in ("integer", "number"):
        # Typed as text so the server, not the browser, turns bad input into a plain-words error.
        return forms.CharField(widget=forms.NumberInput(attrs=_widget_attrs(spec)), **common)
    if kind == "array":
        common["initial"] = "\n".join(map(str, spec.get("default") or []))
        return forms.CharField(
            widget=forms.Textarea(attrs={"rows": 3, "placeholder": "one per line"}),
            **{**common, "help_text": (common["help_text"] + " One per line.").strip()},
        )
    if kind == "object":
        default = spec.get("default") or {}
        common["initial"] = "\n".join(f"{k}={v}" for k, v in default.items())
        return forms.CharField(
            widget=forms.Textarea(attrs={"rows": 3, "placeholder": "NAME=value"}),
            **{**common, "help_text": (common["help_text"] + " One NAME=value per line.").strip()},
        )
    if spec.get("writeOnly") or spec.get("format") == "password":
        return forms.CharField(widget=forms.PasswordInput(render_value=True), **common)
    if spec.get("x-multiline"):
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **common)
    return forms.CharField(widget=forms.TextInput(attrs=_widget_attrs(spec)), strip=True, **common)


def initial_from(schema: dict, parameters: dict) -> dict:
    """Form values that show `parameters` again (for "Run again"): lists one per line, objects NAME=value."""
    initial = {}
    for name, spec in (schema or {}).get("properties", {}).items():
        if name not in parameters or spec.get("writeOnly"):
            continue
        value = parameters[name]
        if isinstance(value, list):
            value = "\n".join(map(str, value))
        elif isinstance(value, dict):
            value = "\n".join(f"{k}={v}" for k, v in value.items())
        initial[name] = value
    return initial


def _convert(spec: dict, raw):
    """Turn what the browser sent into the JSON value the schema expects; bad values pass through for jsonschema."""
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if raw in (None, "") and kind != "boolean":
        return None
    if kind == "integer":
        try:
            return int(str(raw).strip())
        except ValueError:
            return str(raw)
    if kind == "number":
        try:
            return float(str(raw).strip())
        except ValueError:
            return str(raw)
    if kind == "boolean":
        return str(raw).strip().lower() in ("1", "true", "yes", "on") if isinstance(raw, str) else bool(raw)
    if kind == "array":
        return [line.strip() for line in str(raw).splitlines() if line.strip()]
    if kind == "object":
        result = {}
        for line in str(raw).splitlines():
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep:
                return f"line '{line.strip()}' has no '='"
            key = key.strip()
            field_spec = (spec.get("properties") or {}).get(key) or spec.get("additionalProperties") or {}
            result[key] = (
                _convert(field_spec, value.strip())
                if isinstance(field_spec, dict) and field_spec.get("type") in ("integer", "number", "boolean")
                else value.strip()
            )
        return result
    return raw


class ResourceForm(forms.Form):
    """The resource's name, then one field per schema property, in the schema's order."""

    name = forms.CharField(
        max_length=40,
        help_text=f"{NAME_HELP.capitalize()}, unique in your team.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "e.g. thesis-data"}),
    )

    def __init__(self, *args, schema: dict, visible: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.schema = schema or {}
        required = set(self.schema.get("required", []))
        for name, spec in self.schema.get("properties", {}).items():
            if visible is not None and name not in visible:
                continue
            self.fields[name] = field_for(name, spec, name in required)

    def parameters(self) -> dict:
        """The submitted values as JSON values, leaving out the empty optional ones."""
        values = {}
        for name, spec in self.schema.get("properties", {}).items():
            if name not in self.fields:
                continue
            value = _convert(spec, self.cleaned_data.get(name))
            if value is not None:
                values[name] = value
        return values

    def add_portal_errors(self, errors: dict[str, str]) -> None:
        for field, message in errors.items():
            self.add_error(field if field in self.fields else None, message)
