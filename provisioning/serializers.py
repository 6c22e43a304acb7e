from rest_framework import serializers

from catalog.models import ResourceKind, Template
from provisioning.models import Event, Operation, Resource, State


class TemplateSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(source="resource_kind")
    parameters_schema = serializers.JSONField()

    class Meta:
        model = Template
        fields = ["slug", "name", "summary", "kind", "driver", "parameters_schema", "version", "approval_rule"]


class ResourceSerializer(serializers.ModelSerializer):
    """A resource as lists show it: never any secret."""

    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    owner = serializers.CharField(source="owner.username", read_only=True)
    template = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    has_credentials = serializers.BooleanField(source="has_secrets", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Resource
        fields = [
            "id",
            "name",
            "kind",
            "template",
            "team",
            "owner",
            "state",
            "state_label",
            "status_message",
            "parameters",
            "outputs",
            "has_credentials",
            "expires_at",
            "last_activity_at",
            "created_at",
            "updated_at",
            "url",
        ]

    def get_url(self, resource) -> str:
        return f"/api/v1/resources/{resource.id}/"


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = ["at", "level", "message"]


class OperationSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", default=None, read_only=True)

    class Meta:
        model = Operation
        fields = [
            "id",
            "action",
            "state",
            "attempt",
            "error",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
        ]


class ResourceDetailSerializer(ResourceSerializer):
    events = serializers.SerializerMethodField()
    operations = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()

    class Meta(ResourceSerializer.Meta):
        fields = ResourceSerializer.Meta.fields + ["events", "operations", "actions"]

    def get_events(self, resource) -> list[dict]:
        return EventSerializer(self.context["events"], many=True).data

    def get_operations(self, resource) -> list[dict]:
        return OperationSerializer(self.context["operations"], many=True).data

    def get_actions(self, resource) -> list[str]:
        return sorted(self.context["actions"])


class ResourceCreateSerializer(serializers.Serializer):
    template = serializers.SlugField(help_text="Slug of the template, from GET /api/v1/templates/.")
    name = serializers.CharField(max_length=100, help_text="Lowercase letters, digits and dashes; unique in the team.")
    team = serializers.SlugField(required=False, help_text="Team slug; may be left out when you are in one team.")
    parameters = serializers.JSONField(
        required=False, default=dict, help_text='Values for the template\'s schema: an object, e.g. {"gpus": 1}.'
    )


class ResourceFilterSerializer(serializers.Serializer):
    """The resource list's query parameters (validated and documented from here)."""

    kind = serializers.ChoiceField(choices=ResourceKind.choices, required=False, allow_blank=True)
    state = serializers.ChoiceField(choices=State.choices, required=False, allow_blank=True)
    team = serializers.CharField(
        required=False, allow_blank=True, max_length=40, help_text="Team slug; a team you are not in lists nothing."
    )


class LogsQuerySerializer(serializers.Serializer):
    tail = serializers.IntegerField(
        required=False, default=200, min_value=1, max_value=5000, help_text="How many lines of output."
    )


class DecisionSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class RejectionSerializer(serializers.Serializer):
    reason = serializers.RegexField(
        r"^[^\x00]*[^\s\x00][^\x00]*$",
        max_length=500,
        help_text="Why, in words the requester reads.",
        error_messages={
            "required": "Say why the request is rejected, so the scientist knows what to change.",
            "blank": "Say why the request is rejected, so the scientist knows what to change.",
            "invalid": "Say why the request is rejected, so the scientist knows what to change.",
        },
    )


class CredentialsSerializer(serializers.Serializer):
    credentials = serializers.DictField(child=serializers.CharField())


class LogsSerializer(serializers.Serializer):
    operation = serializers.DictField(allow_null=True)
    log = serializers.CharField()
    output = serializers.CharField(help_text="What the resource's own program printed (jobs, notebooks).")
