"""Deterministic distribution archives: writing, naming, checksumming and safe reading.

Two builds of the same tree must produce the same bytes, whatever the umask, the real file
times, the order the file system lists entries in, or who ran the build.  So every member
header is built here from a small set of facts (name, type, size, link target, one of two
modes) and everything else is fixed.

Layout follows python-build-standalone (PBS):

* full archive ``cpython-{version}+{tag}-{triple}-{options}-full.tar.zst``: ``python/PYTHON.json``
  is the very first member (PBS tooling such as its install_only converter reads it before
  anything else), then ``python/install/``, ``python/build/``, ``python/licenses/``.
* ``install_only`` / ``install_only_stripped`` ``.tar.gz``: ``python/`` *is* the installation
  (the full archive's ``python/install/`` contents); there is no PYTHON.json.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import zstandard

from ..errors import BuildError

# The member groups of a full archive, in archive order (see the module docstring).
# The optimization whose install_only archives carry PBS's plain names.
PUBLISHED_OPTIMIZATION = "pgo+lto"
FULL_ARCHIVE_GROUPS = ("PYTHON.json", "install", "build", "licenses")

# Level 19 compresses a ~100 MB tree in roughly 35-45 s on 2 cores and is ~10% smaller than
# level 15.  zstd's multi-threaded mode gives byte-identical output for every worker count
# >= 1 and for any sizes of the writes fed to it (checked with 1, 2 and 4 workers); threads=0
# selects the single-threaded code path, whose (equally valid) frames differ.  So the worker
# count may follow the machine, but must never be 0.
ZSTD_LEVEL = 19
ZSTD_THREADS = max(1, min(os.cpu_count() or 1, 8))
GZIP_LEVEL = 6  # zlib's default: level 9 costs twice the time for about 1% less

# PAX is the POSIX format and Python's default.  It stays deterministic here because every
# numeric field is an integer that fits the ustar header and owner names are empty, so the only
# extended records ever written are ``path``/``linkpath`` for long or non-ASCII names; never
# atime/ctime, which only come from a TarInfo's pax_headers, which we never set.
TAR_FORMAT = tarfile.PAX_FORMAT

DIR_MODE = 0o755
EXECUTABLE_MODE = 0o755
FILE_MODE = 0o644
SYMLINK_MODE = 0o777

SHA256SUMS = "SHA256SUMS"

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20

Exclude = Callable[[PurePosixPath], bool]


# ---------------------------------------------------------------------------------------------
# Names


def archive_name(
    *,
    python_version: str,
    release_tag: str,
    triple: str,
    options: str,
    flavor: str = "full",
) -> str:
    """The PBS file name of a distribution.

    ``options`` is the build-options spelling (``BuildOptions.name``, e.g. ``pgo+lto`` or
    ``freethreaded+noopt``).  ``flavor`` is ``full`` (a ``.tar.zst`` named after the options),
    ``install_only`` or ``install_only_stripped`` (a ``.tar.gz``).  PBS publishes install_only
    archives of its ``pgo+lto`` builds only and names them by an optional ``freethreaded-`` infix;
    consumers that pick ``-install_only`` expect that build.  Other options keep their spelling in
    the name (``-noopt-install_only``) so they never pass for it, nor overwrite it in one dist/.
    """
    for label, value in (
        ("python_version", python_version),
        ("release_tag", release_tag),
        ("triple", triple),
        ("options", options),
    ):
        if not value or re.search(r"[\s/]", value):
            raise ValueError(f"{label} {value!r} cannot be part of an archive name")
    if "-" in python_version or "+" in python_version:
        raise ValueError(f"python_version {python_version!r} must not contain '-' or '+'")
    if "-" in release_tag or "+" in release_tag:
        raise ValueError(f"release_tag {release_tag!r} must not contain '-' or '+'")
    stem = f"cpython-{python_version}+{release_tag}-{triple}"
    if flavor == "full":
        return f"{stem}-{options}-full.tar.zst"
    if flavor in ("install_only", "install_only_stripped"):
        if options == PUBLISHED_OPTIMIZATION:
            return f"{stem}-{flavor}.tar.gz"
        if options == f"freethreaded+{PUBLISHED_OPTIMIZATION}":
            return f"{stem}-freethreaded-{flavor}.tar.gz"
        return f"{stem}-{options}-{flavor}.tar.gz"
    raise ValueError(f"unknown archive flavor {flavor!r}")


# File-name endings of each flavor, as archive_name writes them.
_FLAVOR_SUFFIXES = (
    ("full", "-full.tar.zst"),
    ("install_only_stripped", "-install_only_stripped.tar.gz"),
    ("install_only", "-install_only.tar.gz"),
)


def parse_archive_name(name: str, triples: Iterable[str] | None = None) -> dict[str, str]:
    """The inverse of archive_name: ``archive_name(**parse_archive_name(n)) == n``.

    Returns archive_name's keyword arguments.  Triples contain dashes and so do option-less
    install_only names, so the name is matched against the known triples (``triples``, default:
    targets.yml) and option names instead of being split at dashes.  Raises ValueError naming
    what does not fit.
    """
    # Imported here: only this parser needs the targets table (and its YAML reader).
    from ..options import all_option_names
    from ..targets import load_targets

    if not name.startswith("cpython-"):
        raise ValueError(f"{name!r} does not start with 'cpython-'")
    matches = [(flavor, suffix) for flavor, suffix in _FLAVOR_SUFFIXES if name.endswith(suffix)]
    if not matches:
        endings = ", ".join(repr(suffix) for _, suffix in _FLAVOR_SUFFIXES)
        raise ValueError(f"{name!r} does not end in one of {endings}")
    flavor, suffix = matches[0]
    version_tag, _, rest = name.removeprefix("cpython-").removesuffix(suffix).partition("-")
    python_version, plus, release_tag = version_tag.partition("+")
    if not plus or not python_version or not release_tag or "+" in release_tag:
        raise ValueError(f"{name!r} does not start with 'cpython-<version>+<tag>-'")
    known = sorted(load_targets() if triples is None else triples, key=len, reverse=True)
    triple = next((t for t in known if rest == t or rest.startswith(f"{t}-")), None)
    if triple is None:
        raise ValueError(f"{name!r} names no known target ({', '.join(sorted(known))})")
    spelled = rest.removeprefix(triple).removeprefix("-")
    if flavor == "full":
        options = spelled
    elif spelled == "":
        options = PUBLISHED_OPTIMIZATION
    elif spelled == "freethreaded":
        options = f"freethreaded+{PUBLISHED_OPTIMIZATION}"
    else:
        # archive_name never spells out the published optimization in install_only names.
        published = (PUBLISHED_OPTIMIZATION, f"freethreaded+{PUBLISHED_OPTIMIZATION}")
        options = "" if spelled in published else spelled
    if options not in all_option_names():
        raise ValueError(f"{name!r}: unknown build options {spelled!r}")
    return {
        "python_version": python_version,
        "release_tag": release_tag,
        "triple": triple,
        "options": options,
        "flavor": flavor,
    }


# ---------------------------------------------------------------------------------------------
# Atomic output


@contextmanager
def atomic_output(dest: Path) -> Iterator[BinaryIO]:
    """Yield a file that becomes ``dest`` only if the block finishes without an exception.

    The data goes to a hidden temporary file in the same directory (so the final rename stays
    on one file system and is atomic), is fsynced, then renamed over ``dest``.  On any error,
    KeyboardInterrupt included, the temporary file is removed and ``dest`` is left as it was.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600; published artifacts are meant to be world-readable.
        tmp.chmod(FILE_MODE)
        tmp.replace(dest)
    except BaseException:
        with suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_directory(dest.parent)


