"""Migration scripts, one per schema revision (see ``syncline.store.migrations``)."""
