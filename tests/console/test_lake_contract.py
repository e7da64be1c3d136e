"""One storage contract, run against both lake backends.

`local` is a folder in tmp_path; `adls` is AdlsLake driving the real Azure SDK against the
in-memory DFS server in tests/support/fake_dfs.py. Both are built through `lake_from_url`, the way
the console builds them. Nothing here needs the database.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.storage.filedatalake import DataLakeServiceClient

from console.lake import (
    CHUNK,
    Lake,
    LakeConflict,
    LakeError,
    LakeIntegrityError,
    LakeNotFound,
    LakePathError,
    LocalLake,
    lake_from_url,
)
from console.lake.adls import AdlsLake
from tests.support.fake_dfs import ACCOUNT, ACCOUNT_KEY, FakeDfs

FILESYSTEM = "evidence"
PREFIX = "takeover/prod"
ADLS_CHUNK = 64 * 1024  # small, so a few hundred KiB already exercise chunked appends and reads


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Backend:
    """A lake plus ways to reach its stored bytes without going through it."""

    name: str
    new_lake: Callable[[], Lake]  # another client on the same storage, as a second worker would have
    raw: Callable[[str], bytes]
    tamper: Callable[[str, bytes], None]
    drop_hash: Callable[[str], None]
    plant: Callable[[str, bytes], None]  # write raw bytes at any name, bypassing the lake
    chunk: int

    def __post_init__(self) -> None:
        self.lake = self.new_lake()


def sdk_service(fake: FakeDfs) -> DataLakeServiceClient:
    """The SDK on its own, for setting up what the lake would not do itself."""
    return DataLakeServiceClient(fake.endpoint, credential=AzureNamedKeyCredential(ACCOUNT, ACCOUNT_KEY))


@pytest.fixture
def fake_dfs():
    server = FakeDfs().start()
    sdk_service(server).create_file_system(FILESYSTEM)
    yield server
    server.stop()


def adls_lake(fake: FakeDfs, prefix: str = PREFIX, **credentials) -> Lake:
    credentials = credentials or {"account_key": ACCOUNT_KEY}
    url = fake.url(FILESYSTEM, prefix)
    return lake_from_url(url, endpoint=fake.endpoint, chunk_size=ADLS_CHUNK, **credentials)


def local_backend(root) -> Backend:
    def tamper(path: str, data: bytes) -> None:
        (root / path).write_bytes(data)

    def plant(path: str, data: bytes) -> None:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)

    return Backend(
        name="local",
        new_lake=lambda: lake_from_url(f"file://{root}"),
        raw=lambda path: (root / path).read_bytes(),
        tamper=tamper,
        drop_hash=lambda path: (root / f"{path}.sha256").unlink(),
        plant=plant,
        chunk=CHUNK,
    )


def adls_backend(fake: FakeDfs) -> Backend:
    def full(path: str) -> str:
        return f"{PREFIX}/{path}"

    def plant(path: str, data: bytes) -> None:
        sdk_service(fake).get_file_client(FILESYSTEM, full(path)).upload_data(data, overwrite=True)

    return Backend(
        name="adls",
        new_lake=lambda: adls_lake(fake),
        raw=lambda path: fake.file_bytes(FILESYSTEM, full(path)),
        tamper=lambda path, data: fake.tamper(FILESYSTEM, full(path), data=data),
        drop_hash=lambda path: fake.tamper(FILESYSTEM, full(path), metadata={}),
        plant=plant,
        chunk=ADLS_CHUNK,
    )


@pytest.fixture(params=["local", "adls"])
def backend(request, tmp_path) -> Backend:
    if request.param == "local":
        return local_backend(tmp_path / "lake")
    return adls_backend(request.getfixturevalue("fake_dfs"))


@pytest.fixture
def lake(backend) -> Lake:
    return backend.lake


class TrickleReader:
    """A non-seekable stream (like an upload or a pipe) that records how much was asked of it."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0
        self.requested: list[int] = []

    def read(self, size: int = -1) -> bytes:
        self.requested.append(size)
        end = len(self._data) if size is None or size < 0 else self._offset + size
        piece = self._data[self._offset : end]
        self._offset += len(piece)
        return piece


# --- the contract ---------------------------------------------------------------------------------
def test_lake_from_url_builds_the_backend_the_url_names(backend):
    assert isinstance(backend.lake, {"local": LocalLake, "adls": AdlsLake}[backend.name])


