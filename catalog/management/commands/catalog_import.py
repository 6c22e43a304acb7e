from django.core.management import BaseCommand, CommandError

from catalog.services import catalog_import


class Command(BaseCommand):
    help = "Import Backstage catalog-info.yaml documents (a file path or an http(s) URL); safe to repeat."

    def add_arguments(self, parser):
        parser.add_argument("source", help="catalog-info.yaml path or URL")

    def handle(self, *args, source, **options):
        try:
            report = catalog_import(source=source)
        except OSError as exc:
            raise CommandError(f"Cannot read {source}: {exc}") from exc
        for problem in report.problems:
            self.stderr.write(f"skipped {problem}")
        if options["verbosity"]:
            self.stdout.write(
                f"Catalog: {len(report.created)} created, {len(report.updated)} updated, "
                f"{len(report.unchanged)} unchanged, {len(report.problems)} skipped."
            )
