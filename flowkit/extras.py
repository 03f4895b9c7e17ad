"""Optional dependencies: the core (layers, test kit) needs only torch, normflows, einops and
numpy; each other part names the pip extra that brings what it needs.

+-----------+---------------------------------------------+-----------------------------+
| extra     | brings                                      | for                         |
+===========+=============================================+=============================+
| ``image`` | pillow, pypng, scipy                        | :mod:`flowkit.image`,       |
|           |                                             | :mod:`flowkit.metrics`      |
+-----------+---------------------------------------------+-----------------------------+
| ``models``| ``image`` + safetensors                     | :mod:`flowkit.models`,      |
|           |                                             | the command line            |
+-----------+---------------------------------------------+-----------------------------+
| ``train`` | ``models`` + tqdm                           | :mod:`flowkit.train`        |
+-----------+---------------------------------------------+-----------------------------+
| ``all``   | all of the above                            |                             |
+-----------+---------------------------------------------+-----------------------------+
"""

from __future__ import annotations

__all__ = ["DISTRIBUTION", "missing_extra"]

#: The name to ``pip install`` (``flowkit`` on the package index is another project).
DISTRIBUTION = "flowkit-flows"


def missing_extra(part: str, extra: str, error: ModuleNotFoundError) -> ModuleNotFoundError:
    """The error to raise when ``part`` cannot import an optional dependency: it names the
    extra to install and the missing module.

    Example:
        >>> try:
        ...     import no_such_module_here
        ... except ModuleNotFoundError as exc:
        ...     print(missing_extra("flowkit.image", "image", exc))
        flowkit.image needs the 'image' extra: pip install 'flowkit-flows[image]' (missing: no_such_module_here)
    """
    return ModuleNotFoundError(
        f"{part} needs the '{extra}' extra: pip install '{DISTRIBUTION}[{extra}]' (missing: {error.name})",
        name=error.name,
    )
