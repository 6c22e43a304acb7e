from pathlib import Path

from django.core.management import BaseCommand, CommandError

from guides.services import CONTENT_DIR, guides_sync


class Command(BaseCommand):
    help = "Load the markdown guides of guides/content/ (or DIRECTORY) into the portal; safe to run any time."

    def add_arguments(self, parser):
        parser.add_argument("directory", nargs="?", default=str(CONTENT_DIR))

    def handle(self, *args, directory, **options):
        path = Path(directory)
        if not path.is_dir():
            raise CommandError(f"{path} is not a folder.")
        report = guides_sync(directory=path)
        for error in report.errors:
            self.stderr.write(f"skipped {error}")
        if options["verbosity"]:
            self.stdout.write(
                f"Guides: {len(report.created)} created, {len(report.updated)} updated, "
                f"{len(report.unchanged)} unchanged, {len(report.unpublished)} unpublished, "
                f"{len(report.errors)} with errors."
            )
