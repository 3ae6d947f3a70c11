"""Run the ``syncline`` command with the events-test connectors registered.

Delivery tests start this file in a subprocess exactly like the ``syncline``
command (``python delivery_cli.py events deliver``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import delivery_app  # noqa: F401 - registers events-test

from syncline.cli import main as cli_main

if __name__ == "__main__":
    cli_main.main()
