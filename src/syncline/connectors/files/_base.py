"""The connector methods shared by the file formats.

A format subclass says how to sample, read, encode and scan its files; this
class does options, paths, threads, errors and the contract. All file work
runs in worker threads, one hop per call (a page read, a batch write), never
on the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from operator import attrgetter
from typing import Any, ClassVar

from syncline.connectors.files._options import (
    FileOptions,
    FileSettings,
    declared_schema,
    options_of,
    resolve,
)
from syncline.connectors.files._partial import Entries, PartialFile, finish
from syncline.sdk.env import Env, Problem
from syncline.sdk.errors import ConfigError, PermanentError, RecordsError, RetryableError
from syncline.sdk.protocols import RecordsPage
from syncline.sdk.records import Record, Records
from syncline.types import Object, Role

__all__ = ["Encoder", "FileConnector", "Page", "parse_updated_at"]

Encoder = Callable[[list[str | None], list[dict[str, Any]]], tuple[bytes, dict[int, Exception]]]
"""Encodes a batch — record IDs (None: no ID) and attributes — as lines/rows.

Returns the bytes of the records that could be encoded, in order, and an error
by position for each record that could not (its line is left out)."""

Page = tuple[list[Record], int, bool]
"""A page read from a file: records, the offset after them, end of file reached."""

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ID = attrgetter("id")
_ATTRIBUTES = attrgetter("attributes")


def parse_updated_at(value: Any) -> dt.datetime | None:
    """An aware UTC datetime from ISO 8601 text (naive = UTC) or unix seconds; else None."""
    try:
        if isinstance(value, str):
            parsed = dt.datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=dt.UTC)
            return parsed.astimezone(dt.UTC)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return _EPOCH + dt.timedelta(seconds=value)
    except (ValueError, OverflowError):
        pass
    return None


def missing_id(key: str, offset: int) -> Record:
    return Record(
        "",
        {},
        None,
        PermanentError(f"the record at byte {offset} has no value in the key field {key!r}"),
    )


class FileConnector(ABC):
    """A file format's connector: reads pages by byte offset, writes through a partial file."""

    options_model: ClassVar[type[FileOptions]] = FileOptions
    format_name: ClassVar[str] = "file"

    def __init__(self, env: Env[FileSettings]) -> None:
        self.env = env

    # The format: each runs in a worker thread.

    @abstractmethod
    def sample(self, path: str, options: FileOptions) -> list[dict[str, Any]]:
        """The first ``options.infer_rows`` records as field → value mappings."""

    @abstractmethod
    def infer(self, rows: list[dict[str, Any]]) -> Object:
        """The schema of sampled rows."""

    @abstractmethod
    def read(
        self,
        path: str,
        options: FileOptions,
        offset: int | None,
        since: dt.datetime | None,
        schema: Object,
    ) -> Page:
        """Up to ``page_size`` records from ``offset`` (None: the first record)."""

    @abstractmethod
    def encoder(self, options: FileOptions, schema: Object) -> tuple[bytes, Encoder]:
        """The file's header (may be empty) and the record encoder for ``schema``."""

    @abstractmethod
    def entries(self, options: FileOptions) -> Entries:
        """Scans a partial file written by :meth:`encoder` (see :mod:`._partial`)."""

    # The contract.

    async def _where(self) -> tuple[FileOptions, str]:
        options = options_of(self.env.options, self.options_model)
        settings = await self.env.settings.load()
        return options, resolve(settings, options)

    async def record_schema(self, target: str, role: Role) -> Object:
        """The declared schema, else (source) one inferred from the file's first records.

        As a destination without a declared schema the file takes any
        properties: the schema is empty and the file's fields come from the
        schema handed to ``upsert``.
        """
        options, path = await self._where()
        declared = declared_schema(options)
        if declared is not None:
            return declared
        if role is Role.DESTINATION:
            return Object([])
        rows = await self._in_thread(self.sample, "reading", path, options)
        return self.infer(rows)

    async def records(
        self, target: str, updated_at: dt.datetime | None, cursor: str | None, schema: Object
    ) -> RecordsPage:
        """The page of records after the byte offset ``cursor``.

        Only the properties of ``schema`` are returned when it names any;
        records whose ``updated_at`` field is before ``updated_at`` are
        skipped (records without a readable one are returned). Blank lines
        are skipped; a line or row that cannot be parsed, or has no key, is
        returned as a record with ``error`` set.
        """
        options, path = await self._where()
        offset: int | None = None
        if cursor is not None:
            try:
                offset = int(cursor)
            except ValueError:
                raise ConfigError(
                    "the read's cursor is damaged; restart the import from the beginning"
                ) from None
        records, end, eof = await self._in_thread(
            self.read, "reading", path, options, offset, updated_at, schema
        )
        return RecordsPage(records, None if eof else str(end), eof)

    async def upsert(self, target: str, records: Records, schema: Object) -> None:
        """Append up to ``batch_size`` records to ``PATH.partial`` and fsync.

        The file appears at ``PATH`` when :meth:`finish` is called at the end of
        the run. A record whose values cannot be encoded fails alone
        (``RecordsError``); a record without an ID is written with a null key.
        """
        options, path = await self._where()
        header, encode = self.encoder(options, schema)
        # The records not taken stay pending for the next call. A record the
        # file cannot hold fails alone (RecordsError), so none is discarded.
        taken = records.take(options.batch_size)
        ids: list[str | None] = [record_id or None for record_id in map(_ID, taken)]
        attributes: list[dict[str, Any]] = list(map(_ATTRIBUTES, taken))
        del taken
        failed: dict[int, Exception] = await self._in_thread(
            _write, "writing", path, header, encode, ids, attributes, self.entries(options)
        )
        if failed:
            raise RecordsError(failed)

    async def finish(self, target: str) -> None:
        """Publish the run's file: ``PATH.partial`` becomes ``PATH`` atomically.

        Call it once the run's last batch is written and checkpointed. Keeps the
        last line of each record ID when IDs were written twice (a resumed
        run). Idempotent; without a partial file (nothing written) it does
        nothing and ``PATH`` is left as it was.
        """
        options, path = await self._where()
        await self._in_thread(finish, "publishing", path, self.entries(options))

    async def check(self) -> list[Problem]:
        """Problems with the connection's ``directory``: missing, not a directory, not writable."""
        settings = await self.env.settings.load()
        return await asyncio.to_thread(_directory_problems, settings.directory)

    async def _in_thread(self, function: Callable[..., Any], doing: str, *args: Any) -> Any:
        path = str(args[0]) if args and isinstance(args[0], str) else ""
        try:
            return await asyncio.to_thread(function, *args)
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"the file is not UTF-8 text (byte {exc.start} of a line) while {doing} it",
                field="path",
            ) from None
        except ValueError as exc:
            raise ConfigError(str(exc), field="path") from None
        except FileNotFoundError:
            raise ConfigError(
                f"file not found while {doing}: {path or 'the file or its directory'}; check "
                "the pipeline option 'path' and the connection's 'directory'",
                field="path",
            ) from None
        except (PermissionError, IsADirectoryError, NotADirectoryError) as exc:
            raise ConfigError(
                f"cannot access the file while {doing}: {exc.strerror}; check the pipeline "
                "option 'path' and the file's permissions",
                field="path",
            ) from None
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise RetryableError(
                    f"no space left on the device while {doing} the file"
                ) from None
            raise RetryableError(f"the file system failed while {doing}: {exc.strerror}") from None


def _write(
    path: str,
    header: bytes,
    encode: Encoder,
    ids: list[str | None],
    attributes: list[dict[str, Any]],
    entries: Entries,
) -> dict[int, Exception]:
    data, failed = encode(ids, attributes)
    written = [record_id for i, record_id in enumerate(ids) if i not in failed] if failed else ids
    if written:
        PartialFile(path).append(header, data, written, entries)
    return failed


def _directory_problems(directory: str) -> list[Problem]:
    path = os.path.abspath(os.path.expanduser(directory) or os.getcwd())
    if not os.path.exists(path):
        return [Problem("the directory does not exist; create it or fix the setting", "directory")]
    if not os.path.isdir(path):
        return [Problem("is a file, not a directory", "directory")]
    problems = []
    if not os.access(path, os.R_OK | os.X_OK):
        problems.append(Problem("the directory is not readable by this process", "directory"))
    if not os.access(path, os.W_OK):
        problems.append(
            Problem(
                "the directory is not writable by this process: files cannot be written",
                "directory",
            )
        )
    return problems
