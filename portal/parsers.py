"""The API's parsers (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]): DRF's own, then portal.input_guard.check_data.

A module of its own, importing nothing of ours at load time: DRF resolves these classes while rest_framework.views
is being imported, which portal.errors (and so portal.input_guard) imports.
"""

from rest_framework import parsers

from portal.json_object import JSONObject


class _Guarded:
    def parse(self, stream, media_type=None, parser_context=None):
        from portal.input_guard import check_data

        result = super().parse(stream, media_type, parser_context)
        check_data(result.data if isinstance(result, parsers.DataAndFiles) else result)
        return result


def _mark(value):
    if isinstance(value, dict):
        return JSONObject((key, _mark(item)) for key, item in value.items())
    if isinstance(value, list):
        return [_mark(item) for item in value]
    return value


class JSONParser(_Guarded, parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        return _mark(super().parse(stream, media_type, parser_context))


class FormParser(_Guarded, parsers.FormParser):
    pass


class MultiPartParser(_Guarded, parsers.MultiPartParser):
    pass
