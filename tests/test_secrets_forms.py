"""The database password never leaves the process: the userinfo and unparseable forms of
``test_secrets.py`` (a file of their own so that the two workers of ``make test`` share the forms)."""
from __future__ import annotations

import pytest

from test_secrets import _server, check_form


@pytest.fixture(scope="module")
def database(test_databases) -> dict:
    """The test's own database (seeded by the seeder in each form; the same rows every time)."""
    url = test_databases.url("secrets_forms")
    return {"url": url, "parts": _server(url)}


@pytest.mark.parametrize("form", ["userinfo", "unparseable"])
def test_no_entry_point_leaks_the_database_password(form, database, tmp_path, tmp_path_factory, request):
    check_form(form, database, tmp_path, tmp_path_factory, request)
