"""REST API of resources and templates: the same services as the pages."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.errors import NotFound, PortalError
from portal.input_guard import query_params
from portal.permissions import teams_visible_to
from provisioning import selectors, services
from provisioning.actions import ACTIONS, action_run, request_team, resource_by_idempotency_key
from provisioning.drivers import DriverError, get_driver
from provisioning.models import State
from provisioning.policy import allowed_actions
from provisioning.serializers import (
    CredentialsSerializer,
    DecisionSerializer,
    LogsQuerySerializer,
    LogsSerializer,
    OperationSerializer,
    RejectionSerializer,
    ResourceCreateSerializer,
    ResourceDetailSerializer,
    ResourceFilterSerializer,
    ResourceSerializer,
    TemplateSerializer,
)


class TemplateList(generics.ListAPIView):
    """Templates that may be asked for, with the JSON Schema of their parameters."""

    serializer_class = TemplateSerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.template_list()


class TemplateDetail(generics.RetrieveAPIView):
    serializer_class = TemplateSerializer
    lookup_field = "slug"

    def get_object(self):
        return selectors.template_get(slug=self.kwargs["slug"])


def _live_resource(request, resource_id):
    """The resource at its API address; once its deletion is asked for, that address answers 404 (as REST has it).

    The list still shows deleted resources with ?state=deleting or ?state=deleted.
    """
    resource = selectors.resource_get(user=request.user, resource_id=resource_id)
    if resource.state in (State.DELETING, State.DELETED):
        raise NotFound("This resource has been deleted. GET /api/v1/resources/?state=deleted lists deleted ones.")
    return resource


class ResourceListCreate(generics.ListCreateAPIView):
    """Your teams' resources (filter with ?kind=, ?state=, ?team=); POST to request a new one."""

    serializer_class = ResourceSerializer

    def get_queryset(self):
        params = query_params(ResourceFilterSerializer, self.request)
        team = None
        if params.get("team"):
            team = teams_visible_to(self.request.user).filter(slug=params["team"]).first()
            if team is None:
                return selectors.resource_list(user=self.request.user).none()
        return selectors.resource_list(
            user=self.request.user, team=team, kind=params.get("kind", ""), state=params.get("state", "")
        )

    @extend_schema(parameters=[ResourceFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=ResourceCreateSerializer,
        responses={201: ResourceSerializer, 200: ResourceSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="The same key returns the same resource instead of a second one.",
            )
        ],
    )
    def post(self, request, *args, **kwargs):
        data = ResourceCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = request.headers.get("Idempotency-Key", "")[:100]
        if existing := resource_by_idempotency_key(
            owner=request.user,
            key=key,
            template=data.validated_data["template"],
            name=data.validated_data["name"],
            team=data.validated_data.get("team"),
            parameters=data.validated_data["parameters"],
        ):
            return Response(ResourceSerializer(existing).data, status=status.HTTP_200_OK)
        try:
            template = selectors.template_get(slug=data.validated_data["template"])
        except NotFound as exc:
            raise PortalError(exc.message, code="unknown_template", fields={"template": "Unknown template."}) from None
        resource = services.resource_request(
            template=template,
            team=request_team(request.user, slug=data.validated_data.get("team")),
            owner=request.user,
            name=data.validated_data["name"],
            parameters=data.validated_data["parameters"],
            idempotency_key=key,
            request=request,
        )
        return Response(ResourceSerializer(resource).data, status=status.HTTP_201_CREATED)


class ResourceDetail(APIView):
    """One resource with its timeline, operations and the actions you may take; DELETE deletes it."""

    def _get(self, request, resource_id):
        return _live_resource(request, resource_id)

    @extend_schema(responses=ResourceDetailSerializer)
    def get(self, request, resource_id):
        resource = self._get(request, resource_id)
        context = {
            "events": selectors.resource_timeline(resource),
            "operations": selectors.resource_operations(resource),
            "actions": allowed_actions(resource, request.user),
        }
        return Response(ResourceDetailSerializer(resource, context=context).data)

    @extend_schema(responses={202: ResourceSerializer})
    def delete(self, request, resource_id):
        resource = services.resource_delete(
            resource=self._get(request, resource_id), user=request.user, request=request
        )
        return Response(ResourceSerializer(resource).data, status=status.HTTP_202_ACCEPTED)


def _action_view(action: str, reason_serializer=None):
    entry = ACTIONS[action]
    doc = entry.doc
    if entry.with_reason and reason_serializer is None:
        reason_serializer = DecisionSerializer

    class ActionView(APIView):
        @extend_schema(
            request=reason_serializer,
            responses={202: ResourceSerializer},
            operation_id=f"resources_{action}",
            description=doc,
        )
        def post(self, request, resource_id):
            resource = _live_resource(request, resource_id)
            reason = ""
            if reason_serializer is not None:
                decision = reason_serializer(data=request.data)
                decision.is_valid(raise_exception=True)
                reason = decision.validated_data["reason"]
            resource = action_run(action=action, resource=resource, user=request.user, request=request, reason=reason)
            return Response(ResourceSerializer(resource).data, status=status.HTTP_202_ACCEPTED)

    ActionView.__name__ = f"Resource{action.capitalize()}"
    ActionView.__doc__ = doc
    return ActionView.as_view()


resource_stop = _action_view("stop")
resource_start = _action_view("start")
resource_retry = _action_view("retry")
resource_cancel = _action_view("cancel")
resource_reapply = _action_view("reapply")
resource_forget = _action_view("forget")
resource_approve = _action_view("approve")
resource_reject = _action_view("reject", reason_serializer=RejectionSerializer)


class ResourceCredentials(APIView):
    """The resource's secrets (passwords, keys, tokens). Every call is recorded in the audit log."""

    @extend_schema(request=None, responses=CredentialsSerializer)
    def post(self, request, resource_id):  # POST: a reveal is recorded, and no GET changes anything
        resource = _live_resource(request, resource_id)
        secrets = services.resource_reveal_secrets(resource=resource, user=request.user, request=request)
        response = Response({"credentials": secrets})
        response["Cache-Control"] = "no-store"
        return response


class ResourceLogs(APIView):
    """The log of the latest operation and, for programs, what they printed (?tail=N lines, default 200)."""

    @extend_schema(responses=LogsSerializer, parameters=[LogsQuerySerializer])
    def get(self, request, resource_id):
        tail = query_params(LogsQuerySerializer, request)["tail"]
        resource = _live_resource(request, resource_id)
        operation = selectors.operation_latest(resource)
        output = ""
        if resource.state not in (State.DELETED,):
            try:
                output = get_driver(resource.driver, resource.kind).logs(resource, tail=tail)
            except DriverError as exc:
                output = exc.message
        return Response(
            {
                "operation": OperationSerializer(operation).data if operation else None,
                "log": operation.log if operation else "",
                "output": output,
            }
        )


class OpenLinkSerializer(serializers.Serializer):
    url = serializers.URLField()


class ResourceOpen(APIView):
    """A link that opens a running notebook (for local notebooks a one-time link: no token in the address)."""

    @extend_schema(request=None, responses=OpenLinkSerializer)
    def post(self, request, resource_id):  # POST: opening is recorded, and no GET changes anything
        resource = _live_resource(request, resource_id)
        url = services.resource_open_url(resource=resource, user=request.user, request=request)
        response = Response({"url": url})
        response["Cache-Control"] = "no-store"
        return response