def test_put_then_read_returns_the_same_bytes_and_their_hash(lake):
    data = b"month,revenue\n2024-01,1200\n"

    result = lake.put("exports/revenue.csv", data)

    assert (result.path, result.sha256, result.size, result.created) == (
        "exports/revenue.csv",
        sha(data),
        len(data),
        True,
    )
    assert lake.read("exports/revenue.csv") == data
    assert lake.sha256("exports/revenue.csv") == sha(data)
    with lake.open("exports/revenue.csv") as handle:
        assert handle.read() == data


def test_an_empty_file_round_trips(lake):
    result = lake.put("empty.txt", b"")

    assert (result.sha256, result.size, result.created) == (sha(b""), 0, True)
    assert lake.read("empty.txt") == b""


@pytest.mark.catalogue(16)
def test_putting_identical_bytes_again_is_a_no_op_with_the_same_hash(lake):
    first = lake.put("a.txt", b"same")

    again = lake.put("a.txt", b"same")

    assert again.created is False
    assert again.sha256 == first.sha256
    assert lake.read("a.txt") == b"same"


@pytest.mark.catalogue(16)
def test_putting_different_bytes_at_an_existing_path_is_refused_and_keeps_the_original(backend):
    lake = backend.lake
    lake.put("a.txt", b"original")

    with pytest.raises(LakeConflict) as refused:
        lake.put("a.txt", b"replacement")

    assert refused.value.existing_sha256 == sha(b"original")
    assert refused.value.new_sha256 == sha(b"replacement")
    assert backend.raw("a.txt") == b"original"
    assert lake.read("a.txt") == b"original"
    assert lake.list() == ["a.txt"]


@pytest.mark.catalogue(16)
def test_a_second_client_cannot_overwrite_either(backend):
    backend.lake.put("a.txt", b"original")

    with pytest.raises(LakeConflict):
        backend.new_lake().put("a.txt", b"replacement")

    assert backend.raw("a.txt") == b"original"


@pytest.mark.parametrize("call", ["read", "open", "sha256"])
def test_reading_a_missing_path_raises_not_found(lake, call):
    with pytest.raises(LakeNotFound):
        getattr(lake, call)("no/such/file.csv")


def test_exists_is_true_only_for_a_stored_file(lake):
    lake.put("folder/file.txt", b"x")

    assert lake.exists("folder/file.txt") is True
    assert lake.exists("folder/other.txt") is False
    assert lake.exists("folder") is False  # a folder is not a file


def test_a_folder_is_not_a_file(lake):
    lake.put("folder/file.txt", b"x")

    with pytest.raises(LakeNotFound):
        lake.read("folder")
    with pytest.raises(LakePathError):
        lake.put("folder", b"y")
    with pytest.raises(LakePathError):
        lake.put("folder/file.txt/child", b"z")
    assert lake.list() == ["folder/file.txt"]


def test_list_returns_the_files_under_a_folder_sorted_with_nesting(lake):
    for path in ["b/2.txt", "a/1.txt", "a/deep/er/3.txt", "ab/4.txt", "top.txt"]:
        lake.put(path, path.encode())

    assert lake.list() == ["a/1.txt", "a/deep/er/3.txt", "ab/4.txt", "b/2.txt", "top.txt"]
    assert lake.list("a") == ["a/1.txt", "a/deep/er/3.txt"]  # not "ab/…": prefixes are folders
    assert lake.list("a/") == ["a/1.txt", "a/deep/er/3.txt"]
    assert lake.list("a/deep") == ["a/deep/er/3.txt"]
    assert lake.list("missing") == []
    assert lake.list("top.txt") == []  # a file is not a folder


def test_list_of_an_empty_lake_is_empty(lake):
    assert lake.list() == []


def test_list_hides_a_refused_write(lake):
    lake.put("a/x.txt", b"1")
    with pytest.raises(LakeConflict):
        lake.put("a/x.txt", b"2")

    assert lake.list() == ["a/x.txt"]


def test_an_unfinished_upload_is_invisible_and_does_not_block_the_path(backend):
    # What a writer that died mid-upload leaves behind.
    backend.plant("a/.incoming-0123456789abcdef", b"half of somethi")
    backend.lake.put("a/x.txt", b"1")

    assert backend.lake.list() == ["a/x.txt"]
    assert backend.lake.list("a") == ["a/x.txt"]


