"""The crm test app and its connector, and helpers for engine tests that use them."""
