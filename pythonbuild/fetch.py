"""Fetch pinned sources into the cache through ordered mirrors, verifying size and sha256.

A mirror only decides *where* bytes come from, never whether they are trusted: every file is
checked against the size and sha256 pinned in ``downloads.yml`` before it enters the cache, and a
cached file is re-checked before it is reused.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing, contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Protocol
from urllib.parse import urlsplit

import requests
import urllib3

from .errors import BuildError
from .registry import Source

Log = Callable[[str], None]
Location = str | Path  # an http(s) URL or a local file

CHUNK_SIZE = 1 << 20
# Fail fast on a dead or unreachable host so the next mirror gets its turn; once connected, allow
# slow links a generous gap between chunks.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 60.0


def _log_to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- mirrors ---------------------------------------------------------------------------------


class MirrorUnavailable(Exception):
    """A mirror has nothing to offer for a source; the message says why (e.g. ``not found``)."""


class Mirror(Protocol):
    """A place that may hold a source's bytes. Verification is the caller's job, not the mirror's."""

    name: str

    def candidates(self, source: Source) -> Iterable[Location]:
        """Where the bytes might be, best first; raises MirrorUnavailable when there is nowhere.
        (An iterator is closed once the fetch is done with it, so it may hold files it made.)"""
        ...


@dataclass(frozen=True)
class LocalDirMirror:
    """A directory of already-downloaded files (``--source-dir`` / ``STANDALONE_PYTHON_SOURCES``).

    Files may carry the cache name, the upstream name or Debian's name, so that a directory filled
    by hand, by a browser or by ``apt-get source --download-only`` all work.
    """

    path: Path
    name: str = "local-dir"

    def candidates(self, source: Source) -> list[Location]:
        names = _unique([source.filename, _url_basename(source.url), source.debian_file])
        found: list[Location] = [self.path / n for n in names if (self.path / n).is_file()]
        if not found:
            raise MirrorUnavailable(f"not found in {self.path}")
        return found


@dataclass(frozen=True)
class UpstreamMirror:
    """The project's own download URL (``source.url``)."""

    name: str = "upstream"

    def candidates(self, source: Source) -> list[Location]:
        if not source.upstream_serves_pinned_bytes:
            # Debian repacked the tarball or built the package; upstream's file can never match
            # the pin, so don't waste a download (or a confusing mismatch message) on it.
            if source.is_wheel:
                raise MirrorUnavailable("skipped (pinned bytes are a wheel on the package index)")
            what = "binary package" if source.is_debian_binary_package else "repack"
            raise MirrorUnavailable(f"skipped (pinned bytes are Debian's {what})")
        return [source.url]


@dataclass(frozen=True)
class DebianArchiveMirror:
    """Debian's source archive, at the mirrors this host's apt is configured to use.

    This fetches ``<mirror>/pool/main/<prefix>/<package>/<file>``, which is exactly the request
    ``apt-get source --download-only`` ends up making. Chain of trust: apt would reach that file
    through the signed Release file -> Sources index -> the file's sha256. We skip the first two
    links because we pin the sha256 of the file ourselves (recorded once, when the entry was added
    to ``downloads.yml``) and check it before use; a mirror serving anything else is rejected just
    like a tampered upstream. Mirror URIs come from the host's apt configuration (``apt_root``
    makes it injectable for tests) so that we use whatever mirror, proxy or snapshot the host is
    already set up for.
    """

    apt_root: Path = Path("/")
    name: str = "debian"

    def candidates(self, source: Source) -> list[Location]:
        if not (source.debian_package and source.debian_file):
            raise MirrorUnavailable("no Debian package recorded in downloads.yml")
        uris = debian_archive_uris(self.apt_root)
        if not uris:
            raise MirrorUnavailable(f"no Debian archive in the apt sources under {self._etc_apt}")
        path = pool_path(source.debian_package, source.debian_file)
        return [f"{uri}/{path}" for uri in uris]

    @property
    def _etc_apt(self) -> Path:
        return self.apt_root / "etc" / "apt"