@pytest.mark.parametrize(
    "path",
    [
        "",
        "..",
        "../outside.txt",
        "a/../../outside.txt",
        "/etc/passwd",
        "a//b.txt",
        "a/",
        "./a.txt",
        "a\\b.txt",
        "a/.incoming-123",  # reserved for in-flight writes
        "a/b.txt.sha256",  # reserved for the local backend's hash records, refused everywhere
    ],
)
def test_unclean_paths_are_rejected(lake, path):
    with pytest.raises(LakePathError):
        lake.put(path, b"x")
    with pytest.raises(LakePathError):
        lake.read(path)
    with pytest.raises(LakePathError):
        lake.exists(path)


@pytest.mark.parametrize("prefix", ["..", "/abs", "a//b", "a/../.."])
def test_unclean_list_prefixes_are_rejected(lake, prefix):
    with pytest.raises(LakePathError):
        lake.list(prefix)


def test_a_stream_larger_than_one_chunk_is_written_chunk_by_chunk(backend):
    data = os.urandom(int(backend.chunk * 2.5))
    stream = TrickleReader(data)

    result = backend.lake.put("big/stream.bin", stream)

    assert (result.sha256, result.size) == (sha(data), len(data))
    assert len(stream.requested) > 2
    assert all(0 < size <= backend.chunk for size in stream.requested)  # never "read it all"
    assert backend.lake.read("big/stream.bin") == data
    assert backend.raw("big/stream.bin") == data


def test_an_identical_stream_is_recognised_as_already_stored(lake):
    data = os.urandom(300_000)
    lake.put("big.bin", data)

    assert lake.put("big.bin", TrickleReader(data)).created is False


def test_bytes_changed_behind_the_lakes_back_fail_verification(backend):
    backend.lake.put("a.txt", b"trusted")
    backend.tamper("a.txt", b"tampered")

    with pytest.raises(LakeIntegrityError):
        backend.lake.read("a.txt")
    with pytest.raises(LakeIntegrityError):
        backend.lake.open("a.txt")


def test_a_large_file_changed_behind_the_lakes_back_fails_verification(backend):
    data = os.urandom(backend.chunk * 3)
    backend.lake.put("big.bin", data)
    backend.tamper("big.bin", data[:-1] + bytes([data[-1] ^ 1]))

    with pytest.raises(LakeIntegrityError):
        backend.lake.read("big.bin")


def test_a_file_whose_recorded_hash_was_removed_is_not_trusted(backend):
    backend.lake.put("a.txt", b"trusted")
    backend.drop_hash("a.txt")

    with pytest.raises(LakeIntegrityError):
        backend.lake.read("a.txt")
    with pytest.raises(LakeIntegrityError):
        backend.lake.sha256("a.txt")


@pytest.mark.catalogue(16)
def test_concurrent_puts_of_different_bytes_to_one_path_have_exactly_one_winner(backend):
    writers = 8
    payloads = [f"writer {n}\n".encode() * 1000 for n in range(writers)]
    lakes = [backend.new_lake() for _ in range(writers)]
    barrier = threading.Barrier(writers)
    outcomes: list = [None] * writers

    def write(n: int) -> None:
        barrier.wait()
        try:
            outcomes[n] = lakes[n].put("contested.txt", payloads[n])
        except LakeError as exc:
            outcomes[n] = exc

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [n for n, outcome in enumerate(outcomes) if not isinstance(outcome, Exception)]
    assert len(winners) == 1, outcomes
    assert all(isinstance(o, LakeConflict) for n, o in enumerate(outcomes) if n not in winners), outcomes
    assert backend.lake.read("contested.txt") == payloads[winners[0]]
    assert backend.lake.list() == ["contested.txt"]


def test_concurrent_puts_of_identical_bytes_all_succeed_and_one_creates(backend):
    writers = 8
    lakes = [backend.new_lake() for _ in range(writers)]
    barrier = threading.Barrier(writers)
    results: list = [None] * writers

    def write(n: int) -> None:
        barrier.wait()
        results[n] = lakes[n].put("same.txt", b"agreed\n" * 1000)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r.created for r in results) == [False] * (writers - 1) + [True]
    assert {r.sha256 for r in results} == {sha(b"agreed\n" * 1000)}
    assert backend.lake.list() == ["same.txt"]


# --- local specifics -----------------------------------------------------------------------------
def test_local_a_writer_that_died_between_hash_and_file_is_completed_by_a_retry(tmp_path):
    lake = LocalLake(tmp_path)
    (tmp_path / "a.txt.sha256").write_text(sha(b"payload") + "\n")  # the hash got published, the file did not

    assert lake.exists("a.txt") is False
    with pytest.raises(LakeConflict):
        lake.put("a.txt", b"something else")
    assert lake.put("a.txt", b"payload").created is True
    assert lake.read("a.txt") == b"payload"


