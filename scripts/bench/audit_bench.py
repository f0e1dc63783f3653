"""`mianzheng audit verify` on a log of any length: the audit row of stack_table.py alone.

    python scripts/bench/audit_bench.py [--entries 1000000] [--database-url URL] [--var-dir DIR]
                                        [--rounds 3] [--profile]

Without --database-url: a fresh SQLite installation in a temporary folder. With it (and
--var-dir, where that installation keeps its files): that database, initialised if needed, its
log filled up to --entries (entries already there are kept, so a long log is filled once).
Prints the row: the command's entries/s and peak memory per process vs a plain cursor +
hashlib in one process, measured in the same run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from api.initialise import initialise
from api.settings import Settings
from stack_table import audit_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", dest="audit_entries", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--var-dir", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print the top functions of one process's check")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mianzheng-audit-") as folder:
        var_dir = args.var_dir or Path(folder) / "var"
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        settings = Settings(var_dir=var_dir, database_url=url, public_url="http://127.0.0.1:8000")
        initialise(settings)
        database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        print("| measure | mianzheng | raw baseline in the same run | ratio (median of rounds) |")
        print("|---|---|---|---|")
        print("\n".join(audit_rows(database, settings, args)), flush=True)


if __name__ == "__main__":
    main()
