import sys

from django.core.management import BaseCommand

from catalog.models import Entry
from catalog.services import catalog_export


class Command(BaseCommand):
    help = "Write every catalog entry as Backstage catalog-info documents (to stdout, or --output FILE)."

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", help="file to write (default: standard output)")

    def handle(self, *args, output=None, **options):
        text = catalog_export(Entry.objects.select_related("owner_team").order_by("slug"))
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            sys.stdout.write(text)
