from django import template

register = template.Library()


@register.inclusion_tag("usage/_estimate_box.html", takes_context=True)
def usage_estimate(context, template_obj, team):
    """The cost estimate under a request form, for the template's defaults; htmx refreshes it as the form changes."""
    from usage.views import estimate_context

    request = context.get("request")
    given = request.POST if request is not None and request.method == "POST" else {}
    return estimate_context(template_obj, given, team)
