"""Bundled training configs (JSON); see ``flowkit train --help``."""
