"""File connectors: JSON Lines (:mod:`.jsonl`) and CSV (:mod:`.csvfile`).

Both read a file page by page (the cursor is a byte offset) and write a file
crash-safely through ``PATH.partial`` (see :mod:`._partial`). Each module
registers its connector when imported.
"""
