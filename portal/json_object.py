"""A leaf module: the marker type of JSON bodies, shared by portal.parsers and portal.input_guard."""


class JSONObject(dict):
    """An object that came as JSON: its values have JSON's types, which serializers then hold to (input_guard)."""
