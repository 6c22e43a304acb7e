from django.core.management import BaseCommand

from utilities.projects import shipped_templates_load


class Command(BaseCommand):
    help = "Register the project templates that ship with the portal (utilities/project_templates/); safe to repeat."

    def handle(self, *args, **options):
        made = shipped_templates_load()
        if options["verbosity"]:
            self.stdout.write(f"Project templates: {made} registered.")
