"""OpenAPI examples for the files API, from the caller's own team folder: a folder key and files that exist.

Renaming a file or replacing a text file needs a path that is there; the schema cannot know one, so when it is read
signed in it gives, as examples, the caller's first team folder and two different files in its top folder (one to
rename, one to rewrite: examples run in any order). A drf-spectacular postprocessing hook
(SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]).
"""

from __future__ import annotations

PREFIX = "/api/v1/files/{key}/"


def _team_files(user) -> tuple[str, list[str]] | None:
    from files.roots import root_key, team_store
    from portal.models import Team

    team = Team.objects.filter(memberships__user=user).order_by("slug").first()
    if team is None:
        return None
    try:
        entries = team_store(team).list("")
    except Exception:  # noqa: BLE001 (no examples rather than no schema)
        return root_key(team), []
    small = [e.path for e in entries if not e.is_dir and (e.size or 0) < 100_000 and not e.name.startswith(".")]
    return root_key(team), sorted(small)[:2]


def postprocess(result, generator, request, public):
    user = getattr(request, "user", None)
    paths = result.get("paths", {})
    if user is None or not user.is_authenticated or not any(p.startswith(PREFIX) for p in paths):
        return result
    found = _team_files(user)
    if found is None:
        return result
    key, files = found
    bodies = {}
    if len(files) >= 2:
        bodies = {
            (PREFIX + "rename/", "post"): {"path": files[0], "new_name": f"renamed-{files[0].rsplit('/', 1)[-1]}"},
            (PREFIX + "text/", "put"): {"path": files[1], "text": "Written through the API.\n"},
        }
    for path, item in paths.items():
        if not path.startswith(PREFIX):
            continue
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("name") == "key":
                    parameter["example"] = key
            body = bodies.get((path, method))
            media = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body and media is not None:
                media["example"] = body
    return result
