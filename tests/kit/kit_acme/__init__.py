"""Acme CRM: the reference connector of the kit tests and its sandbox (passes the whole suite)."""
