"""Every request: an id for its log lines, the ids of who and what it is about, and its count and latency."""

from __future__ import annotations

import time
import uuid

from ops import logs, metrics


class ObservabilityMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        logs.context_clear()
        request.request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex
        logs.context_set(request_id=request.request_id)
        response = self.get_response(request)  # the ids are cleared when the response is closed (ops.logs)
        view = getattr(request, "resolver_match", None)
        metrics.http_request_observe(
            view=view.view_name if view and view.view_name else "unmatched",
            method=request.method,
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )
        response["X-Request-Id"] = request.request_id
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        """After authentication: who asks, for which team, about which resource."""
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            logs.context_set(user=user.get_username())
            team = request.session.get("team_id") if hasattr(request, "session") else None
            logs.context_set(team=team)
        logs.context_set(resource_id=view_kwargs.get("resource_id") or view_kwargs.get("pk"))
        return None
