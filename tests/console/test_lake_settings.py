"""The console's lake comes from settings.LAKE_* (no database needed)."""
from __future__ import annotations

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.storage.filedatalake import DataLakeServiceClient

from console.lake import LocalLake, get_lake
from console.lake.adls import AdlsLake
from tests.support.fake_dfs import ACCOUNT_KEY, FakeDfs


@pytest.fixture
def fake_dfs():
    server = FakeDfs().start()
    yield server
    server.stop()


def configure_adls(settings, fake: FakeDfs, filesystem: str = "evidence") -> None:
    DataLakeServiceClient(
        fake.endpoint, credential=AzureNamedKeyCredential(fake.account, ACCOUNT_KEY)
    ).create_file_system(filesystem)
    settings.LAKE_URL = fake.url(filesystem, "console")
    settings.LAKE_ACCOUNT_KEY = ACCOUNT_KEY
    settings.LAKE_SAS_TOKEN = ""
    settings.LAKE_ENDPOINT = fake.endpoint


def test_a_folder_path_configures_a_local_lake_there(settings, tmp_path):
    settings.LAKE_URL = str(tmp_path / "lake")

    lake = get_lake()
    lake.put("a.txt", b"x")

    assert isinstance(lake, LocalLake)
    assert (tmp_path / "lake" / "a.txt").read_bytes() == b"x"


def test_a_file_url_configures_a_local_lake_there(settings, tmp_path):
    settings.LAKE_URL = f"file://{tmp_path}/lake"

    get_lake().put("a.txt", b"x")

    assert (tmp_path / "lake" / "a.txt").read_bytes() == b"x"


def test_an_abfss_url_configures_an_adls_lake_with_the_configured_credentials(settings, fake_dfs):
    configure_adls(settings, fake_dfs)

    lake = get_lake()
    lake.put("a.txt", b"x")

    assert isinstance(lake, AdlsLake)
    assert fake_dfs.file_bytes("evidence", "console/a.txt") == b"x"


def test_the_lake_is_built_once_while_the_settings_stay_the_same(settings, tmp_path):
    settings.LAKE_URL = str(tmp_path / "lake")

    assert get_lake() is get_lake()


def test_the_lake_follows_a_settings_change(settings, tmp_path):
    settings.LAKE_URL = str(tmp_path / "one")
    get_lake().put("a.txt", b"one")

    settings.LAKE_URL = str(tmp_path / "two")

    assert get_lake().list() == []


def test_a_new_endpoint_for_the_same_url_gets_a_new_client(settings):
    # Two servers, one URL: a client kept for the first server would fail against the second.
    first, second = FakeDfs().start(), FakeDfs().start()
    try:
        configure_adls(settings, first)
        get_lake().put("a.txt", b"first")
        configure_adls(settings, second)

        get_lake().put("a.txt", b"second")

        assert second.file_bytes("evidence", "console/a.txt") == b"second"
    finally:
        first.stop()
        second.stop()
