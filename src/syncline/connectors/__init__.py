"""Connectors shipped with Syncline, one package each.

They are registered through the ``syncline.connectors`` entry-point group in
``pyproject.toml``, exactly as third-party connectors are, and import only
``syncline.sdk``, ``syncline.types`` and ``syncline.http``.
"""
