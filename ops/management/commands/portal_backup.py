from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ops import backup


class Command(BaseCommand):
    help = "Write an encrypted backup of the portal's database, Terraform state and data-folder keys."

    def add_arguments(self, parser):
        parser.add_argument("--output", type=Path, help="folder to write into (default: BACKUP_DIR)")
        parser.add_argument("--key-file", type=Path, help="file holding the backup key (default: BACKUP_KEY)")
        parser.add_argument("--new-key", action="store_true", help="print a new backup key and stop")

    def handle(self, *args, output=None, key_file=None, new_key=False, **options):
        if new_key:
            self.stdout.write(backup.new_key())
            self.stderr.write("Keep this key outside the portal (a password manager): without it no backup opens.")
            return
        key = key_file.read_text().strip() if key_file else settings.BACKUP_KEY
        folder = output or (Path(settings.BACKUP_DIR) if settings.BACKUP_DIR else None)
        if not key:
            raise CommandError("No backup key: give --key-file or set BACKUP_KEY (make one with --new-key).")
        if folder is None:
            raise CommandError("Where to? Give --output or set BACKUP_DIR.")
        try:
            path = backup.backup_write(folder=folder, key=key)
        except backup.BackupError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(str(path))
