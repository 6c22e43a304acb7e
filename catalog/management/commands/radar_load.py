from django.core.management import BaseCommand

from catalog.radar_services import radar_load


class Command(BaseCommand):
    help = (
        "Place the catalog's entries on the technology radar (production: adopt, experimental: trial); safe to repeat."
    )

    def handle(self, *args, **options):
        result = radar_load()
        if options["verbosity"]:
            self.stdout.write(f"Radar: {result['created']} placed, {result['total']} in all.")
