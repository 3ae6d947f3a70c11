"""A JSONL destination for Airbyte sources: reads Airbyte messages on stdin.

What Airbyte's destination-local-json does, reduced to the protocol: each RECORD
message's ``record.data`` is appended as one line to ``OUT``; on each STATE
message the file is flushed and fsynced, then the state is written atomically
to ``STATE`` (the platform would persist it only once the destination has
emitted it back) — so a rerun with ``--state STATE`` resumes after the last
durable checkpoint. Other messages (LOG, TRACE) are ignored.

    python airbyte_py.py read ... | python airbyte_dest.py OUT STATE
"""

from __future__ import annotations

import os
import sys

import orjson


def main(out_path: str, state_path: str) -> None:
    records = 0
    with open(out_path, "ab") as out:
        for line in sys.stdin.buffer:
            if not line.startswith(b"{"):
                continue
            message = orjson.loads(line)
            kind = message.get("type")
            if kind == "RECORD":
                out.write(orjson.dumps(message["record"]["data"], option=orjson.OPT_APPEND_NEWLINE))
                records += 1
            elif kind == "STATE":
                out.flush()
                os.fsync(out.fileno())
                with open(state_path + ".tmp", "wb") as state:
                    state.write(orjson.dumps([message["state"]]))
                os.replace(state_path + ".tmp", state_path)
    print(f"{records} records", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
