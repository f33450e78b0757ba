"""JSON writer and reader for the versioned profile format described by ``schema.json``."""
from __future__ import annotations

import json
import os

from verigraph.profiling.stats import SCHEMA_ID, SCHEMA_VERSION

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema.json")


def profile_data(stats):
    """Plain data from a ProfileStats (``to_dict()``) or an already plain dict."""
    return stats.to_dict() if hasattr(stats, "to_dict") else stats


def render_json(stats, indent=1):
    """The profile as JSON text (``schema`` = 'verigraph.profile', ``version`` = 1)."""
    return json.dumps(profile_data(stats), indent=indent, sort_keys=False, default=_fallback)


def _fallback(obj):
    # NumPy scalars sneak in through op props or shapes: store them as Python numbers.
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def load_schema():
    """The JSON Schema (a dict) of the profile format."""
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        return json.load(fh)


class ProfileFormatError(ValueError):
    """A file or dict that is not a verigraph profile this version can read."""


def load_profile(source):
    """A profile dict from a path, JSON text or dict; checks the schema id and version."""
    if isinstance(source, dict):
        data = source
    else:
        text = str(source)
        if not text.lstrip().startswith("{"):
            try:
                with open(text, encoding="utf-8") as fh:
                    text = fh.read()
            except OSError as exc:
                raise ProfileFormatError(f"cannot read profile {source!r}: {exc}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProfileFormatError(f"profile {source!r:.80} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA_ID:
        got = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise ProfileFormatError(f"expected a profile with schema {SCHEMA_ID!r}, got {got!r}")
    version = data.get("version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ProfileFormatError(f"profile format version {version!r} is not supported; this "
                                 f"verigraph reads versions up to {SCHEMA_VERSION}")
    return data
