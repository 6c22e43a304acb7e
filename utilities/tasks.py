"""Thin tasks of the utility services."""

from celery import shared_task

from utilities.projects import project_render


@shared_task(name="utilities.render_project", acks_late=True, soft_time_limit=300, time_limit=360)
def render_project(generation_id: str) -> str:
    return project_render(generation_id)