@dataclass(frozen=True)
class PackageIndexMirror:
    """The Python Package Index, as this host's pip is configured to reach it (index, proxy,
    certificates): ``pip download`` of the one pinned wheel file, with its sha256 given to pip
    too (``--require-hashes``). The file is then checked again like any download.

    ``python`` runs pip (tests give another command).
    """

    python: tuple[str, ...] = (sys.executable,)
    name: str = "pypi"

    def candidates(self, source: Source) -> Iterator[Location]:
        if not (source.is_wheel and source.pypi_project and source.pypi_file):
            raise MirrorUnavailable("not a wheel on the package index")
        with tempfile.TemporaryDirectory(prefix="standalone-python-pip-") as scratch:
            wheel = self._download(source, Path(scratch))
            yield wheel

    def _download(self, source: Source, scratch: Path) -> Path:
        assert source.pypi_project and source.pypi_file
        requirements = scratch / "requirements.txt"
        requirements.write_text(
            f"{source.pypi_project}=={source.version} --hash=sha256:{source.sha256}\n"
        )
        command = [*self.python, "-m", "pip", "download", "--quiet", "--no-deps",
                   "--only-binary=:all:", "--require-hashes", "--dest", str(scratch / "wheels"),
                   *wheel_tag_arguments(source.pypi_file), "-r", str(requirements)]  # fmt: skip
        try:
            result = subprocess.run(command, capture_output=True, text=True, check=False)
        except OSError as exc:
            raise MirrorUnavailable(f"cannot run pip: {exc.strerror}") from None
        wheel = scratch / "wheels" / source.pypi_file
        if result.returncode != 0 or not wheel.is_file():
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            raise MirrorUnavailable(
                f"pip download failed: {lines[-1] if lines else f'exit {result.returncode}'}"
            )
        return wheel


def wheel_tag_arguments(file_name: str) -> list[str]:
    """``pip download`` options that select ``file_name``'s tags on any machine: its first
    platform tag, its ABI tag and, for a pure-Python-tagged (``pyN``) wheel, ``py``."""
    parts = file_name.removesuffix(".whl").split("-")
    if len(parts) < 5:
        raise BuildError(f"{file_name} is not a wheel file name (name-version-python-abi-platform)")
    python, abi, platforms = parts[-3:]
    arguments = ["--platform", platforms.split(".")[0], "--abi", abi.split(".")[0]]
    first_python = python.split(".")[0]
    if first_python.startswith("py") and first_python[2:].isdigit():
        arguments += ["--implementation", "py"]
    return arguments


def default_mirrors(source_dir: Path | None) -> list[Mirror]:
    """Cheapest and most trusted first: the user's own files, upstream, Debian, then the
    Python Package Index (for the wheels there)."""
    mirrors: list[Mirror] = []
    if source_dir is not None:
        mirrors.append(LocalDirMirror(source_dir))
    mirrors += [UpstreamMirror(), DebianArchiveMirror(), PackageIndexMirror()]
    return mirrors


def pool_path(package: str, filename: str) -> str:
    """``pool/main/<prefix>/<package>/<filename>``; the prefix follows Debian's pool layout.

    Debian shards the pool by the first letter of the source package, except that ``lib*``
    packages (too many to share ``l/``) use the first four letters: ``libedit`` -> ``libe``.
    Only ``main`` is searched: every package in the registry is DFSG-free.
    """
    prefix = package[:4] if package.startswith("lib") and len(package) > 3 else package[:1]
    return f"pool/main/{prefix}/{package}/{filename}"


# --- apt configuration -----------------------------------------------------------------------

# Codenames and aliases of Debian releases; a suite such as ``bookworm-updates`` counts by its
# codename. Anything else (``nodistro``, ``cloud-sdk-bookworm``, Ubuntu's ``jammy``) is a
# third-party or derivative archive whose pool need not hold Debian's files.
DEBIAN_SUITES = frozenset(
    {
        *("buzz", "rex", "bo", "hamm", "slink", "potato", "woody", "sarge", "etch", "lenny"),
        *("squeeze", "wheezy", "jessie", "stretch", "buster", "bullseye", "bookworm", "trixie"),
        *("forky", "duke", "sid"),
        *("stable", "testing", "unstable", "experimental", "oldstable", "oldoldstable"),
    }
)
_APT_FALSE = frozenset({"no", "false", "off", "0", "without", "disable"})
_ONE_LINE_ENTRY = re.compile(
    r"^(?P<type>deb(?:-src)?)\s+(?:\[[^\]]*\]\s*)?(?P<uri>\S+)\s+(?P<suite>\S+)"
)


