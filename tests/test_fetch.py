"""pythonbuild.fetch against a local HTTP server standing in for upstream and a Debian pool."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import socket
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pythonbuild import fetch
from pythonbuild.errors import BuildError
from pythonbuild.fetch import (
    DebianArchiveMirror,
    LocalDirMirror,
    UpstreamMirror,
    debian_archive_uris,
    default_mirrors,
    fetch_all,
    fetch_source,
    parse_deb822_sources,
    parse_one_line_sources,
    pool_path,
)
from pythonbuild.registry import Source

UPSTREAM_NAME = "demo-1.0.tar.gz"
DEBIAN_PACKAGE = "libdemo"
DEBIAN_FILE = "libdemo_1.0.orig.tar.gz"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy from the environment would send our 127.0.0.1 requests elsewhere.
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


@dataclass
class FakeServer:
    """Serves ``root``: ``upstream/<file>`` and ``debian/pool/...``; records request paths."""

    root: Path
    httpd: ThreadingHTTPServer
    thread: threading.Thread
    requests: list[str] = field(default_factory=list)
    gzip_label: bool = False

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


class _Handler(SimpleHTTPRequestHandler):
    fake: FakeServer

    def do_GET(self) -> None:
        self.server.fake.requests.append(self.path)  # type: ignore[attr-defined]
        super().do_GET()

    def end_headers(self) -> None:
        # Some real servers mislabel .tar.gz files this way; the stored bytes must not change.
        if self.server.fake.gzip_label and self.path.endswith(".tar.gz"):  # type: ignore[attr-defined]
            self.send_header("Content-Encoding", "gzip")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FakeServer]:
    root = tmp_path / "www"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    fake = FakeServer(root, httpd, thread)
    httpd.fake = fake  # type: ignore[attr-defined]
    thread.start()
    yield fake
    if thread.is_alive():
        fake.stop()


@pytest.fixture
def tarball() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = b"demo sources\n" * 100
        info = tarfile.TarInfo("demo-1.0/README")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def make_source(tarball: bytes, base_url: str, origin: str = "upstream") -> Source:
    return Source(
        name="demo",
        version="1.0",
        url=f"{base_url}/upstream/{UPSTREAM_NAME}",
        size=len(tarball),
        sha256=hashlib.sha256(tarball).hexdigest(),
        origin=origin,
        licenses=("MIT",),
        license_file="LICENSE",
        debian_package=DEBIAN_PACKAGE,
        debian_file=DEBIAN_FILE,
    )


def publish_upstream(server: FakeServer, data: bytes) -> None:
    (server.root / "upstream").mkdir(exist_ok=True)
    (server.root / "upstream" / UPSTREAM_NAME).write_bytes(data)


def publish_debian(server: FakeServer, data: bytes) -> None:
    path = server.root / "debian" / pool_path(DEBIAN_PACKAGE, DEBIAN_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def fake_apt_root(tmp_path: Path, debian_uri: str) -> Path:
    root = tmp_path / "aptroot"
    sources_d = root / "etc" / "apt" / "sources.list.d"
    sources_d.mkdir(parents=True)
    (sources_d / "debian.sources").write_text(
        f"Types: deb\nURIs: {debian_uri}\nSuites: bookworm bookworm-updates\nComponents: main\n"
    )
    return root


@pytest.fixture
def mirrors(tmp_path: Path, server: FakeServer) -> list:
    local = tmp_path / "local"
    local.mkdir()
    apt_root = fake_apt_root(tmp_path, f"{server.url}/debian")
    return [LocalDirMirror(local), UpstreamMirror(), DebianArchiveMirror(apt_root=apt_root)]


def cache_listing(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / "sources").iterdir())


# --- fetching --------------------------------------------------------------------------------


def test_good_fetch_via_upstream(tmp_path, server, mirrors, tarball):
    publish_upstream(server, tarball)
    source = make_source(tarball, server.url)
    log: list[str] = []

    path = fetch_source(source, tmp_path / "cache", mirrors, log.append)

    assert path == tmp_path / "cache" / "sources" / UPSTREAM_NAME
    assert path.read_bytes() == tarball
    assert cache_listing(tmp_path / "cache") == [UPSTREAM_NAME]
    assert len(log) == 1
    assert log[0].startswith("fetch demo 1.0 from upstream: ")
    assert log[0].endswith(" s")


def test_cached_file_reused_without_network(tmp_path, server, mirrors, tarball):
    publish_upstream(server, tarball)
    source = make_source(tarball, server.url)
    first = fetch_source(source, tmp_path / "cache", mirrors, lambda _: None)
    server.stop()
    log: list[str] = []

    assert fetch_source(source, tmp_path / "cache", mirrors, log.append) == first
    assert log == []
    assert first.read_bytes() == tarball


def test_corrupt_everywhere_names_each_mirror_and_leaves_nothing(
    tmp_path, server, mirrors, tarball
):
    bad = b"not the pinned bytes"
    publish_upstream(server, bad)
    publish_debian(server, bad)
    source = make_source(tarball, server.url)
    cache = tmp_path / "cache"

    with pytest.raises(BuildError) as excinfo:
        fetch_source(source, cache, mirrors, lambda _: None)

    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith("demo 1.0: no mirror had the pinned bytes: local-dir: not found")
    bad_sha = hashlib.sha256(bad).hexdigest()
    expected = (
        f"sha256 mismatch (expected {source.sha256[:12]}…, {source.size} bytes; "
        f"got {bad_sha[:12]}…, {len(bad)} bytes)"
    )
    assert f"; upstream: {expected}; debian: {expected}." in message
    assert f"Fix: put the verified file in {tmp_path / 'local'} as {UPSTREAM_NAME}" in message
    assert cache_listing(cache) == []


def test_falls_through_to_debian_pool(tmp_path, server, mirrors, tarball):
    publish_upstream(server, b"upstream re-rolled its tarball")
    publish_debian(server, tarball)
    source = make_source(tarball, server.url)
    log: list[str] = []

    path = fetch_source(source, tmp_path / "cache", mirrors, log.append)

    assert path.read_bytes() == tarball
    assert "from upstream failed: sha256 mismatch" in log[0]
    assert log[-1].startswith("fetch demo 1.0 from debian: ")
    assert f"/debian/pool/main/libd/{DEBIAN_PACKAGE}/{DEBIAN_FILE}" in server.requests
    assert cache_listing(tmp_path / "cache") == [UPSTREAM_NAME]


def test_corrupt_cached_file_is_refetched(tmp_path, server, mirrors, tarball):
    publish_upstream(server, tarball)
    source = make_source(tarball, server.url)
    cached = tmp_path / "cache" / "sources" / UPSTREAM_NAME
    cached.parent.mkdir(parents=True)
    corrupt = bytearray(tarball)
    corrupt[len(corrupt) // 2] ^= 0xFF  # same size, one byte flipped
    cached.write_bytes(corrupt)
    log: list[str] = []

    assert fetch_source(source, tmp_path / "cache", mirrors, log.append) == cached
    assert cached.read_bytes() == tarball
    assert "is corrupt" in log[0]
    assert "deleting it and fetching again" in log[0]
    assert log[1].startswith("fetch demo 1.0 from upstream: ")


def test_debian_repack_skips_upstream(tmp_path, server, mirrors, tarball):
    publish_upstream(server, tarball)  # would match, but must not even be asked
    publish_debian(server, tarball)
    source = make_source(tarball, server.url, origin="debian-repack")

    path = fetch_source(source, tmp_path / "cache", mirrors, lambda _: None)

    assert path.name == DEBIAN_FILE  # Debian's bytes are cached under Debian's name
    assert not any(p.startswith("/upstream/") for p in server.requests)


def test_debian_repack_error_says_upstream_skipped(tmp_path, server, mirrors, tarball):
    source = make_source(tarball, server.url, origin="debian-repack")
    with pytest.raises(
        BuildError,
        match=r"upstream: skipped \(pinned bytes are Debian's repack\); debian: HTTP 404",
    ):
        fetch_source(source, tmp_path / "cache", mirrors, lambda _: None)


@pytest.mark.parametrize("local_name", [UPSTREAM_NAME, DEBIAN_FILE])
def test_local_dir_wins_first(tmp_path, server, mirrors, tarball, local_name):
    publish_upstream(server, tarball)
    (tmp_path / "local" / local_name).write_bytes(tarball)
    source = make_source(tarball, server.url)
    log: list[str] = []

    path = fetch_source(source, tmp_path / "cache", mirrors, log.append)

    assert path.read_bytes() == tarball
    assert server.requests == []
    assert log[0].startswith("fetch demo 1.0 from local-dir: ")


def test_connection_refused_is_reported(tmp_path, tarball):
    with socket.socket() as sock:  # a port nobody listens on once the socket closes
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = make_source(tarball, f"http://127.0.0.1:{port}")
    with pytest.raises(BuildError, match=r"upstream: connection failed \(refused\)"):
        fetch_source(source, tmp_path / "cache", [UpstreamMirror()], lambda _: None)
    assert cache_listing(tmp_path / "cache") == []


def test_oversized_download_is_cut_short(tmp_path, server, tarball):
    publish_upstream(server, tarball * 3)
    source = make_source(tarball, server.url)
    with pytest.raises(BuildError, match=f"upstream: larger than the pinned {len(tarball)} bytes"):
        fetch_source(source, tmp_path / "cache", [UpstreamMirror()], lambda _: None)
    assert cache_listing(tmp_path / "cache") == []


def test_bytes_stored_verbatim_despite_content_encoding_label(tmp_path, server, tarball):
    server.gzip_label = True
    publish_upstream(server, tarball)
    source = make_source(tarball, server.url)
    path = fetch_source(source, tmp_path / "cache", [UpstreamMirror()], lambda _: None)
    assert path.read_bytes() == tarball


def test_full_disk_stops_without_trying_other_mirrors(
    tmp_path, server, mirrors, tarball, monkeypatch
):
    publish_upstream(server, tarball)
    publish_debian(server, tarball)
    real_fdopen = os.fdopen

    class FullDisk(io.FileIO):
        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fdopen(fd, mode="r", *args, **kwargs):
        return FullDisk(fd, "wb") if "w" in mode else real_fdopen(fd, mode, *args, **kwargs)

    monkeypatch.setattr(fetch.os, "fdopen", fdopen)
    source = make_source(tarball, server.url)
    with pytest.raises(BuildError, match=r"cannot write to .*: No space left on device"):
        fetch_source(source, tmp_path / "cache", mirrors, lambda _: None)
    assert cache_listing(tmp_path / "cache") == []
    assert not any(p.startswith("/debian/") for p in server.requests)


def test_no_mirrors_at_all(tmp_path, tarball):
    source = make_source(tarball, "http://127.0.0.1:9")
    with pytest.raises(BuildError, match=r"no mirrors configured\. Fix: put the verified file in"):
        fetch_source(source, tmp_path / "cache", [], lambda _: None)


def test_fetch_all(tmp_path, server, mirrors, tarball):
    publish_upstream(server, tarball)
    one = make_source(tarball, server.url)
    two = replace(one, name="other")
    result = fetch_all([one, two], tmp_path / "cache", mirrors, lambda _: None)
    assert result == {
        "demo": tmp_path / "cache" / "sources" / UPSTREAM_NAME,
        "other": result["demo"],
    }


def test_default_mirrors_order(tmp_path):
    assert [m.name for m in default_mirrors(tmp_path)] == ["local-dir", "upstream", "debian", "pypi"]
    assert [m.name for m in default_mirrors(None)] == ["upstream", "debian", "pypi"]


# --- Debian pool and apt configuration -------------------------------------------------------


def test_pool_path_prefix():
    assert pool_path("libedit", "f.tar.gz") == "pool/main/libe/libedit/f.tar.gz"
    assert pool_path("openssl", "f.tar.gz") == "pool/main/o/openssl/f.tar.gz"
    assert pool_path("libzstd", "f") == "pool/main/libz/libzstd/f"
    assert pool_path("python3.13", "f") == "pool/main/p/python3.13/f"


DEB822 = """\
Types: deb
# a snapshot URI, commented out
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: https://thirdparty.example/node_20.x
Suites: nodistro
Components: main

