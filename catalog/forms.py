from django import forms

from catalog.models import Entry, Template


class EntryForm(forms.ModelForm):
    tags = forms.CharField(required=False, help_text="Comma-separated, e.g. gpu, storage.")
    links = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One per line: Title | https://address | docs, source, dashboard, support or other.",
    )
    related_templates = forms.ModelMultipleChoiceField(
        queryset=Template.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Entry
        fields = [
            "name",
            "kind",
            "lifecycle",
            "summary",
            "body",
            "owner_team",
            "owner_label",
            "tags",
            "links",
            "featured",
            "related_templates",
        ]
        widgets = {"body": forms.Textarea(attrs={"rows": 12})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["tags"] = ", ".join(self.instance.tags)
            self.initial["links"] = "\n".join(
                f"{link.get('title', '')} | {link['url']} | {link.get('type', 'other')}" for link in self.instance.links
            )

    def clean_tags(self):
        return [t.strip().lower()[:40] for t in self.cleaned_data["tags"].split(",") if t.strip()]

    def clean_links(self):
        links = []
        for number, line in enumerate(self.cleaned_data["links"].splitlines(), start=1):
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split("|")]
            if len(parts) < 2 or not parts[1].startswith(("https://", "http://")):
                raise forms.ValidationError(
                    f"Line {number}: write 'Title | https://address | type'; the address must start with https://."
                )
            kind = parts[2].lower() if len(parts) > 2 and parts[2] else "other"
            if kind not in ("docs", "source", "dashboard", "support", "other"):
                raise forms.ValidationError(
                    f"Line {number}: the type must be docs, source, dashboard, support or other."
                )
            links.append({"title": parts[0] or parts[1], "url": parts[1], "type": kind})
        return links