@dataclass(frozen=True)
class AptEntry:
    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    enabled: bool = True


def debian_archive_uris(apt_root: Path = Path("/")) -> list[str]:
    """Base URIs of Debian archives in apt's sources, in apt's order, without duplicates."""
    uris: list[str] = []
    for entry in read_apt_sources(apt_root):
        if not _is_debian_archive(entry):
            continue
        for uri in entry.uris:
            uri = uri.rstrip("/")
            if _is_http(uri) and not _is_security_archive(uri) and uri not in uris:
                uris.append(uri)
    return uris


def read_apt_sources(apt_root: Path = Path("/")) -> list[AptEntry]:
    """Entries of ``sources.list`` then ``sources.list.d/*.{list,sources}`` (apt's own order)."""
    etc_apt = apt_root / "etc" / "apt"
    files = [etc_apt / "sources.list"]
    with suppress(OSError):  # no sources.list.d: not an error for apt either
        files += sorted((etc_apt / "sources.list.d").iterdir())
    entries: list[AptEntry] = []
    for path in files:
        if path.suffix not in (".list", ".sources"):
            continue  # apt ignores other names, e.g. "*.disabled" or editor backups
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        entries += (
            parse_deb822_sources(text)
            if path.suffix == ".sources"
            else parse_one_line_sources(text)
        )
    return entries


def parse_one_line_sources(text: str) -> list[AptEntry]:
    """``deb [options] URI suite [components...]`` lines, as in ``/etc/apt/sources.list``."""
    entries = []
    for line in text.splitlines():
        match = _ONE_LINE_ENTRY.match(line.split("#", 1)[0].strip())
        if match:
            entries.append(AptEntry((match["type"],), (match["uri"],), (match["suite"],)))
    return entries


def parse_deb822_sources(text: str) -> list[AptEntry]:
    """Stanzas of a deb822 ``*.sources`` file (``Types:``, ``URIs:``, ``Suites:``, ``Enabled:``)."""
    entries = []
    for fields in _deb822_stanzas(text):
        enabled = fields.get("enabled", "yes").strip().lower() not in _APT_FALSE
        entries.append(
            AptEntry(
                types=tuple(fields.get("types", "").split()),
                uris=tuple(fields.get("uris", "").split()),
                suites=tuple(fields.get("suites", "").split()),
                enabled=enabled,
            )
        )
    return entries


def _deb822_stanzas(text: str) -> Iterator[dict[str, str]]:
    fields: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if fields:
                yield fields
            fields, key = {}, None
        elif line[0] in " \t":
            if key is not None:  # continuation of a multi-line field, e.g. a long URIs: list
                fields[key] += " " + line.strip()
        else:
            name, colon, value = line.partition(":")
            if colon:  # apt rejects malformed lines; ignoring them is enough to find mirrors
                key = name.strip().lower()
                fields[key] = value.strip()
    if fields:
        yield fields


def _is_debian_archive(entry: AptEntry) -> bool:
    if not entry.enabled or not {"deb", "deb-src"} & set(entry.types):
        return False  # deb-src entries point at the same pool, so they count too
    codenames = {
        re.split(r"[-/]", suite, maxsplit=1)[0]
        for suite in entry.suites
        if not suite.endswith("-security")
    }
    return bool(codenames & DEBIAN_SUITES)


def _is_security_archive(uri: str) -> bool:
    # The security archive only carries security updates, never our pinned .orig tarballs.
    return urlsplit(uri).path.rstrip("/").endswith("-security")


def _is_http(uri: str) -> bool:
    # cdrom:, file:, mirror+file: and tor+http: sources need apt's own transports.
    return urlsplit(uri).scheme in ("http", "https")


# --- fetching --------------------------------------------------------------------------------


class _Rejected(Exception):
    """One candidate failed (network error or wrong bytes); the next one is tried."""


class _WriteFailed(Exception):
    """Writing into the cache failed (e.g. disk full): the cache's problem, not the mirror's."""


@dataclass(frozen=True)
class _Received:
    size: int
    sha256: str


