"""Sphinx configuration for flowkit's documentation."""

import warnings

import flowkit

# sphinx-autodoc-typehints calls an API Sphinx 10 will drop; not our warning to fix.
warnings.filterwarnings("ignore", message=".*set_application.*")

project = "flowkit"
author = "flowkit developers"
copyright = "2026, flowkit developers"
release = flowkit.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_autodoc_typehints",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
exclude_patterns = ["_build"]

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "description"
typehints_fully_qualified = False
always_document_param_types = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# intersphinx needs the network; cross-references to torch/normflows stay plain text.
nitpicky = False

html_theme = "furo"
html_title = f"flowkit {release}"
