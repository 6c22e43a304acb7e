"""Scheduled reminders: guides due for review (to their owner team's admins, or the Keepers)."""

from celery import shared_task

from portal.notifications.models import Kind


def guides_due_remind() -> int:
    """Tell each stale guide's owners once per review period. Returns how many people were told."""
    from guides.selectors import stale_guides
    from portal.notifications.services import notify_keepers, notify_team_admins

    told = 0
    for guide in stale_guides():
        title = f"Guide due for review: {guide.title}"
        body = f"It was last reviewed on {guide.reviewed_at:%Y-%m-%d}. Check it still holds, then mark it reviewed."
        key = f"guide-review:{guide.pk}:{guide.reviewed_at:%Y%m%d}"
        url = f"/guides/{guide.slug}/"
        if guide.owner_team_id:
            told += notify_team_admins(
                guide.owner_team, kind=Kind.GUIDE_REVIEW_DUE, title=title, body=body, url=url, dedupe_key=key
            )
        else:
            told += notify_keepers(Kind.GUIDE_REVIEW_DUE, title=title, body=body, url=url, dedupe_key=key)
    return told


@shared_task(name="portal.guide_review_remind", soft_time_limit=120, time_limit=180)
def guide_review_remind() -> int:
    return guides_due_remind()