def fetch_source(
    source: Source, cache_dir: Path, mirrors: list[Mirror], log: Log = _log_to_stderr
) -> Path:
    """``<cache_dir>/sources/<source.filename>`` holding exactly the pinned bytes.

    Reuses a verified cached file without touching the network; otherwise asks each mirror in
    order. Raises BuildError naming every mirror and why it failed; the cache never holds a
    partial or unverified file.
    """
    sources_dir = cache_dir / "sources"
    target = sources_dir / source.filename
    if _cached_file_is_valid(source, target, log):
        return target
    try:
        sources_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BuildError(
            f"cannot create the cache directory {sources_dir}: {exc.strerror}"
        ) from None

    failures: list[str] = []
    for mirror in mirrors:
        started = time.monotonic()
        try:
            if _fetch_from(mirror, source, target, log, started):
                return target
        except _MirrorFailed as exc:
            failures.append(f"{mirror.name}: {exc}")

    fix_dir = next((m.path for m in mirrors if isinstance(m, LocalDirMirror)), sources_dir)
    raise BuildError(
        f"{source.name} {source.version}: no mirror had the pinned bytes: "
        f"{'; '.join(failures) or 'no mirrors configured'}. "
        f"Fix: put the verified file in {fix_dir} as {source.filename} or check downloads.yml"
    )


class _MirrorFailed(Exception):
    """A mirror had nothing, or nothing that verified; the message says why."""


def _fetch_from(mirror: Mirror, source: Source, target: Path, log: Log, started: float) -> bool:
    """Try ``mirror``'s candidates in turn; True once ``target`` holds the verified bytes."""
    rejections: list[tuple[Location, str]] = []
    try:
        # (closing: a mirror's generator removes what it made for the fetch.)
        candidates = mirror.candidates(source)
        with closing(candidates) if isinstance(candidates, Generator) else nullcontext():
            for location in candidates:
                try:
                    _fetch_into(source, location, target)
                except _Rejected as exc:
                    log(f"fetch {source.name} {source.version} from {mirror.name} failed: {exc}")
                    rejections.append((location, str(exc)))
                    continue
                elapsed = time.monotonic() - started
                log(
                    f"fetch {source.name} {source.version} from {mirror.name}: "
                    f"{_human_size(source.size)} in {elapsed:.1f} s"
                )
                return True
    except MirrorUnavailable as exc:
        raise _MirrorFailed(str(exc)) from None
    raise _MirrorFailed(_summarize(rejections))


def fetch_all(
    sources: Iterable[Source], cache_dir: Path, mirrors: list[Mirror], log: Log = _log_to_stderr
) -> dict[str, Path]:
    """Fetch each source in turn; stops at the first one no mirror can provide."""
    return {source.name: fetch_source(source, cache_dir, mirrors, log) for source in sources}


def _cached_file_is_valid(source: Source, path: Path, log: Log) -> bool:
    if not path.is_file():
        return False
    try:
        with path.open("rb") as f:
            received = _hash_chunks(iter(lambda: f.read(CHUNK_SIZE), b""))
    except OSError as exc:
        raise BuildError(
            f"cannot read cached {path}: {exc.strerror}; delete it and retry"
        ) from None
    problem = _mismatch(source, received)
    if problem is None:
        return True
    # Disk corruption or a hand-edited cache: never build from it, and say why we download again.
    log(f"cached {path} is corrupt ({problem}); deleting it and fetching again")
    path.unlink()
    return False


