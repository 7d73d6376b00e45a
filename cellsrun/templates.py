"""The templates shipped in the repository's ``etc/`` (``cellsrun/etc`` in the package).

Read through :mod:`importlib.resources`, so `pip install .`, pipx and install.sh all find
them; each renderer fills in its own placeholders.
"""

from __future__ import annotations

from cellsrun.errors import RuntimeFailure


def read(name: str) -> str:
    """The text of ``etc/<name>``; a missing one is a broken installation (RuntimeFailure)."""
    from importlib import resources
    try:
        return resources.files("cellsrun").joinpath("etc", name).read_text()
    except OSError as e:
        raise RuntimeFailure(f"cannot read the template {name} of this cellsrun installation: "
                             f"{e.strerror or e}; reinstall cellsrun") from e
