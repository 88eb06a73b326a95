"""Merge `translations/pending/*.json` ({"English msgid": "中文"}) into the zh-CN catalogue.

Run by `make translations` after extraction; the merged JSON files are removed, so the .po file
stays the single source of truth. Prints the msgids that still have no translation.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent
PO = HERE / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"


def main() -> int:
    with PO.open("rb") as fh:
        catalogue = read_po(fh)
    pending = sorted((HERE / "pending").glob("*.json"))
    known: dict[str, str] = {}
    for path in pending:
        known.update(json.loads(path.read_text(encoding="utf-8")))
    for message in catalogue:
        if message.id and isinstance(message.id, str) and message.id in known:
            message.string = known[message.id]
            message.flags.discard("fuzzy")
    with PO.open("wb") as fh:
        write_po(fh, catalogue, width=100, sort_output=True)
    for path in pending:
        path.unlink()
    missing = [m.id for m in catalogue if m.id and (not m.string or "fuzzy" in m.flags)]
    for msgid in missing:
        print(f"untranslated: {msgid}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
