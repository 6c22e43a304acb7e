from rest_framework import serializers

from guides.models import Guide


class GuideListSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner_display", read_only=True)
    stale = serializers.BooleanField(source="is_stale", read_only=True)

    class Meta:
        model = Guide
        fields = [
            "slug",
            "title",
            "kind",
            "summary",
            "owner",
            "tags",
            "steps",
            "reviewed_at",
            "review_every_days",
            "stale",
            "journey_order",
            "updated_at",
        ]


class GuideSerializer(GuideListSerializer):
    steps_done = serializers.SerializerMethodField()

    class Meta(GuideListSerializer.Meta):
        fields = GuideListSerializer.Meta.fields + ["body", "steps_done"]

    def get_steps_done(self, guide) -> list[str]:
        return self.context.get("steps_done", [])


class GuideFilterSerializer(serializers.Serializer):
    """The guide list's query parameters (validated and documented from here)."""

    kind = serializers.ChoiceField(choices=Guide.Kind.choices, required=False, allow_blank=True)
    tag = serializers.CharField(required=False, allow_blank=True, max_length=40, help_text="Guides with this tag.")


class StepSerializer(serializers.Serializer):
    step = serializers.CharField(max_length=100)
    done = serializers.BooleanField(default=True)
