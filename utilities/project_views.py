"""Pages of the project generator."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render

from portal.errors import NotFound, PortalError
from provisioning.forms import ResourceForm
from utilities import projects
from utilities.models import ProjectGeneration, ProjectTemplate
from utilities.project_api import zip_response


class ProjectForm(ResourceForm):
    """The template's questions, with the resource forms' widgets and errors (no resource name)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["name"]


def project_list(request):
    return render(
        request,
        "utilities/projects.html",
        {
            "templates": ProjectTemplate.objects.filter(enabled=True).order_by("name"),
            "generations": ProjectGeneration.objects.filter(user=request.user)
            .select_related("template")
            .defer("archive")[:20],
        },
    )


def project_new(request, slug):
    template = ProjectTemplate.objects.filter(slug=slug, enabled=True).first()
    if template is None:
        raise Http404("No such project template")
    form = ProjectForm(request.POST or None, schema=projects.questions_schema(template.questions))
    if request.method == "POST" and form.is_valid():
        try:
            generation = projects.project_generate(
                template=template, user=request.user, answers=form.parameters(), request=request
            )
        except PortalError as exc:
            form.add_portal_errors(exc.fields or {"__all__": exc.message})
        else:
            messages.success(request, "Your project is being generated; it takes a few seconds.")
            return redirect("projects:project-detail", generation_id=generation.id)
    return render(request, "utilities/project_new.html", {"template": template, "form": form})


def _generation(request, generation_id):
    try:
        return projects.generation_get(user=request.user, generation_id=generation_id)
    except NotFound:
        raise Http404("No such project") from None


def project_detail(request, generation_id):
    generation = _generation(request, generation_id)
    template = "utilities/_project_state.html" if request.htmx else "utilities/project_detail.html"
    return render(request, template, {"generation": generation})


def project_download(request, generation_id):
    generation = _generation(request, generation_id)
    if generation.state != ProjectGeneration.State.DONE:
        messages.error(request, "The project is not ready yet.")
        return redirect("projects:project-detail", generation_id=generation.id)
    return zip_response(generation)
