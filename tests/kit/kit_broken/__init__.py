"""Connectors broken on purpose, each with a bug found in peer connectors, and their sandboxes.

Each is the Acme reference connector with one method changed; the acceptance
suite must fail each of them with the check named in ``acceptance_broken.py``.
"""
