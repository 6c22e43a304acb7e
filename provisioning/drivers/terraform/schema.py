"""A Terraform module's variables become a template's JSON Schema (read with python-hcl2).

Types: string, number, bool, list(string)/set(string), map(string), object({...}) with simple fields. No default
means required. `validation` blocks become checks where they can (regex, length, ranges, contains([...]) as an enum),
carrying the module's own error message; the others stay for Terraform to check at plan time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import hcl2

SIMPLE = {"string": {"type": "string"}, "number": {"type": "number"}, "bool": {"type": "boolean"}}


def unquote(value):
    """python-hcl2 keeps the quotes of string literals; take them off, recursively."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return json.loads(value)
        except ValueError:
            return value[1:-1]
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [unquote(v) for v in value]
    return value


def _expression(value) -> str:
    text = str(value).strip()
    return text[2:-1].strip() if text.startswith("${") and text.endswith("}") else text


def type_schema(expression: str) -> dict:
    expression = _expression(expression).replace(" ", "")
    if expression in SIMPLE:
        return dict(SIMPLE[expression])
    match = re.fullmatch(r"(list|set)\((string|number|bool)\)", expression)
    if match:
        return {"type": "array", "items": dict(SIMPLE[match.group(2)])}
    match = re.fullmatch(r"map\((string|number|bool)\)", expression)
    if match:
        return {"type": "object", "additionalProperties": dict(SIMPLE[match.group(1)])}
    match = re.fullmatch(r"object\(\{(.*)\}\)", expression)
    if match:
        properties, required = {}, []
        for part in filter(None, re.split(r",(?![^()]*\))", match.group(1))):
            name, _, kind = part.partition("=")
            optional = re.fullmatch(r"optional\((string|number|bool)(?:,.*)?\)", kind)
            base = optional.group(1) if optional else kind
            if base not in SIMPLE:
                raise ValueError(f"object field {name} has a type the form cannot ask for: {kind}")
            properties[name] = dict(SIMPLE[base])
            if not optional:
                required.append(name)
        return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
    raise ValueError(f"type {expression} cannot become a form field")


@dataclass
class Variable:
    name: str
    schema: dict
    required: bool
    sensitive: bool = False
    checked_by_terraform: list[str] = field(default_factory=list)


def _apply_condition(condition: str, name: str, schema: dict) -> bool:
    """Turn one condition into JSON Schema keywords on `schema`; False when it cannot."""
    var = rf"var\.{re.escape(name)}"
    number = r"(-?\d+(?:\.\d+)?)"
    cond = condition.strip()
    if cond.startswith("(") and cond.endswith(")"):
        cond = cond[1:-1].strip()
    if m := re.fullmatch(rf'can\(regex\("((?:[^"\\]|\\.)*)",\s*{var}\)\)', cond):
        schema["pattern"] = json.loads(f'"{m.group(1)}"')
        return True
    if m := re.fullmatch(rf"contains\((\[.*\]),\s*{var}\)", cond):
        try:
            schema["enum"] = json.loads(m.group(1))
        except ValueError:
            return False
        return True
    ops = {">=": "min", "<=": "max", ">": "xmin", "<": "xmax"}
    if m := re.fullmatch(rf"length\({var}\)\s*(>=|<=|>|<)\s*(\d+)", cond):
        op, n = m.group(1), int(m.group(2))
        kind = "Items" if schema.get("type") == "array" else "Length"
        if kind == "Length" and schema.get("type") == "object":
            kind = "Properties"
        bound = {">=": ("min", n), ">": ("min", n + 1), "<=": ("max", n), "<": ("max", n - 1)}[op]
        schema[f"{bound[0]}{kind}"] = bound[1]
        return True
    if m := re.fullmatch(rf"{var}\s*(>=|<=|>|<)\s*{number}", cond):
        op, n = ops[m.group(1)], float(m.group(2))
        n = int(n) if n.is_integer() else n
        schema[{"min": "minimum", "max": "maximum", "xmin": "exclusiveMinimum", "xmax": "exclusiveMaximum"}[op]] = n
        return True
    if m := re.fullmatch(rf"{number}\s*(<=|<)\s*{var}", cond):
        n = float(m.group(1))
        schema["minimum" if m.group(2) == "<=" else "exclusiveMinimum"] = int(n) if n.is_integer() else n
        return True
    if " && " in cond:
        parts = cond.split(" && ")
        trial = dict(schema)
        if all(_apply_condition(part, name, trial) for part in parts):
            schema.update(trial)
            return True
    return False


def read_variables(module: Path) -> list[Variable]:
    variables = []
    for path in sorted(module.glob("*.tf")):
        with path.open() as handle:
            document = hcl2.load(handle)
        for block in document.get("variable", []):
            for raw_name, body in block.items():
                name = unquote(raw_name)
                body = {k: v for k, v in body.items() if k != "__is_block__"}
                schema = type_schema(body.get("type", "string")) if "type" in body else {"type": "string"}
                schema["title"] = name.replace("_", " ").capitalize()
                if body.get("description"):
                    schema["description"] = unquote(body["description"])
                required = "default" in body and body["default"] is None or "default" not in body
                if "default" in body and body["default"] is not None:
                    schema["default"] = unquote(body["default"])
                sensitive = bool(body.get("sensitive"))
                if sensitive:
                    schema["writeOnly"] = True
                unchecked = []
                for validation in body.get("validation", []):
                    condition = _expression(validation.get("condition", ""))
                    message = unquote(validation.get("error_message", ""))
                    if _apply_condition(condition, name, schema):
                        schema["x-error-message"] = message
                    else:
                        unchecked.append(message or condition)
                if unchecked:
                    schema["x-checked-at-plan"] = unchecked
                variables.append(Variable(name, schema, required, sensitive, unchecked))
    return variables


def module_schema(module: Path, *, fixed: dict | None = None) -> dict:
    """The JSON Schema of the variables a scientist fills in; `fixed` variables are set by the Keeper instead."""
    fixed = fixed or {}
    properties, required = {}, []
    for variable in read_variables(module):
        if variable.name in fixed:
            continue
        properties[variable.name] = variable.schema
        if variable.required:
            required.append(variable.name)
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema
