"""Imports every package's mapped tables so that one metadata describes the whole schema."""

import catalog.versions  # noqa: F401  (registers catalog_versions)
from catalog.orm import Base

metadata = Base.metadata
