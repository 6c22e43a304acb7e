from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ops import backup


class Command(BaseCommand):
    help = "Restore an encrypted backup into this portal's empty database and data folder."

    def add_arguments(self, parser):
        parser.add_argument("backup_file", type=Path)
        parser.add_argument("--key-file", type=Path, help="file holding the backup key (default: BACKUP_KEY)")

    def handle(self, *args, backup_file: Path, key_file=None, **options):
        key = key_file.read_text().strip() if key_file else settings.BACKUP_KEY
        if not key:
            raise CommandError("No backup key: give --key-file or set BACKUP_KEY.")
        if not backup_file.exists():
            raise CommandError(f"No such file: {backup_file}")
        try:
            manifest = backup.backup_restore(path=backup_file, key=key)
        except backup.BackupError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Restored the backup of {manifest['created_at']} into {settings.DATA_DIR}.")
