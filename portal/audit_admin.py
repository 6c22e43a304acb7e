"""Admin changes that the audit log must show (teams, quotas, memberships, templates), recorded with their actor."""

from django.forms.models import model_to_dict

from portal.audit import audit_record
from portal.models import Team


def _team(obj):
    """The team an audit row belongs to: the team itself, or the object's team (a membership's)."""
    return obj if isinstance(obj, Team) else getattr(obj, "team", None)


def _changes(form) -> dict:
    """Changed field -> new value (strings; nothing secret is edited in these forms)."""
    return {name: str(form.cleaned_data.get(name)) for name in form.changed_data}


class AuditedAdminMixin:
    """Records every add, change and delete made in this ModelAdmin (and its inlines) in the audit log."""

    audit_name = ""  # e.g. "team": actions are "team.create", "team.change", "team.delete"

    def _name(self, model) -> str:
        return self.audit_name if model is self.model else model._meta.model_name

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        action = "change" if change else "create"
        data = _changes(form) if change else {k: str(v) for k, v in model_to_dict(obj).items()}
        audit_record(
            actor=request.user,
            action=f"{self.audit_name}.{action}",
            target=obj,
            team=_team(obj),
            request=request,
            data=data,
        )

    def delete_model(self, request, obj):
        audit_record(
            actor=request.user, action=f"{self.audit_name}.delete", target=obj, team=_team(obj), request=request
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            audit_record(
                actor=request.user, action=f"{self.audit_name}.delete", target=obj, team=_team(obj), request=request
            )
        super().delete_queryset(request, queryset)

    def save_formset(self, request, form, formset, change):
        deleted = [f.instance for f in formset.deleted_forms if f.instance.pk]
        existing = set(formset.initial_forms)
        for obj in deleted:
            audit_record(
                actor=request.user,
                action=f"{self._name(formset.model)}.delete",
                target=obj,
                team=_team(obj),
                request=request,
            )
        super().save_formset(request, form, formset, change)
        for inline_form in formset.forms:
            if inline_form in formset.deleted_forms or not inline_form.has_changed() or not inline_form.instance.pk:
                continue
            audit_record(
                actor=request.user,
                action=f"{self._name(formset.model)}.{'change' if inline_form in existing else 'create'}",
                target=inline_form.instance,
                team=_team(inline_form.instance),
                request=request,
                data=_changes(inline_form),
            )
