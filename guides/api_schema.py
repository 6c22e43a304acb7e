"""OpenAPI examples for the guides API, from the database: a real guide and one of its steps.

A client (or a fuzzer's examples phase) that reads the schema can tick a step without guessing: the slug and the
step ids exist only in the database, so a static example would be wrong. A drf-spectacular postprocessing hook
(SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]).
"""

from __future__ import annotations

PROGRESS_PATH = "/api/v1/guides/{slug}/progress/"
DETAIL_PATH = "/api/v1/guides/{slug}/"


def _example_guide():
    from guides.selectors import guide_list

    for guide in guide_list()[:50]:
        if guide.step_ids:
            return guide
    return None


def _set_slug_example(operation: dict, slug: str) -> None:
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path" and parameter.get("name") == "slug":
            parameter["example"] = slug


def postprocess(result, generator, request, public):
    paths = result.get("paths", {})
    if PROGRESS_PATH not in paths:
        return result
    guide = _example_guide()
    if guide is None:
        return result
    if detail := paths.get(DETAIL_PATH, {}).get("get"):
        _set_slug_example(detail, guide.slug)
    if progress := paths[PROGRESS_PATH].get("post"):
        _set_slug_example(progress, guide.slug)
        media = progress.get("requestBody", {}).get("content", {}).get("application/json")
        if media is not None:
            media["example"] = {"step": guide.step_ids[0], "done": True}
    return result