Types: deb deb-src
URIs: http://disabled.example/debian
Suites: trixie
Components: main
Enabled: no

Types: deb-src
URIs: http://second.example/debian
 http://third.example/debian
Suites: sid
Components: main
"""

ONE_LINE = """\
# deb http://commented.example/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] https://cloud.example/apt cloud-sdk-bookworm main
deb [ arch=amd64 ] http://oneline.example/debian trixie main contrib  # trailing comment
deb http://oneline.example/debian-security trixie-security main
deb http://ubuntu.example/ubuntu jammy main
deb-src http://mirror.example/debian/ stable main
deb cdrom:[Debian_12]/ bookworm main
"""


def test_parse_deb822():
    entries = parse_deb822_sources(DEB822)
    assert [e.uris for e in entries] == [
        ("http://mirror.example/debian/",),
        ("http://mirror.example/debian-security",),
        ("https://thirdparty.example/node_20.x",),
        ("http://disabled.example/debian",),
        ("http://second.example/debian", "http://third.example/debian"),
    ]
    assert entries[0].suites == ("bookworm", "bookworm-updates")
    assert [e.enabled for e in entries] == [True, True, True, False, True]


def test_parse_one_line():
    entries = parse_one_line_sources(ONE_LINE)
    assert [(e.types[0], e.uris[0], e.suites[0]) for e in entries] == [
        ("deb", "https://cloud.example/apt", "cloud-sdk-bookworm"),
        ("deb", "http://oneline.example/debian", "trixie"),
        ("deb", "http://oneline.example/debian-security", "trixie-security"),
        ("deb", "http://ubuntu.example/ubuntu", "jammy"),
        ("deb-src", "http://mirror.example/debian/", "stable"),
        ("deb", "cdrom:[Debian_12]/", "bookworm"),
    ]


def test_debian_archive_uris_from_apt_config(tmp_path):
    etc_apt = tmp_path / "etc" / "apt"
    (etc_apt / "sources.list.d").mkdir(parents=True)
    (etc_apt / "sources.list").write_text(ONE_LINE)
    (etc_apt / "sources.list.d" / "debian.sources").write_text(DEB822)
    (etc_apt / "sources.list.d" / "old.list.disabled").write_text(
        "deb http://ignored.example/debian sid main\n"
    )

    # sources.list first, then sources.list.d in name order; duplicates and non-Debian dropped.
    assert debian_archive_uris(tmp_path) == [
        "http://oneline.example/debian",
        "http://mirror.example/debian",
        "http://second.example/debian",
        "http://third.example/debian",
    ]


def test_no_apt_config(tmp_path, tarball):
    mirror = DebianArchiveMirror(apt_root=tmp_path)
    source = make_source(tarball, "http://127.0.0.1:9")
    with pytest.raises(BuildError, match="debian: no Debian archive in the apt sources under"):
        fetch_source(source, tmp_path / "cache", [mirror], lambda _: None)
