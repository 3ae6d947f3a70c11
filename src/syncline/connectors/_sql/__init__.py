"""Code shared by the SQLite and PostgreSQL connectors.

The two databases differ in how they connect, introspect columns and map types;
everything else — pipeline options, the keyset read, the merge write with
per-record failure isolation, cursors and column naming — lives here once.
A database connector supplies a :class:`~syncline.connectors._sql.dialect.Connection`
per operation and subclasses :class:`~syncline.connectors._sql.database.Database`.
"""
