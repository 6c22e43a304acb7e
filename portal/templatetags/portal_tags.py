from django import template
from django.utils.safestring import mark_safe

from portal.markdown import render_markdown

register = template.Library()


@register.filter
def markdown(text):
    """Safe HTML from markdown (sanitised by nh3)."""
    return mark_safe(render_markdown(text).html)  # noqa: S308 (sanitised above)


OUTPUT_LABELS = {
    "dsn": "Connection string (DSN)",
    "url": "Address",
    "access_key_id": "Access key ID",
    "secret_access_key": "Secret access key",
    "path": "Folder",
    "token": "Token",
    "exit_code": "Exit code",
    "workdir": "Working folder",
    "gpus": "GPUs",
    "cuda_visible_devices": "GPUs given (CUDA_VISIBLE_DEVICES)",
}


@register.filter
def pretty_key(key):
    return str(key).replace("_", " ").capitalize()


@register.filter
def output_label(key):
    """How an output or secret is named on the page."""
    return OUTPUT_LABELS.get(str(key)) or pretty_key(key)


@register.simple_tag(takes_context=True)
def query_with(context, **changes):
    """The current query string with some parameters changed (for filters and paging links)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    return "?" + params.urlencode() if params else "?"


@register.filter
def yesno_in(value, collection):
    """Whether value is in collection (for templates)."""
    return value in collection
