"""Objects of teams, notifications, requests to the Keepers and the radar for the permissions matrix (issue 14)."""

from datetime import timedelta

from django.utils import timezone

from catalog.radar_models import Proposal, Quadrant, Technology
from portal.keeper_requests.models import KeeperRequest
from portal.notifications.models import Notification
from portal.teams.models import Invitation, JoinRequest, QuotaRequest, token_digest
from tests.factories import UserFactory

INVITATION_TOKEN = "matrix-invitation-token-for-bob"


def issue14_world(users, team_a) -> dict:
    alice, anna, bob = users["scientist_a"], users["admin_a"], users["scientist_b"]
    newbie = UserFactory(username="newbie")
    join = JoinRequest.objects.create(user=newbie, team=team_a, message="Let me in")
    quota = QuotaRequest.objects.create(
        team=team_a, field="max_gpus", current=team_a.max_gpus, requested=4, reason="Bigger models", requested_by=anna
    )
    ask = KeeperRequest.objects.create(team=team_a, author=alice, title="Help", body="My job fails")
    note = Notification.objects.create(user=alice, team=team_a, kind="resource_ready", title="Ready", url="/")
    Invitation.objects.create(
        team=team_a,
        invitee=bob,
        email=bob.email,
        token_hash=token_digest(INVITATION_TOKEN),
        created_by=anna,
        expires_at=timezone.now() + timedelta(days=3),
    )
    tech = Technology.objects.create(slug="ray", name="Ray", description="Distributed Python", quadrant=Quadrant.TOOLS)
    proposal = Proposal.objects.create(technology=tech, proposed_by=alice)
    return {"join": join, "quota": quota, "ask": ask, "note": note, "tech": tech, "proposal": proposal}


def issue14_url_values(objs) -> dict:
    """Values for the placeholders of the issue 14 URLs, by route prefix."""
    if "issue14" not in objs:
        return {}
    world = objs["issue14"]
    return {
        "<int:pk>": {
            "teams/join-requests/": str(world["join"].pk),
            "teams/quota-requests/": str(world["quota"].pk),
            "ask/": str(world["ask"].pk),
            "notifications/": str(world["note"].pk),
            "api/v1/join-requests/": str(world["join"].pk),
            "api/v1/quota-requests/": str(world["quota"].pk),
            "api/v1/requests/": str(world["ask"].pk),
            "api/v1/radar/proposals/": str(world["proposal"].pk),
        },
        "<int:user_id>": str(objs["users"]["scientist_a"].pk),
        "<str:token>": INVITATION_TOKEN,
    }
