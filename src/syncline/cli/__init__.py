"""The ``syncline`` command."""
