"""The engine: runs pipelines over the store with connector instances.

Submodules are imported on demand (``syncline.engine.connections`` to open a
connector for a connection, ``syncline.engine.config`` for project files), so
importing this package costs nothing.
"""
