"""REST API of notifications: the inbox, marking read, channel preferences, keep a notebook running."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.input_guard import query_params
from portal.notifications import services
from portal.notifications.actions import notebook_keep_running
from portal.notifications.models import Kind, Notification


class NotificationSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "title",
            "body",
            "url",
            "team",
            "action",
            "action_target",
            "created_at",
            "read",
            "email_state",
            "webhook_state",
        ]

    def get_read(self, obj) -> bool:
        return obj.read_at is not None


class MarkReadSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="Leave out to mark all read."
    )


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField()


class PreferenceSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=Kind.choices,
        error_messages={"invalid_choice": "Unknown kind '{input}'. Kinds: " + ", ".join(Kind.values) + "."},
    )
    label = serializers.CharField(read_only=True)
    inbox = serializers.BooleanField(required=False)
    email = serializers.BooleanField(required=False)
    webhook = serializers.BooleanField(required=False)


class NotificationFilterSerializer(serializers.Serializer):
    unread = serializers.BooleanField(required=False, help_text="true: the unread only.")


class NotificationList(generics.ListAPIView):
    """Your notifications, newest first (?unread=1 for the unread only)."""

    serializer_class = NotificationSerializer

    @extend_schema(parameters=[NotificationFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        rows = Notification.objects.filter(user=self.request.user).select_related("team")
        if query_params(NotificationFilterSerializer, self.request).get("unread"):
            rows = rows.filter(read_at__isnull=True)
        return rows


class NotificationMarkRead(APIView):
    @extend_schema(request=MarkReadSerializer, responses=MarkedSerializer)
    def post(self, request):
        data = MarkReadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ids = data.validated_data.get("ids")
        return Response({"marked": services.notification_mark_read(user=request.user, ids=ids)})


class PreferenceList(APIView):
    """Which channels (inbox, e-mail, team webhook) you get for each kind; PUT a list to change some."""

    @extend_schema(responses=PreferenceSerializer(many=True))
    def get(self, request):
        return Response(services.preferences_for(user=request.user))

    @extend_schema(request=PreferenceSerializer(many=True), responses=PreferenceSerializer(many=True))
    def put(self, request):
        changes = PreferenceSerializer(data=request.data, many=True)
        changes.is_valid(raise_exception=True)  # the shape the schema states: no unknown keys, true/false only
        if not changes.validated_data:  # an empty list changes nothing
            return Response(services.preferences_for(user=request.user))
        return Response(
            services.preferences_update(user=request.user, changes=[dict(c) for c in changes.validated_data])
        )


class KeepRunningSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    last_activity_at = serializers.DateTimeField()
    warning = serializers.CharField(allow_blank=True)


class KeepRunning(APIView):
    """Reset a notebook's idle clock so it is not stopped for idleness now."""

    @extend_schema(request=None, responses=KeepRunningSerializer)
    def post(self, request, resource_id):
        resource = notebook_keep_running(user=request.user, resource_id=resource_id)
        return Response({"id": resource.pk, "last_activity_at": resource.last_activity_at, "warning": resource.warning})
