"""The acceptance procedure: propose, score the six criteria, vote, decide; and the initial radar."""

from __future__ import annotations

from collections import Counter

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.radar_models import (
    CRITERIA,
    RING_ORDER,
    Proposal,
    ProposalComment,
    Quadrant,
    Ring,
    RingMove,
    Score,
    Technology,
    Vote,
)
from portal.audit import audit_record
from portal.errors import NotAllowed, PortalError
from portal.permissions import can_use_team, is_keeper
from portal.slugs import slug_for


def _links_clean(links) -> list[dict]:
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    if not links:
        return []
    if isinstance(links, str):
        links = [{"title": line.strip(), "url": line.strip()} for line in links.splitlines() if line.strip()]
    if not isinstance(links, list):
        raise PortalError("Links are a list of {title, url}.", code="invalid", fields={"links": "A list."})
    clean = []
    for link in links[:20]:
        url = (link.get("url") if isinstance(link, dict) else str(link)).strip()
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise PortalError(
                f"{url!r} is not a web address.", code="invalid", fields={"links": "http(s) only."}
            ) from None
        clean.append({"title": (link.get("title") if isinstance(link, dict) else "") or url, "url": url})
    return clean


def proposal_create(
    *,
    user,
    name: str,
    description: str,
    quadrant: str,
    links=None,
    tried_by=None,
    findings: str = "",
    entry=None,
    template=None,
) -> Proposal:
    """Anyone proposes a technology; an existing one gets a new proposal (to move it)."""
    name, description = (name or "").strip(), (description or "").strip()
    errors = {}
    if not name:
        errors["name"] = "Give the technology's name."
    if not description:
        errors["description"] = "Say what it is and what it would be for."
    if quadrant not in Quadrant.values:
        errors["quadrant"] = f"One of: {', '.join(Quadrant.values)}."
    if errors:
        raise PortalError("A proposal needs a name, a description and a quadrant.", code="invalid", fields=errors)
    if tried_by is not None and not can_use_team(user, tried_by):
        raise NotAllowed("You can say only your own team tried it.")
    slug = slug_for(name, prefix="tech", max_length=80)  # any name, in any script, gets an address
    links = _links_clean(links)
    with transaction.atomic():
        technology, created = Technology.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name[:120],
                "description": description,
                "quadrant": quadrant,
                "links": links,
                "entry": entry,
                "template": template,
            },
        )
        if technology.proposals.filter(status=Proposal.Status.OPEN).exists():
            raise PortalError(
                f"{technology.name} is being assessed already: join the discussion on its page.",
                code="duplicate",
                status_code=409,
            )
        proposal = Proposal.objects.create(
            technology=technology, proposed_by=user, tried_by=tried_by, findings=(findings or "").strip()
        )
        audit_record(actor=user, action="radar.proposed", target=proposal)
        from portal.notifications.services import notify_keepers

        notify_keepers(
            "radar_proposal",
            title=f"Technology proposed: {technology.name}",
            body=description[:1000],
            url=f"/radar/{technology.slug}/",
        )
    return proposal


def proposal_score(*, proposal: Proposal, keeper, scores: dict) -> list[Score]:
    """A Keeper scores criteria 0 to 5, each with a justification.

    `scores`: {"market_presence": {"value": 4, "justification": "..."}, ...}
    """
    if not is_keeper(keeper):
        raise NotAllowed("Only the Keepers score proposals.")
    if proposal.status != Proposal.Status.OPEN:
        raise PortalError("This proposal is decided already.", code="decided", status_code=409)
    if not isinstance(scores, dict) or not scores:
        raise PortalError("Give scores for the criteria.", code="invalid")
    errors = {}
    clean = {}
    for criterion, item in scores.items():
        if criterion not in CRITERIA:
            errors[criterion] = "Unknown criterion."
            continue
        item = item if isinstance(item, dict) else {}
        try:
            value = int(item.get("value"))
        except (TypeError, ValueError):
            value = -1
        justification = str(item.get("justification") or "").strip()
        if not 0 <= value <= 5:
            errors[criterion] = "A score from 0 to 5."
        elif not justification:
            errors[criterion] = "Say why, in a sentence."
        else:
            clean[criterion] = (value, justification[:500])
    if errors:
        raise PortalError("Each score needs a value from 0 to 5 and a justification.", code="invalid", fields=errors)
    with transaction.atomic():
        saved = [
            Score.objects.update_or_create(
                proposal=proposal, keeper=keeper, criterion=criterion, defaults={"value": value, "justification": why}
            )[0]
            for criterion, (value, why) in clean.items()
        ]
        audit_record(actor=keeper, action="radar.scored", target=proposal, data={"criteria": sorted(clean)})
        _decide_if_ready(proposal)
    return saved


def proposal_vote(*, proposal: Proposal, keeper, ring: str, reason: str = "") -> Vote:
    """A Keeper votes for a ring. Once RADAR_QUORUM Keepers have voted and scored all six criteria, it is decided."""
    if not is_keeper(keeper):
        raise NotAllowed("Only the Keepers vote on proposals. Add your view to the discussion instead.")
    if ring not in Ring.values:
        raise PortalError(f"Vote for a ring: {', '.join(Ring.values)}.", code="invalid", fields={"ring": "Unknown."})
    with transaction.atomic():
        locked = Proposal.objects.select_for_update().get(pk=proposal.pk)
        if locked.status != Proposal.Status.OPEN:
            raise PortalError("This proposal is decided already.", code="decided", status_code=409)
        vote, _ = Vote.objects.update_or_create(
            proposal=locked, keeper=keeper, defaults={"ring": ring, "reason": (reason or "").strip()[:1000]}
        )
        audit_record(actor=keeper, action="radar.voted", target=locked, data={"ring": ring})
        _decide_if_ready(locked)
    return vote