def _fetch_into(source: Source, location: Location, target: Path) -> None:
    """Download ``location`` next to ``target`` and move it into place only if it verifies."""
    try:
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part"
        )
    except OSError as exc:
        raise BuildError(f"cannot write to {target.parent}: {exc.strerror}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                received = _copy(location, out, limit=source.size)
            except _WriteFailed as exc:
                # Another mirror would not help; stop and let the user free space.
                cause = exc.__cause__
                why = getattr(cause, "strerror", None) or cause
                raise BuildError(f"cannot write to {target.parent}: {why}") from None
            if problem := _mismatch(source, received):
                raise _Rejected(problem)
            try:
                out.flush()
                os.fsync(out.fileno())
            except OSError as exc:
                raise BuildError(f"cannot write to {target.parent}: {exc.strerror}") from None
        # mkstemp creates 0600; cached sources are read by builds that may run as another user.
        tmp.chmod(0o644)
        os.replace(tmp, target)  # atomic: readers see no file or the whole verified file
        _fsync_dir(target.parent)
    except BaseException:
        # Including KeyboardInterrupt: leave nothing half-written in the cache.
        tmp.unlink(missing_ok=True)
        raise


def _copy(location: Location, out: IO[bytes], limit: int) -> _Received:
    """Stream ``location`` into ``out`` while hashing; network and read errors become _Rejected."""
    hasher = hashlib.sha256()
    size = 0
    try:
        with _open_chunks(location) as chunks:
            for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    # Don't download a huge wrong file (e.g. an HTML error page loop) to the end.
                    raise _Rejected(f"larger than the pinned {limit} bytes")
                hasher.update(chunk)
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise _WriteFailed(exc) from exc
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise _Rejected(_describe_error(exc)) from None
    return _Received(size, hasher.hexdigest())


@contextmanager
def _open_chunks(location: Location) -> Iterator[Iterator[bytes]]:
    if isinstance(location, Path):
        with location.open("rb") as f:
            yield iter(lambda: f.read(CHUNK_SIZE), b"")
        return
    with requests.get(
        location,
        stream=True,
        timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
        # We want the file's bytes as stored, never a transfer-compressed variant of them.
        headers={"Accept-Encoding": "identity"},
    ) as response:
        response.raise_for_status()
        # Read raw bytes: some servers label .tar.gz files "Content-Encoding: gzip", and
        # requests' iter_content would then hand us the decompressed tar instead of the file.
        yield response.raw.stream(CHUNK_SIZE, decode_content=False)


def _hash_chunks(chunks: Iterable[bytes]) -> _Received:
    hasher = hashlib.sha256()
    size = 0
    for chunk in chunks:
        hasher.update(chunk)
        size += len(chunk)
    return _Received(size, hasher.hexdigest())


def _mismatch(source: Source, received: _Received) -> str | None:
    if received.sha256 == source.sha256 and received.size == source.size:
        return None
    return (
        f"sha256 mismatch (expected {_short(source.sha256)}, {source.size} bytes; "
        f"got {_short(received.sha256)}, {received.size} bytes)"
    )


# Substrings of the (nested, platform-dependent) socket error text, mapped to a short reason.
_CONNECTION_REASONS = (
    ("NameResolutionError", "name resolution"),
    ("Name or service not known", "name resolution"),
    ("Temporary failure in name resolution", "name resolution"),
    ("nodename nor servname", "name resolution"),
    ("getaddrinfo failed", "name resolution"),
    ("Connection refused", "refused"),
    ("Network is unreachable", "network unreachable"),
    ("No route to host", "no route to host"),
    ("Connection reset", "reset"),
)


def _describe_error(exc: BaseException) -> str:
    """A few words for the one-line error; the full traceback would not help the user."""
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason or ''}".rstrip()
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed (certificate or proxy problem)"
    if isinstance(exc, requests.exceptions.ProxyError):
        return "connection failed (proxy)"
    if isinstance(exc, requests.ConnectTimeout):
        return f"connection failed (timed out after {CONNECT_TIMEOUT:g} s)"
    if isinstance(exc, requests.ReadTimeout | urllib3.exceptions.ReadTimeoutError):
        return f"stalled for {READ_TIMEOUT:g} s mid-download"
    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        why = next((reason for needle, reason in _CONNECTION_REASONS if needle in text), None)
        return f"connection failed ({why})" if why else "connection failed"
    if isinstance(exc, urllib3.exceptions.HTTPError | requests.RequestException):
        return "connection broken mid-download"
    if isinstance(exc, OSError):
        return f"cannot read: {exc.strerror or exc}"
    return str(exc)


def _summarize(rejections: list[tuple[Location, str]]) -> str:
    if len(rejections) == 1:
        return rejections[0][1]
    return "[" + ", ".join(f"{location}: {why}" for location, why in rejections) + "]"


def _fsync_dir(path: Path) -> None:
    # Make the rename itself durable, so a crash can't leave a cache entry pointing nowhere.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _human_size(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    if size >= 1_000:
        return f"{size / 1_000:.1f} kB"
    return f"{size} bytes"


def _short(sha256: str) -> str:
    return sha256[:12] + "…"


def _url_basename(url: str) -> str:
    return PurePosixPath(urlsplit(url).path).name


def _unique(names: Iterable[str | None]) -> list[str]:
    result: list[str] = []
    for name in names:
        if name and name not in result:
            result.append(name)
    return result
