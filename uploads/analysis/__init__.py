"""
What a client's sample file holds: one readable paragraph for the client and a details document
(docs/uploads.md, "What the analysis reports"). One module per file kind, each registered by kind.
"""

from . import delimited, images, jsondoc, ndjson, text, xlsx  # noqa: F401 - each registers its kinds
from .registry import KINDS, Analysis, AnalysisError, analyse

__all__ = ["KINDS", "Analysis", "AnalysisError", "analyse"]
