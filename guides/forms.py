from django import forms

from guides.models import Guide


class GuideForm(forms.ModelForm):
    tags = forms.CharField(required=False, help_text="Comma-separated, e.g. gpu, training.")

    class Meta:
        model = Guide
        fields = ["title", "kind", "summary", "body", "tags", "owner_team", "review_every_days", "journey_order"]
        widgets = {"body": forms.Textarea(attrs={"rows": 18, "class": "mono"})}
        help_texts = {"body": "Markdown. In a guide, each '## ' heading starts a step readers can tick."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["tags"] = ", ".join(self.instance.tags)

    def clean_tags(self):
        return [t.strip().lower() for t in self.cleaned_data["tags"].split(",") if t.strip()]
