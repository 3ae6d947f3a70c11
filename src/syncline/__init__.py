"""Syncline: application connectors that never lose data."""

import sys

__version__ = "0.1.0"

# ``import httpx`` also imports httpx's own command-line client (``httpx._main``,
# which pulls in click, rich and pygments: about 6 MB of resident memory and 100
# modules) whenever those three packages are installed, as they are alongside
# Syncline's command line. No Syncline process runs that client, so it is kept
# out of the interpreter: with the entry set to None, httpx's guarded import
# fails and httpx installs its fallback ``httpx.main``. Only done when httpx is
# not imported yet; the ``httpx`` command itself runs in a process of its own.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
