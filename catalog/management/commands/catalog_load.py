from pathlib import Path

from django.core.management import BaseCommand

from catalog.services import catalog_import

CONTENT = Path(__file__).resolve().parents[2] / "content" / "catalog-info.yaml"


class Command(BaseCommand):
    help = "Load the platform's own catalog (catalog/content/catalog-info.yaml); safe to repeat."

    def handle(self, *args, **options):
        report = catalog_import(source=str(CONTENT), update_existing=False)
        for problem in report.problems:
            self.stderr.write(f"skipped {problem}")
        if options["verbosity"]:
            self.stdout.write(
                f"Catalog: {len(report.created)} created, {len(report.updated)} updated, "
                f"{len(report.unchanged)} unchanged."
            )
