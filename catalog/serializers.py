from rest_framework import serializers

from catalog.models import Entry, EntryKind, Lifecycle, Template
from portal.models import Team

# An http(s) address, as the schema states it (Django's URLValidator has rules a schema cannot say).
LINK_URL_RE = (
    r"^https?://(localhost|([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,5}[A-Za-z]{2,63})"
    r"(:[1-9][0-9]{0,3})?([/?#][!-~]*)?$"
)


class LinkSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    url = serializers.RegexField(LINK_URL_RE, max_length=500, error_messages={"invalid": "Enter an http(s) address."})
    type = serializers.ChoiceField(choices=["docs", "source", "dashboard", "support", "other"], default="other")

    def validate(self, attrs):
        # A PATCH makes nested fields optional too (DRF's partial reaches them); a link is whole or nothing.
        missing = {name: "This field is required." for name in ("title", "url") if not attrs.get(name)}
        if missing:
            raise serializers.ValidationError(missing)
        return {"type": "other", **attrs}


class TeamSlugOrNull(serializers.SlugRelatedField):
    """A team's slug, or null for none; an empty string is neither (DRF would quietly take it for null)."""

    def run_validation(self, data=serializers.empty):
        if data == "":
            raise serializers.ValidationError("Give the slug of a team, or null for none.")
        return super().run_validation(data)


class EntrySerializer(serializers.ModelSerializer):
    owner_team = TeamSlugOrNull(slug_field="slug", queryset=Team.objects.all(), required=False, allow_null=True)
    tags = serializers.ListField(
        child=serializers.RegexField(r"^[a-z0-9][a-z0-9.+-]{0,39}$"),
        required=False,
        help_text="Lowercase words: letters, digits, dots, dashes.",
    )
    links = LinkSerializer(many=True, required=False)
    kind = serializers.ChoiceField(choices=EntryKind.choices, default=EntryKind.SERVICE)
    lifecycle = serializers.ChoiceField(choices=Lifecycle.choices, default=Lifecycle.PRODUCTION)
    related_templates = serializers.SlugRelatedField(
        slug_field="slug", queryset=Template.objects.all(), many=True, required=False
    )
    owner = serializers.CharField(source="owner_display", read_only=True)

    class Meta:
        model = Entry
        fields = [
            "slug",
            "name",
            "kind",
            "summary",
            "body",
            "owner",
            "owner_team",
            "owner_label",
            "tags",
            "lifecycle",
            "links",
            "featured",
            "related_templates",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["slug", "created_at", "updated_at"]


class EntryFilterSerializer(serializers.Serializer):
    """The catalog list's query parameters (validated and documented from here)."""

    kind = serializers.ChoiceField(choices=EntryKind.choices, required=False, allow_blank=True)
    tag = serializers.CharField(required=False, allow_blank=True, max_length=40, help_text="Entries with this tag.")
    lifecycle = serializers.ChoiceField(choices=Lifecycle.choices, required=False, allow_blank=True)
    owner = serializers.CharField(required=False, allow_blank=True, max_length=40, help_text="Owning team's slug.")


class EntryListSerializer(EntrySerializer):
    class Meta(EntrySerializer.Meta):
        fields = ["slug", "name", "kind", "summary", "owner", "tags", "lifecycle", "links", "featured", "updated_at"]
