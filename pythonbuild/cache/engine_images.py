"""The project's images in the container engine, and the engine's own leftovers.

An image's size here is what removing it frees: its layers that no other image shares (the
engine's ``SharedSize``); build images of one lock share their base layers.
"""

from __future__ import annotations

from collections.abc import Iterator

import docker.errors

from ..linux.engine import Engine
from ..linux.images.build import IMAGE_PREFIX
from . import leases
from .current import CurrentReferences
from .entries import CacheEntry

LEFTOVERS = "dangling images, stopped containers, build cache"


def engine_entries(engine: Engine, cache_dir, refs: CurrentReferences) -> list[CacheEntry]:
    """Our images, and the engine's leftovers when there are any: from one ``df`` call (the
    engine computes every image's and container's size for it)."""
    usage = engine.client.df()
    entries = list(_image_entries(usage, cache_dir, refs))
    leftovers = _leftovers_entry(usage) if engine.private else None
    return entries + ([leftovers] if leftovers is not None else [])


def _image_entries(usage: dict, cache_dir, refs: CurrentReferences) -> Iterator[CacheEntry]:
    for image in usage.get("Images") or []:
        tags = [t for t in image.get("RepoTags") or [] if t.startswith(f"{IMAGE_PREFIX}/")]
        for tag in tags:
            shared = max(image.get("SharedSize", 0), 0)
            # An image under two of our tags frees its layers only with the last one.
            size = (image["Size"] - shared) if len(tags) == 1 else 0
            lease_id = leases.image_id(tag)
            used = max(float(image["Created"]), leases.last_use(cache_dir, lease_id) or 0)
            yield CacheEntry("image", tag, size, used, refs.image_is_current(tag), lease_id)


def _leftovers_entry(usage: dict) -> CacheEntry | None:
    """The engine's untagged images, stopped containers and build cache, as one entry.

    Only a private engine's (the caller's check): on a shared engine they may be somebody else's.
    """
    size = sum(
        i["Size"] - max(i.get("SharedSize", 0), 0)
        for i in usage.get("Images") or []
        if not [t for t in i.get("RepoTags") or [] if t != "<none>:<none>"]
    )
    size += sum(
        c.get("SizeRw", 0) or 0 for c in usage.get("Containers") or [] if c["State"] != "running"
    )
    size += sum(b.get("Size", 0) for b in usage.get("BuildCache") or [] if not b.get("InUse"))
    if size == 0:
        return None
    return CacheEntry("engine", LEFTOVERS, size, 0.0, False, "engine:leftovers")


def remove_image(engine: Engine, tag: str) -> str | None:
    """Untag ``tag`` (its layers go with the last tag); returns why not, or None."""
    try:
        engine.client.images.remove(tag, noprune=False)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as exc:  # a container still uses it
        return str(exc.explanation or exc)
    return None


def remove_leftovers(engine: Engine) -> None:
    engine.client.containers.prune()
    engine.client.images.prune(filters={"dangling": True})
    engine.client.api.prune_builds()
