"""Pages of the technology radar: the picture and list, a technology's page with its proposal, proposing."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from catalog import radar_services as services
from catalog.radar_models import CRITERIA, RING_ORDER, Proposal, Quadrant, Ring, Technology
from catalog.radar_svg import radar_svg
from portal.errors import PortalError
from portal.models import Team
from portal.permissions import is_keeper, teams_visible_to


def technology_url(tech) -> str:
    return reverse("radar:detail", args=[tech.slug])


def radar(request):
    technologies = list(Technology.objects.exclude(ring="").order_by("quadrant", "name"))
    # Numbering follows the list, so the picture and the list agree.
    order = {q: i for i, q in enumerate(Quadrant.values)}
    technologies.sort(key=lambda t: (order[t.quadrant], RING_ORDER.index(t.ring), t.name.lower()))
    quadrants = [
        {
            "label": label,
            "value": value,
            "rings": [
                {
                    "ring": Ring(r),
                    "items": [(n, t) for n, t in enumerate(technologies, 1) if t.quadrant == value and t.ring == r],
                }
                for r in RING_ORDER
            ],
        }
        for value, label in Quadrant.choices
    ]
    proposals = Proposal.objects.filter(status=Proposal.Status.OPEN).select_related("technology")
    return render(
        request,
        "catalog/radar.html",
        {
            # Built from escaped parts only (radar_svg escapes every name and link).
            "svg": mark_safe(radar_svg(technologies, url_for=technology_url)),  # noqa: S308
            "quadrants": quadrants,
            "proposals": proposals,
        },
    )


def detail(request, slug):
    tech = Technology.objects.select_related("entry", "template").filter(slug=slug).first()
    if tech is None:
        raise Http404
    proposal = tech.proposals.select_related("proposed_by", "tried_by").first()
    scores, votes, comments, mine = [], [], [], {}
    if proposal:
        all_scores = list(proposal.scores.select_related("keeper").order_by("criterion", "keeper__username"))
        scores = [
            {"key": key, "label": label, "question": question, "items": [s for s in all_scores if s.criterion == key]}
            for key, (label, question) in CRITERIA.items()
        ]
        mine = {s.criterion: s for s in all_scores if s.keeper_id == request.user.pk}
        votes = list(proposal.votes.select_related("keeper"))
        comments = list(proposal.comments.select_related("author"))
    return render(
        request,
        "catalog/radar_detail.html",
        {
            "tech": tech,
            "proposal": proposal,
            "scores": scores,
            "mine": mine,
            "votes": votes,
            "comments": comments,
            "moves": tech.moves.select_related("decided_by"),
            "rings": Ring.choices,
            "criteria": [(k, v[0], v[1]) for k, v in CRITERIA.items()],
            "can_judge": is_keeper(request.user) and proposal is not None and proposal.status == Proposal.Status.OPEN,
        },
    )


def propose(request):
    form = {"name": "", "description": "", "quadrant": "", "links": "", "tried_by": "", "findings": ""}
    errors = {}
    status = 200
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in form}
        tried_by = Team.objects.filter(slug=form["tried_by"]).first() if form["tried_by"] else None
        try:
            proposal = services.proposal_create(
                user=request.user,
                name=form["name"],
                description=form["description"],
                quadrant=form["quadrant"],
                links=form["links"],
                tried_by=tried_by,
                findings=form["findings"],
            )
        except PortalError as exc:
            messages.error(request, exc.message)
            errors, status = exc.fields, exc.status_code
        else:
            messages.success(
                request, "Proposed. The Keepers will score it on the six criteria and vote; follow it here."
            )
            return redirect("radar:detail", slug=proposal.technology.slug)
    return render(
        request,
        "catalog/radar_propose.html",
        {"form": form, "errors": errors, "quadrants": Quadrant.choices, "teams": teams_visible_to(request.user)},
        status=status,
    )


def _open_proposal(slug):
    tech = Technology.objects.filter(slug=slug).first()
    proposal = tech.proposals.first() if tech else None
    if proposal is None:
        raise Http404
    return proposal


@require_POST
def score(request, slug):
    proposal = _open_proposal(slug)
    scores = {
        key: {"value": request.POST.get(f"{key}:value"), "justification": request.POST.get(f"{key}:why", "")}
        for key in CRITERIA
        if request.POST.get(f"{key}:value", "") != ""
    }
    try:
        services.proposal_score(proposal=proposal, keeper=request.user, scores=scores)
        messages.success(request, "Scores saved.")
    except PortalError as exc:
        if exc.status_code == 403:
            raise Http404 from None
        messages.error(request, exc.message)
    return redirect("radar:detail", slug=slug)


@require_POST
def vote(request, slug):
    proposal = _open_proposal(slug)
    try:
        services.proposal_vote(
            proposal=proposal,
            keeper=request.user,
            ring=request.POST.get("ring", ""),
            reason=request.POST.get("reason", ""),
        )
        messages.success(request, "Vote saved.")
    except PortalError as exc:
        if exc.status_code == 403:
            raise Http404 from None
        messages.error(request, exc.message)
    return redirect("radar:detail", slug=slug)


@require_POST
def comment(request, slug):
    proposal = _open_proposal(slug)
    try:
        services.comment_add(proposal=proposal, user=request.user, body=request.POST.get("body", ""))
    except PortalError as exc:
        messages.error(request, exc.message)
    return redirect("radar:detail", slug=slug)