def _fsync_directory(path: Path) -> None:
    # Makes the rename itself durable; not every file system allows opening a directory.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# Writing


def write_distribution_archive(
    src_root: Path,
    dest: Path,
    *,
    top: str = "python",
    group_order: Iterable[str] | None = None,
    mtime: int,
    exclude: Exclude | None = None,
) -> Path:
    """Archive the contents of ``src_root`` under ``top/`` into ``dest`` (.tar.zst or .tar.gz).

    Members come in ``group_order`` (names of entries directly inside ``src_root``; missing
    ones are skipped), then any other top-level entries by name.  Inside a group, members are
    sorted by path (code point order, like ``LC_ALL=C sort``), which puts every directory
    before its contents.  The ``top/`` directory itself gets no
    member so that the first member can be ``python/PYTHON.json`` as PBS consumers expect.

    ``mtime`` (SOURCE_DATE_EPOCH) is every member's mtime.  ``exclude`` gets paths relative to
    ``src_root``; an excluded directory is skipped with everything in it.
    """
    if isinstance(mtime, bool) or not isinstance(mtime, int) or not 0 <= mtime < 8**11:
        raise ValueError(f"mtime must be a non-negative integer timestamp, not {mtime!r}")
    if not top or top.startswith("/") or ".." in PurePosixPath(top).parts:
        raise ValueError(f"top {top!r} must be a relative archive path")
    if not src_root.is_dir():
        raise BuildError(f"cannot archive {src_root}: not a directory")
    if dest.absolute().resolve().is_relative_to(src_root.resolve()):
        raise ValueError(f"the archive {dest} must not be written inside {src_root}")
    members = list(_ordered_members(src_root, list(group_order or ()), exclude))
    if not members:
        raise BuildError(f"cannot archive {src_root}: it is empty")
    compression = _compression_for(dest)
    with atomic_output(dest) as raw:
        if compression == "zst":
            compressor = zstandard.ZstdCompressor(
                level=ZSTD_LEVEL, threads=ZSTD_THREADS, write_checksum=True
            )
            with compressor.stream_writer(raw, closefd=False) as stream:
                _write_tar(stream, src_root, members, top, mtime)
        else:
            # filename="" keeps the file name out of the gzip header, mtime=0 keeps time out.
            with gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0
            ) as stream:
                _write_tar(stream, src_root, members, top, mtime)
    return dest


