"""``python -m syncline.store.migrations "what changed"``: draft the next migration."""

from __future__ import annotations

import sys

from syncline.store.migrations import autogenerate


def main() -> int:
    if len(sys.argv) != 2 or not sys.argv[1].strip():
        print('usage: python -m syncline.store.migrations "what the migration does"')
        return 2
    print(autogenerate(sys.argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