def _decide_if_ready(proposal: Proposal) -> bool:
    """Decide when enough Keepers voted, each scored every criterion, and one ring has a strict majority."""
    votes = list(proposal.votes.all())
    if len(votes) < settings.RADAR_QUORUM:
        return False
    scored = Counter(proposal.scores.values_list("keeper_id", flat=True))
    if any(scored.get(v.keeper_id, 0) < len(CRITERIA) for v in votes):
        return False
    ring, count = Counter(v.ring for v in votes).most_common(1)[0]
    if count * 2 <= len(votes):
        return False
    averages = {
        c: round(sum(s.value for s in proposal.scores.all() if s.criterion == c) / len(votes), 1) for c in CRITERIA
    }
    reasons = "; ".join(v.reason for v in votes if v.reason) or "Voted by the Keepers."
    summary = ", ".join(f"{CRITERIA[c][0]} {averages[c]}/5" for c in CRITERIA)
    technology_move(
        technology=proposal.technology,
        ring=ring,
        reasons=f"{reasons} (Scores: {summary}.)",
        by=None,
        proposal=proposal,
    )
    Proposal.objects.filter(pk=proposal.pk).update(
        status=Proposal.Status.DECIDED, decided_ring=ring, decided_at=timezone.now()
    )
    proposal.status, proposal.decided_ring = Proposal.Status.DECIDED, ring
    if proposal.proposed_by:
        from portal.notifications.services import notify

        notify(
            user=proposal.proposed_by,
            kind="approval_decided",
            title=f"{proposal.technology.name} is now on the radar: {Ring(ring).label}",
            body=reasons,
            url=f"/radar/{proposal.technology.slug}/",
        )
    return True


def technology_move(*, technology: Technology, ring: str, reasons: str, by=None, proposal=None, date=None) -> RingMove:
    """Place a technology in a ring; every move is kept."""
    if ring not in Ring.values:
        raise PortalError("Unknown ring.", code="invalid")
    move = RingMove.objects.create(
        technology=technology,
        ring=ring,
        previous_ring=technology.ring or "",
        date=date or timezone.localdate(),
        reasons=reasons,
        decided_by=by,
        proposal=proposal,
    )
    Technology.objects.filter(pk=technology.pk).update(ring=ring, updated_at=timezone.now())
    technology.ring = ring
    return move


def comment_add(*, proposal: Proposal, user, body: str) -> ProposalComment:
    body = (body or "").strip()
    if not body:
        raise PortalError("Write something to add to the discussion.", code="invalid", fields={"body": "Required."})
    return ProposalComment.objects.create(proposal=proposal, author=user, body=body[:5000])


# Initial radar: every catalog entry, placed by what the platform runs (production: adopt; experimental: trial).
KIND_QUADRANT = {
    "service": Quadrant.PLATFORMS,
    "api": Quadrant.PLATFORMS,
    "tool": Quadrant.TOOLS,
    "library": Quadrant.LANGUAGES,
}
LIFECYCLE_RING = {"production": Ring.ADOPT, "experimental": Ring.TRIAL, "deprecated": Ring.HOLD}
TECHNIQUES = [
    (
        "docs-as-code",
        "Docs as code",
        "Guides and articles live as Markdown beside the code and are synced to the portal.",
        Ring.ADOPT,
    ),
    (
        "infrastructure-as-code",
        "Infrastructure as code",
        "Cloud resources come from reviewed Terraform modules, never from clicks in a console.",
        Ring.ADOPT,
    ),
    (
        "sandboxed-user-code",
        "Sandboxed user code",
        "Scientists' programs run as their team's account in a sandbox, never with the portal's rights.",
        Ring.ADOPT,
    ),
]


def radar_load() -> dict[str, int]:
    """Place every catalog entry (and the platform's techniques) on the radar once; never moves what is there."""
    from catalog.models import Entry

    created = 0
    today = timezone.localdate()
    for entry in Entry.objects.filter(kind__in=KIND_QUADRANT).order_by("slug"):
        ring = LIFECYCLE_RING.get(entry.lifecycle, Ring.ASSESS)
        technology, made = Technology.objects.get_or_create(
            slug=entry.slug,
            defaults={
                "name": entry.name,
                "description": entry.summary,
                "quadrant": KIND_QUADRANT[entry.kind],
                "entry": entry,
                "links": [
                    {"title": link.get("title", ""), "url": link.get("url", "")}
                    for link in entry.links or []
                    if isinstance(link, dict)
                ],
            },
        )
        if made:
            created += 1
            template = entry.related_templates.first()
            if template:
                Technology.objects.filter(pk=technology.pk).update(template=template)
            technology_move(
                technology=technology,
                ring=ring,
                reasons="Initial radar: the platform runs it "
                f"({entry.get_lifecycle_display().lower()} in the catalog).",
                date=today,
            )
    for slug, name, description, ring in TECHNIQUES:
        technology, made = Technology.objects.get_or_create(
            slug=slug, defaults={"name": name, "description": description, "quadrant": Quadrant.TECHNIQUES}
        )
        if made:
            created += 1
            technology_move(
                technology=technology, ring=ring, reasons="Initial radar: how the platform works.", date=today
            )
    return {"created": created, "total": Technology.objects.count()}


def radar_rings_in_order():
    return RING_ORDER
