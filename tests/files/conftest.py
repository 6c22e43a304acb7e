import shutil

import pytest


@pytest.fixture(autouse=True)
def _empty_team_folders(db):
    """Team folders live on disk, outside the database that each test rolls back: empty them after each test."""
    yield
    from portal.models import Team
    from provisioning.sandbox import team_folder

    for team in Team.objects.all():
        shutil.rmtree(team_folder(team), ignore_errors=True)
