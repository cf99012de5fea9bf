"""Where the bundled example configuration lives, installed or in a checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def example_org_file() -> Path:
    """The example org chart shipped with the package (config/org.example.toml)."""
    bundled = Path(str(resources.files("signoff") / "data" / "org.example.toml"))
    if bundled.exists():
        return bundled
    return Path(__file__).resolve().parent.parent / "config" / "org.example.toml"
