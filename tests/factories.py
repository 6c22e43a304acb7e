import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from portal.models import Membership, Team
from portal.permissions import KEEPERS_GROUP

PASSWORD = "a-Long-test-passw0rd"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    team = factory.SubFactory(TeamFactory)
    role = Membership.Role.MEMBER


def make_keeper(username="keeper1"):
    user = UserFactory(username=username)
    group, _ = Group.objects.get_or_create(name=KEEPERS_GROUP)
    user.groups.add(group)
    return user


def make_resource(template, team, owner, name="r1", parameters=None, **fields):
    """A resource written straight to the database, with no operation queued (for driver tests)."""
    from provisioning.models import Resource
    from provisioning.parameters import parameters_validate

    clean, errors = parameters_validate(template.parameters_schema, parameters or {})
    assert not errors, errors
    return Resource.objects.create(
        team=team,
        owner=owner,
        template=template,
        kind=template.resource_kind,
        driver=template.driver,
        name=name,
        parameters=clean,
        **fields,
    )
