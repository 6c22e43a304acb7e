import shutil

import pytest


@pytest.fixture(autouse=True)
def _empty_team_folders(db):
    """Team folders live on disk, outside the database that each test rolls back: empty before and after a test."""
    from portal.models import Team
    from provisioning.sandbox import team_folder

    def empty():
        for team in Team.objects.all():
            shutil.rmtree(team_folder(team), ignore_errors=True)

    for slug in ("team-a", "team-b"):  # the teams of tests/conftest.py, made later by the test's own fixtures
        shutil.rmtree(team_folder(Team(slug=slug)), ignore_errors=True)
    yield
    empty()