def write_install_only_archive(
    stage_root: Path, dest: Path, *, mtime: int, exclude: Exclude | None = None
) -> Path:
    """The install_only layout: ``stage_root/install`` becomes ``python/``; no PYTHON.json.

    PBS also leaves the static libpython and the stdlib test packages out of install_only
    archives; pass ``exclude`` to do the same.
    """
    return write_distribution_archive(
        stage_root / "install", dest, top="python", mtime=mtime, exclude=exclude
    )


def _compression_for(path: Path) -> str:
    name = path.name
    if name.endswith(".tar.zst"):
        return "zst"
    if name.endswith(".tar.gz"):
        return "gz"
    raise BuildError(f"{path}: unsupported archive type; expected a .tar.zst or .tar.gz name")


def _ordered_members(
    src_root: Path, group_order: list[str], exclude: Exclude | None
) -> Iterator[PurePosixPath]:
    """Relative paths in archive order."""
    for name in group_order:
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"group {name!r} must name an entry directly inside the root")
    present = sorted(entry.name for entry in os.scandir(src_root))
    ordered = [n for n in group_order if n in present]
    ordered += [n for n in present if n not in group_order]
    for name in ordered:
        # Plain string order; a directory's path is a prefix of its contents' paths, so it
        # sorts first (though "pip-1.0.dist-info" lands between "pip" and "pip/x").
        yield from sorted(_walk(src_root, PurePosixPath(name), exclude), key=PurePosixPath.as_posix)


