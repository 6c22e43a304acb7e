from django.contrib.auth import get_user_model
from rest_framework import serializers

from portal.models import Membership, Team


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["slug", "name", "description", "max_notebooks", "max_gpus", "max_storage_gb", "max_databases"]


class MembershipSerializer(serializers.ModelSerializer):
    team = TeamSerializer()

    class Meta:
        model = Membership
        fields = ["team", "role"]


class MeSerializer(serializers.ModelSerializer):
    teams = serializers.SerializerMethodField()
    is_keeper = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "first_name", "last_name", "is_keeper", "teams"]

    def get_teams(self, user) -> list[dict]:
        return MembershipSerializer(self.context["memberships"], many=True).data

    def get_is_keeper(self, user) -> bool:
        return self.context["is_keeper"]


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(help_text="Username or email address.")
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    name = serializers.CharField(required=False, max_length=100, help_text="What the token is for (default: API).")
    expires_in_days = serializers.IntegerField(required=False, min_value=1, max_value=365, default=90)


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Shown once; the portal keeps only a hash of it.")
    name = serializers.CharField()
    expires_at = serializers.DateTimeField()


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField()
    message = serializers.CharField()


class RequiredText(serializers.CharField):
    """Text that must hold more than spaces; the service says so in its own words (so blank passes this field's
    own check), and the OpenAPI schema states it (portal.schema_hooks.RequiredTextExtension)."""

    def run_validation(self, data=serializers.empty):
        if isinstance(data, str) and not data.strip():
            return ""  # blank: the service refuses it in its own words
        return super().run_validation(data)
