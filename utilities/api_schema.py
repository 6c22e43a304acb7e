"""One generate operation per project template in the OpenAPI schema, each with that template's own questions.

`POST /api/v1/project-templates/{slug}/generate/` takes the answers of the template the path names, and refuses
answers to questions it does not ask. OpenAPI cannot tie a body to a path parameter, so where templates exist the
schema lists one concrete path per enabled template (read from the database when the schema is served) with its
questions as the `answers` object; a client generator gets one call per template and a fuzzer sends only answers
the template takes. With no template yet, the templated path stays. A drf-spectacular postprocessing hook
(SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]).
"""

from __future__ import annotations

import copy

GENERATE_PATH = "/api/v1/project-templates/{slug}/generate/"


def _answers_schema(template) -> dict:
    from utilities.projects import questions_schema

    schema = questions_schema(template.questions)
    schema["additionalProperties"] = False  # what parameters_validate enforces
    for spec in schema["properties"].values():
        spec.pop("x-labels", None)
    return schema


def postprocess(result, generator, request, public):
    paths = result.get("paths", {})
    item = paths.get(GENERATE_PATH)
    if not item or "post" not in item:
        return result
    from utilities.models import ProjectTemplate

    templates = list(ProjectTemplate.objects.filter(enabled=True).order_by("slug")[:200])
    if not templates:
        return result
    del paths[GENERATE_PATH]
    for template in templates:
        operation = copy.deepcopy(item["post"])
        operation["operationId"] = f"{operation.get('operationId', 'project_generate')}_{template.slug}".replace(
            "-", "_"
        )
        operation["summary"] = f"Generate a project from '{template.name}'"
        operation["parameters"] = [p for p in operation.get("parameters", []) if p.get("name") != "slug"]
        body = {
            "type": "object",
            "properties": {"answers": {**_answers_schema(template), "description": "Answers to its questions."}},
            "additionalProperties": False,
        }
        operation["requestBody"] = {"content": {"application/json": {"schema": body}}}
        paths[f"/api/v1/project-templates/{template.slug}/generate/"] = {"post": operation}
    return result
