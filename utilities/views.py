from django.shortcuts import render

from portal.errors import PortalError
from utilities.api import parse_count
from utilities.ids import KINDS, MAX_COUNT, ids_generate


def ids_page(request):
    """The identifier service's page: pick a kind and a count, press Generate."""
    kind = request.GET.get("kind") or "uuid7"
    ids, error, count = [], "", request.GET.get("count") or "5"
    if "generate" in request.GET:
        try:
            ids = ids_generate(kind=kind, count=parse_count(count))
        except PortalError as exc:
            error = exc.message
    return render(
        request,
        "utilities/ids.html",
        {"kinds": KINDS, "kind": kind, "count": count, "ids": ids, "error": error, "max_count": MAX_COUNT},
    )