def _walk(src_root: Path, rel: PurePosixPath, exclude: Exclude | None) -> Iterator[PurePosixPath]:
    if exclude is not None and exclude(rel):
        return
    yield rel
    path = src_root / rel
    if path.is_dir() and not path.is_symlink():
        for entry in os.scandir(path):
            yield from _walk(src_root, rel / entry.name, exclude)


def _write_tar(
    stream: BinaryIO, src_root: Path, members: list[PurePosixPath], top: str, mtime: int
) -> None:
    with tarfile.open(fileobj=stream, mode="w|", format=TAR_FORMAT) as tar:
        for rel in members:
            path = src_root / rel
            info = _member_info(path, rel, f"{top}/{rel}", mtime)
            if info.isreg():
                with path.open("rb") as content:
                    tar.addfile(info, content)
            else:
                tar.addfile(info)


def _member_info(path: Path, rel: PurePosixPath, arcname: str, mtime: int) -> tarfile.TarInfo:
    """A header holding only what matters; see the module docstring."""
    st = path.lstat()
    info = tarfile.TarInfo(arcname)
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(path)
        _check_link_stays_inside(path, rel, target)
        info.type = tarfile.SYMTYPE
        info.linkname = target
        info.mode = SYMLINK_MODE
    elif stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        info.mode = DIR_MODE
    elif stat.S_ISREG(st.st_mode):
        # Hard links are stored as independent regular files: a link member only works when its
        # target is in the same archive, and install_only archives are subsets of the full one.
        info.type = tarfile.REGTYPE
        info.size = st.st_size
        info.mode = EXECUTABLE_MODE if st.st_mode & 0o111 else FILE_MODE
    else:
        raise BuildError(
            f"cannot archive {path}: special files (devices, FIFOs, sockets) are not allowed"
        )
    return info


def _check_link_stays_inside(path: Path, rel: PurePosixPath, target: str) -> None:
    # A distribution must work wherever it is unpacked, so links may only point inside it.
    if target.startswith("/"):
        raise BuildError(f"cannot archive {path}: symlink to absolute path {target!r}")
    resolved = os.path.normpath(os.path.join(os.path.dirname(rel.as_posix()), target))
    if resolved == ".." or resolved.startswith("../"):
        raise BuildError(f"cannot archive {path}: symlink {target!r} points outside the tree")


# ---------------------------------------------------------------------------------------------
# Checksums


def write_sha256sums(dist_dir: Path, files: Iterable[Path | str]) -> Path:
    """Record ``files`` (in ``dist_dir``) in ``dist_dir/SHA256SUMS``; return that path.

    Lines are ``<hex>  <name>`` (``sha256sum -c`` format) sorted by name.  Entries already in
    the file for other names are kept if those files still exist in ``dist_dir``, and dropped
    otherwise so that ``sha256sum -c SHA256SUMS`` keeps passing.
    """
    sums_path = dist_dir / SHA256SUMS
    entries = {
        name: digest
        for name, digest in read_sha256sums(sums_path).items()
        if (dist_dir / name).is_file()
    }
    for item in files:
        name = _name_in(dist_dir, item)
        if name == SHA256SUMS:
            raise ValueError(f"{SHA256SUMS} cannot list itself")
        entries[name] = sha256_file(dist_dir / name)
    with atomic_output(sums_path) as out:
        out.write("".join(f"{entries[name]}  {name}\n" for name in sorted(entries)).encode())
    return sums_path


def _name_in(dist_dir: Path, item: Path | str) -> str:
    """A bare name means a file in ``dist_dir``; a path must point into ``dist_dir``."""
    path = Path(item)
    if len(path.parts) == 1 and not path.is_absolute():
        return path.name
    if path.absolute().parent.resolve() != dist_dir.resolve():
        raise ValueError(f"{item} is not in {dist_dir}")
    return path.name