# --- ADLS specifics ------------------------------------------------------------------------------
@pytest.mark.catalogue(16, 53)
def test_adls_the_write_that_creates_a_lake_path_is_create_only(fake_dfs):
    adls_lake(fake_dfs).put("exports/revenue.csv", b"data")

    to_path = fake_dfs.requests_for(FILESYSTEM, f"{PREFIX}/exports/revenue.csv")
    writes = [r for r in to_path if r.method in {"PUT", "PATCH"}]
    assert writes, "nothing was written to the lake path"
    assert all(r.headers.get("if-none-match") == "*" for r in writes), writes
    assert not [r for r in writes if r.method == "PATCH"]  # the bytes never stream into the lake path itself


def test_adls_a_refused_write_leaves_no_upload_behind(fake_dfs):
    lake = adls_lake(fake_dfs)
    lake.put("a/x.txt", b"1")

    with pytest.raises(LakeConflict):
        lake.put("a/x.txt", b"2")

    stored = sorted(fake_dfs.paths(FILESYSTEM))
    assert stored == ["takeover", "takeover/prod", "takeover/prod/a", "takeover/prod/a/x.txt"]


def test_adls_stores_the_hash_as_file_metadata(fake_dfs):
    adls_lake(fake_dfs).put("a.txt", b"payload")

    assert fake_dfs.paths(FILESYSTEM)[f"{PREFIX}/a.txt"].metadata == {"sha256": sha(b"payload")}


def test_adls_streams_appends_and_ranged_reads_of_at_most_one_chunk(fake_dfs):
    data = os.urandom(ADLS_CHUNK * 3 + 10)
    lake = adls_lake(fake_dfs)
    lake.put("big.bin", data)
    assert lake.read("big.bin") == data

    appends = [r for r in fake_dfs.requests if r.query.get("action") == "append"]
    reads = [r for r in fake_dfs.requests if r.method == "GET" and r.path == f"{PREFIX}/big.bin"]
    assert [int(r.headers["content-length"]) for r in appends] == [ADLS_CHUNK] * 3 + [10]
    assert len(reads) == 4
    assert all(r.headers.get("if-match") for r in reads[1:])  # later chunks must be the same version


def test_adls_list_stays_inside_the_urls_prefix(fake_dfs):
    adls_lake(fake_dfs, "takeover/prod").put("a.txt", b"prod")
    adls_lake(fake_dfs, "takeover/staging").put("a.txt", b"staging")
    adls_lake(fake_dfs, "takeover/prod2").put("b.txt", b"prod2")

    assert adls_lake(fake_dfs, "takeover/prod").list() == ["a.txt"]
    assert adls_lake(fake_dfs, "takeover").list() == ["prod/a.txt", "prod2/b.txt", "staging/a.txt"]
    assert adls_lake(fake_dfs, "").list("takeover/staging") == ["takeover/staging/a.txt"]


def test_adls_list_follows_continuation_pages(fake_dfs):
    paths = [f"many/{n:02}.txt" for n in range(10)]
    lake = adls_lake(fake_dfs)
    for path in paths:
        lake.put(path, path.encode())

    assert lake.list("many") == paths
    assert len([r for r in fake_dfs.requests if r.query.get("resource") == "filesystem"]) > 3


def test_adls_account_key_signs_requests(fake_dfs):
    adls_lake(fake_dfs, account_key=ACCOUNT_KEY).put("a.txt", b"x")

    assert all(r.headers["authorization"].startswith(f"SharedKey {ACCOUNT}:") for r in fake_dfs.requests[1:])


def test_adls_sas_token_is_sent_in_the_query(fake_dfs):
    lake = adls_lake(fake_dfs, sas_token="?sv=2024-11-04&ss=b&srt=co&sp=rwdlac&sig=c2lnbmF0dXJl")

    lake.put("a.txt", b"x")

    assert lake.read("a.txt") == b"x"
    lake_requests = fake_dfs.requests[1:]  # after the fixture's own create-filesystem call
    assert all(r.query.get("sig") == "c2lnbmF0dXJl" for r in lake_requests)
    assert not [r for r in lake_requests if "authorization" in r.headers]


def test_adls_a_url_without_a_filesystem_is_rejected():
    with pytest.raises(LakeError):
        lake_from_url("abfss://account.dfs.core.windows.net/prefix", account_key=ACCOUNT_KEY)
