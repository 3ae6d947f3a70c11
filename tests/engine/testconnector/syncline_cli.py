"""Run the ``syncline`` command with the crm-test connector registered.

Engine tests start this file in a subprocess exactly like the ``syncline``
command (``python syncline_cli.py run PIPELINE --json``): importing the test
connector registers it, then the real CLI entry point runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import syncline.connectors.sqlite  # noqa: F401 - the destination of the tests
import testconnector.connector
import testconnector.table  # noqa: F401 - registers table-test
from syncline.cli import main as cli_main

if __name__ == "__main__":
    cli_main.main()