def read_sha256sums(path: Path, *, fix: str = "fix or delete the file") -> dict[str, str]:
    """name -> sha256 of a SHA256SUMS file (empty when there is none); ``fix`` ends the error
    line for a malformed line."""
    if not path.exists():
        return {}
    entries = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        match = re.fullmatch(r"([0-9a-f]{64}) [ *](\S.*)", line)
        if not match:
            raise BuildError(f"{path}:{number}: not a '<sha256>  <name>' line; {fix}")
        entries[match.group(2)] = match.group(1)
    return entries


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while block := handle.read(_CHUNK):
                digest.update(block)
    except FileNotFoundError:
        raise BuildError(f"cannot checksum {path}: no such file") from None
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Reading


class _ZstdReader(io.RawIOBase):
    """Decompresses a .zst file and, unlike zstandard's stream_reader, fails on truncation."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._decompressor = zstandard.ZstdDecompressor().decompressobj()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._pending:
            compressed = self._raw.read(_CHUNK)
            if not compressed:
                if not self._decompressor.eof:
                    raise _ArchiveDamaged("the zstd stream ends early")
                return 0
            if self._decompressor.eof:
                # Concatenated frames are valid zstd; start a fresh decompressor for each.
                self._decompressor = zstandard.ZstdDecompressor().decompressobj()
            self._pending = self._decompressor.decompress(compressed)
            while self._decompressor.eof and self._decompressor.unused_data:
                rest = self._decompressor.unused_data
                self._decompressor = zstandard.ZstdDecompressor().decompressobj()
                self._pending += self._decompressor.decompress(rest)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


class _ArchiveDamaged(Exception):
    """Raised inside the readers; turned into a BuildError naming the archive."""


class _MemberRefused(Exception):
    """A member that could write outside the extraction directory."""


class _CheckedTarFile(tarfile.TarFile):
    """A TarFile that refuses, while reading, members that could write outside the target."""

    def next(self) -> tarfile.TarInfo | None:
        member = super().next()
        if member is not None:
            symlinks: set[str] = self.__dict__.setdefault("_symlink_names", set())
            _check_member(member, symlinks)
        return member


def _check_member(member: tarfile.TarInfo, symlinks: set[str]) -> None:
    name = member.name
    parts = PurePosixPath(name).parts
    if not name or name.startswith("/") or re.match(r"[A-Za-z]:", name):
        raise _MemberRefused(f"refusing member {name!r}: absolute path")
    if ".." in parts:
        raise _MemberRefused(f"refusing member {name!r}: '..' in path")
    normalized = os.path.normpath(name)
    # A path below a symlink from this archive could be redirected anywhere by that link.
    for depth in range(1, len(parts)):
        if os.path.normpath("/".join(parts[:depth])) in symlinks:
            raise _MemberRefused(
                f"refusing member {name!r}: it is below the symlink {'/'.join(parts[:depth])!r}"
            )
    if member.issym():
        target = member.linkname
        resolved = os.path.normpath(os.path.join(os.path.dirname(normalized), target))
        if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
            raise _MemberRefused(
                f"refusing symlink {name!r} -> {target!r}: it points outside the archive"
            )
        symlinks.add(normalized)
    elif member.islnk():
        target = member.linkname
        if target.startswith("/") or ".." in PurePosixPath(target).parts:
            raise _MemberRefused(
                f"refusing hard link {name!r} -> {target!r}: it points outside the archive"
            )
    elif not (member.isreg() or member.isdir()):
        raise _MemberRefused(f"refusing member {name!r}: special file (device or FIFO)")


# Errors from decompressors and tarfile that mean "this file is damaged or not what it claims".
_DAMAGE_ERRORS = (
    tarfile.TarError,
    zstandard.ZstdError,
    EOFError,
    zlib.error,
    gzip.BadGzipFile,
    _ArchiveDamaged,
)


# Python's extraction filters (3.11.4+) refusing a member; a TarError, so checked first.
_FILTER_ERRORS: tuple[type[Exception], ...] = (
    (tarfile.FilterError,) if hasattr(tarfile, "FilterError") else ()
)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


@contextmanager
def open_distribution(path: Path, *, verify: bool = True) -> Iterator[tarfile.TarFile]:
    """Open a .tar.zst or .tar.gz for one pass over its members, in archive order.

    Iterate the yielded TarFile (and use ``extractfile`` on the current member) inside the
    ``with`` block.  Truncated or corrupt data, a file that is not a tar, and members that are
    absolute, contain '..' or link outside the archive all raise a BuildError naming the file.

    With ``verify``, leaving the block reads the compressed stream to its end: its checksum
    (gzip CRC-32, zstd content checksum) is only checked there, and damage in data that happens
    to still decompress is otherwise missed.  Pass False to only peek at the first members.
    """
    compression = _compression_for(path)
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise BuildError(f"{path}: cannot open archive ({exc.strerror or exc})") from None
    try:
        magic = raw.read(4)
        raw.seek(0)
        if compression == "zst":
            if magic != _ZSTD_MAGIC:
                raise BuildError(f"{path}: not a zstd-compressed file (bad magic bytes)")
            reader = _ZstdReader(raw)
            decompressed: BinaryIO = io.BufferedReader(reader, buffer_size=_CHUNK)  # type: ignore[arg-type]
        else:
            if magic[:2] != _GZIP_MAGIC:
                raise BuildError(f"{path}: not a gzip-compressed file (bad magic bytes)")
            decompressed = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
        try:
            with _CheckedTarFile.open(fileobj=decompressed, mode="r|") as tar:
                yield tar
            if verify:
                while decompressed.read(_CHUNK):
                    pass
        except (_MemberRefused, *_FILTER_ERRORS) as exc:
            raise BuildError(f"{path}: {_one_line(exc)}") from None
        except _DAMAGE_ERRORS as exc:
            raise BuildError(
                f"{path}: truncated, corrupt or not a tar archive ({_one_line(exc)})"
            ) from None
    finally:
        raw.close()


def read_leading_member(path: Path, name: str) -> tuple[str | None, bytes | None]:
    """The first member's name and, when it is ``name``, its bytes ((None, None) when the archive
    has no members). Only the start of the archive is read: PBS archives put PYTHON.json first
    so that a consumer can learn what an archive is without unpacking it."""
    with open_distribution(path, verify=False) as tar:
        for member in tar:
            handle = tar.extractfile(member) if member.name == name else None
            return member.name, handle.read() if handle else None
    return None, None


def extract_archive(path: Path, dest: Path) -> Path:
    """Unpack ``path`` into the new directory ``dest`` (which must not exist, or be empty).

    Everything lands in a temporary sibling first and is renamed into place at the end, so a
    damaged or hostile archive leaves no partial tree behind.
    """
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BuildError(
            f"cannot extract {path.name} into {dest}: it exists and is not an empty directory"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial"))
    # mkdtemp makes 0700; give dest the mode a plain mkdir would have.
    staging.chmod(0o777 & ~_current_umask())
    try:
        count = 0
        with open_distribution(path) as tar:
            for member in tar:
                count += 1
                _extract_member(tar, member, staging)
        if count == 0:
            raise BuildError(f"{path}: the archive has no members")
        if dest.exists():
            dest.rmdir()
        staging.replace(dest)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise BuildError(f"cannot extract {path.name} into {dest}: {_one_line(exc)}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, staging: Path) -> None:
    if hasattr(tarfile, "data_filter"):
        # Python's own "data" filter (3.11.4+) re-checks with real paths and drops owners.
        tar.extract(member, staging, set_attrs=not member.isdir(), filter="data")
    else:  # pragma: no cover - only Python 3.11.0-3.11.3
        tar.extract(member, staging, set_attrs=not member.isdir())
