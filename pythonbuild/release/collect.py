"""``python -m pythonbuild release DIST_DIR... --out DIR [--tag TAG] [--base-url URL]``

Collects the archives and SBOMs of several builds into one release directory: each file is
checked against its build's SHA256SUMS, copied (hard-linked when possible), and described in
``SHA256SUMS``, ``download-metadata.json`` (the list uv reads through
``UV_PYTHON_DOWNLOADS_JSON_URL``), ``latest-release.json`` (PBS's pointer to its newest release)
and ``RELEASE_NOTES.md``. Everything goes to a temporary directory beside ``--out`` that is
renamed into place at the end, so a failed run leaves ``--out`` as it was. docs/release.md.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from .. import log
from ..distribution.archive import (
    FILE_MODE,
    SHA256SUMS,
    parse_archive_name,
    read_sha256sums,
    sha256_file,
)
from ..errors import ArgumentParser, BuildError, run_command
from .files import (
    SBOM_SUFFIXES,
    Asset,
    downloads_json,
    latest_release_json,
    release_notes,
    select_slots,
)

# Files a build writes next to its archives that are not published: the PGO profile bundle
# (pythonbuild/linux/pgo_profile.py) is an input of later builds, not something users install.
UNPUBLISHED_SUFFIXES = ("-profile.tar.zst",)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ReleaseConfig:
    dist_dirs: tuple[Path, ...]
    out: Path
    tag: str | None
    base_url: str | None


def _is_candidate(name: str) -> bool:
    """A file name that a build's dist/ holds for publishing."""
    return name.startswith("cpython-") and name.endswith((".tar.gz", ".tar.zst", *SBOM_SUFFIXES))


def read_sums(dist_dir: Path) -> dict[str, str]:
    path = dist_dir / SHA256SUMS
    if not path.is_file():
        raise BuildError(
            f"{dist_dir} has no {SHA256SUMS}, so its files cannot be checked; pass the output "
            "directory of a finished build (build-linux.py --dist), or rebuild"
        )
    return read_sha256sums(path, fix="rebuild to rewrite it")


def parse_asset_name(name: str) -> dict[str, str]:
    """archive_name's arguments for an archive or a full archive's SBOM; ValueError if neither."""
    for suffix in SBOM_SUFFIXES:
        if name.endswith(suffix):
            fields = parse_archive_name(name.removesuffix(suffix) + ".tar.zst")
            if fields["flavor"] != "full":
                raise ValueError(f"{name!r} is not the SBOM of a full archive")
            return fields
    return parse_archive_name(name)


def _link_or_copy(source: Path, dest: Path) -> None:
    try:
        os.link(source, dest)
    except OSError:
        # Another file system (EXDEV) or one without hard links: copy the bytes instead.
        shutil.copyfile(source, dest)
        dest.chmod(FILE_MODE)


def collect(dist_dirs: tuple[Path, ...], staging: Path) -> dict[str, Asset]:
    """Check every dist dir against its SHA256SUMS and place its files in ``staging``."""
    assets: dict[str, Asset] = {}
    for dist_dir in dist_dirs:
        if not dist_dir.is_dir():
            raise BuildError(
                f"{dist_dir} is not a directory; pass the output directories of builds "
                "(build-linux.py --dist, default dist/)"
            )
        sums = read_sums(dist_dir)
        for name in sorted(sums):
            if not (dist_dir / name).is_file():
                raise BuildError(
                    f"{dist_dir / SHA256SUMS} lists {name}, which is missing; put the file "
                    "back or rebuild"
                )
        present = sorted(
            p.name for p in dist_dir.iterdir() if p.is_file() and _is_candidate(p.name)
        )
        for name in present:
            if name not in sums and not name.endswith(UNPUBLISHED_SUFFIXES):
                raise BuildError(
                    f"{dist_dir / name} is not listed in {dist_dir / SHA256SUMS}, so it cannot "
                    "be checked; remove it, or rebuild so that the build records it"
                )
        published = [n for n in sorted(sums) if not n.endswith(UNPUBLISHED_SUFFIXES)]
        log.info(f"{dist_dir}: {len(published)} files to publish")
        for name in published:
            try:
                fields = parse_asset_name(name)
            except ValueError as exc:
                raise BuildError(
                    f"{dist_dir / name}: {exc}; only archives and SBOMs named as build-linux.py "
                    "names them can be released, remove it from the directory and its SHA256SUMS"
                ) from None
            assets[name] = _add(assets.get(name), dist_dir, name, sums[name], fields, staging)
    if not assets:
        raise BuildError(
            f"no archives in {', '.join(str(d) for d in dist_dirs)}; pass build output directories"
        )
    return assets


