"""The FGRN-vs-IRN reproduction study at our budget (see docs: Reproducing FGRN)."""
