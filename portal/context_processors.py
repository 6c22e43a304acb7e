from django.conf import settings
from django.urls import NoReverseMatch, reverse

from portal.permissions import is_keeper
from portal.selectors import current_team

# (label, url name); a section shows once its app provides the URL.
NAV = [
    ("Catalog", "catalog:list"),
    ("Guides", "guides:list"),
    ("Articles", "articles"),
    ("Resources", "provisioning:list"),
    ("Usage", "usage:team"),
    ("Radar", "radar:radar"),
    ("Teams", "teams:list"),
    ("Ask the Keepers", "keeper_requests:ask"),
    ("Files", "files:index"),
]
KEEPER_NAV = [("Keepers", "keepers"), ("Requests", "keeper-inbox")]


def _links(request, items):
    links = []
    for label, name in items:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        links.append({"label": label, "url": url, "active": request.path.startswith(url)})
    return links


def _url_or_none(name):
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def portal(request):
    user = getattr(request, "user", None)
    signed_in = bool(user and user.is_authenticated)
    context = {"PORTAL_NAME": settings.PORTAL_NAME}
    if signed_in:
        context.update(
            is_keeper=is_keeper(user),
            current_team=current_team(request),
            nav_links=_links(request, NAV),
            keeper_links=_links(request, KEEPER_NAV),
            search_url=_url_or_none("search"),
        )
    return context