def _add(
    earlier: Asset | None,
    dist_dir: Path,
    name: str,
    expected: str,
    fields: dict[str, str],
    staging: Path,
) -> Asset:
    source = dist_dir / name
    if earlier is None:
        # Hash the staged file (a hard link shares the bytes): what is checked is what we publish.
        _link_or_copy(source, staging / name)
        actual = sha256_file(staging / name)
    else:
        actual = sha256_file(source)
    if actual != expected:
        raise BuildError(
            f"{source}: sha256 {actual} does not match {expected} in {dist_dir / SHA256SUMS}; "
            "the file is damaged or was replaced, rebuild it"
        )
    if earlier is not None and earlier.sha256 != actual:
        raise BuildError(
            f"{name} differs between {earlier.source.parent} and {dist_dir} (sha256 "
            f"{earlier.sha256[:12]}... vs {actual[:12]}...): two different builds claim the same "
            "file and uv download slot; release only one of them"
        )
    return earlier or Asset(name, source, actual, source.stat().st_size, fields)


def release_tag(assets: dict[str, Asset], requested: str | None) -> str:
    tags = sorted({asset.fields["release_tag"] for asset in assets.values()})
    if requested is not None:
        for name, asset in sorted(assets.items()):
            if asset.fields["release_tag"] != requested:
                raise BuildError(
                    f"{name} carries tag {asset.fields['release_tag']}, not --tag {requested}; "
                    "archive names carry their tag, so leave that build out or rebuild it"
                )
        return requested
    if len(tags) > 1:
        raise BuildError(
            f"the archives carry different release tags ({', '.join(tags)}); pass --tag TAG "
            "and only the dist directories of that release"
        )
    return tags[0]


def asset_url_prefix(config: ReleaseConfig) -> str:
    if config.base_url:
        return config.base_url.rstrip("/")
    # Served from --out itself: uv reads file:// URLs for the list and for the archives.
    return config.out.resolve().as_uri()


def write_release(config: ReleaseConfig) -> Path:
    out = config.out
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BuildError(f"--out {out} is not empty; pass a new or empty directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    try:
        assets = collect(config.dist_dirs, staging)
        tag = release_tag(assets, config.tag)
        prefix = asset_url_prefix(config)
        slots = select_slots(assets.values())
        if not slots:
            log.warn("no install_only archives: uv's download list will be empty")
        urls = {slot.key: f"{prefix}/{quote(slot.asset.name)}" for slot in slots}
        generated = {
            "download-metadata.json": downloads_json(slots, urls, tag),
            "latest-release.json": latest_release_json(tag, prefix),
            "RELEASE_NOTES.md": release_notes(tag, sorted(assets.values(), key=_order), slots),
        }
        digests = {name: asset.sha256 for name, asset in assets.items()}
        for name, text in generated.items():
            (staging / name).write_text(text, encoding="utf-8")
            digests[name] = hashlib.sha256(text.encode()).hexdigest()
        sums = "".join(f"{digests[name]}  {name}\n" for name in sorted(digests))
        (staging / SHA256SUMS).write_text(sums, encoding="utf-8")
        staging.chmod(0o755)  # mkdtemp makes it 0700; a release is for others to read
        if out.exists():
            out.rmdir()  # empty, checked above
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info(f"{out}: {len(assets)} files, {len(slots)} uv downloads, tag {tag}")
    return out


def _order(asset: Asset) -> tuple[str, ...]:
    f = asset.fields
    return (f["triple"], f["python_version"], f["options"], f["flavor"], asset.name)


def parse_args(argv: list[str]) -> ReleaseConfig:
    parser = ArgumentParser(
        prog="python -m pythonbuild release",
        description=(
            "Collect the archives of several builds into one release directory with a "
            "SHA256SUMS, a uv downloads list, latest-release.json and release notes "
            "(docs/release.md)."
        ),
    )
    parser.add_argument(
        "dist_dirs",
        nargs="+",
        type=Path,
        metavar="DIST_DIR",
        help="a build's output directory (archives and their SHA256SUMS)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="the release directory to create (must not exist or be empty)",
    )
    parser.add_argument(
        "--tag", default=None, help="the release tag (default: the tag all archive names carry)"
    )
    parser.add_argument("--base-url", default=None, metavar="URL",
                        help="where the release's files will be served from (default: a "
                             "file:// URL of --out)")  # fmt: skip
    args = parser.parse_args(argv)
    return ReleaseConfig(tuple(args.dist_dirs), args.out, args.tag, args.base_url)


def run(config: ReleaseConfig) -> int:
    write_release(config)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command(
        "python -m pythonbuild release", sys.argv[1:] if argv is None else argv, parse_args, run
    )
