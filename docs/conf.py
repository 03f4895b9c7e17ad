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
    "sphinx.ext.autosummary",
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
# a method documents itself or nothing: torch's and normflows' docstrings describe other code
autodoc_inherit_docstrings = False
autodoc_preserve_defaults = True
autosummary_generate = False
autodoc_typehints = "description"
typehints_fully_qualified = False
always_document_param_types = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# Every cross-reference to flowkit must resolve (-W turns a dead one into an error). intersphinx
# needs the network, so references to torch, normflows, numpy and the standard library stay
# plain text and are not checked.
nitpicky = True
# a public name and the module path it is defined at are one object: no ambiguity to report
suppress_warnings = ["ref.python"]
nitpick_ignore_regex = [
    (r"py:.*", r"(torch|normflows|numpy|typing|collections|pathlib|os|functools|contextlib|argparse|types)(\..*)?"),
    (r"py:.*", r"(Module|Tensor|Path|Ellipsis|Any|Callable|Sequence|Mapping|Iterator|Iterable|Self|NoReturn)"),
]

html_theme = "furo"
html_title = f"flowkit {release}"
