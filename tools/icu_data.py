"""Trim ICU's data library to the collation data: what build.spec ships instead of 31 MB.

PySide6's Linux wheels link Qt Core against ICU, whose ``libicudata.so.NN`` holds one "common
data" package of ~3900 items: locale display names, calendars, units, time zones, legacy
code pages, break rules, collation... Qt reads only two kinds of them: collation (QCollator,
which Qt's own file dialog uses to sort names naturally and in the user's language) and the
legacy code pages (QStringConverter for encodings other than UTF-8/16/32 and Latin-1, which
the wizard never uses). Case mapping, normalisation and character properties are compiled
into ``libicuuc`` and need no data.

So the build keeps the ``coll/`` items (3.3 MB: the root collation, the UCA tables and every
language's tailoring), writes them as a new package in ICU's format, and
``tools/icu_data.c`` embeds that package in a library with the same name, soname and symbol
(``icudtNN_dat``). Lookups of anything else fail cleanly, as with ICU's own
``--with-data-packaging=archive`` when no data file is found.

The format (ICU's common/ucmndata.h, "CmnD" version 1): a DataHeader (its size in the first
two bytes, the magic 0xda27, the UDataInfo naming "CmnD"), then a table of contents - a
uint32 count and per item a (name offset, data offset) pair, both relative to the table's
start - then the item names (NUL-terminated, sorted: ICU binary-searches them), then the
items, each 16-byte aligned. Little-endian, as the library it came from.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from collections.abc import Iterable
from pathlib import Path

KEPT_PREFIXES = ("coll/",)  # item names below the package folder (e.g. icudt73l/coll/...)


class IcuDataError(Exception):
    """The library does not hold one ICU common-data package this code understands."""


def read_package(library: bytes) -> tuple[bytes, dict[str, bytes]]:
    """The package's header and its items by name, from the bytes of ``libicudata.so.NN``."""
    starts = []
    at = library.find(b"CmnD")
    while at != -1:
        start = at - 12  # DataHeader: size (2), magic (2), UDataInfo.size, reserved, ... format
        if start >= 0 and library[start + 2:start + 4] == b"\xda\x27":
            starts.append(start)
        at = library.find(b"CmnD", at + 1)
    if len(starts) != 1:
        raise IcuDataError(f"expected one ICU common-data package, found {len(starts)}")
    start = starts[0]
    if library[start + 8] != 0:  # UDataInfo.isBigEndian
        raise IcuDataError("a big-endian ICU data package")
    header_size = struct.unpack_from("<H", library, start)[0]
    toc = start + header_size
    (count,) = struct.unpack_from("<I", library, toc)
    entries = [struct.unpack_from("<II", library, toc + 4 + 8 * i) for i in range(count)]
    offsets = [data for _name, data in entries]
    if offsets != sorted(offsets):
        raise IcuDataError("the package's items are not stored in table order")
    items: dict[str, bytes] = {}
    for i, (name_offset, data_offset) in enumerate(entries):
        name_end = library.index(b"\0", toc + name_offset)
        name = library[toc + name_offset:name_end].decode("ascii")
        end = toc + offsets[i + 1] if i + 1 < count else None
        # The last item's end is not recorded; nothing we keep is last (it is a locale's .res).
        items[name] = library[toc + data_offset:end] if end is not None else b""
    return library[start:toc], items


def write_package(header: bytes, items: Iterable[tuple[str, bytes]]) -> bytes:
    """A package in ICU's format with ``header`` (copied from the original) and ``items``."""
    chosen = sorted(items)
    table_size = 4 + 8 * len(chosen)
    names = b""
    name_offsets = []
    for name, _data in chosen:
        name_offsets.append(table_size + len(names))
        names += name.encode("ascii") + b"\0"
    first_item = table_size + len(names)
    first_item += -(len(header) + first_item) % 16  # items 16-byte aligned in the package
    body = b""
    data_offsets = []
    for _name, data in chosen:
        data_offsets.append(first_item + len(body))
        body += data + b"\0" * (-len(data) % 16)
    table = struct.pack("<I", len(chosen)) + b"".join(
        struct.pack("<II", n, d) for n, d in zip(name_offsets, data_offsets, strict=True))
    front = table + names
    return header + front + b"\0" * (first_item - len(front)) + body


def subset(library: Path, out: Path, kept: tuple[str, ...] = KEPT_PREFIXES) -> tuple[int, int]:
    """Write the items of ``library``'s package whose names start with ``kept`` (below the
    package folder) to ``out`` as a package; returns (items kept, bytes written)."""
    header, items = read_package(library.read_bytes())
    chosen = [(name, data) for name, data in items.items()
              if name.split("/", 1)[-1].startswith(kept)]
    if any(not data for _name, data in chosen):
        raise IcuDataError("a kept item is the package's last one, whose size is unknown")
    package = write_package(header, chosen)
    out.write_bytes(package)
    return len(chosen), len(package)


def build_library(original: Path, out_dir: Path) -> Path:
    """Compile a ``libicudata.so.NN`` like ``original`` holding only the kept items.

    Uses the C compiler in $CC, else ``cc`` or ``gcc``; raises FileNotFoundError without one,
    subprocess.CalledProcessError when it fails, IcuDataError on a package it cannot read.
    """
    match = re.fullmatch(r"libicudata\.so\.(\d+)", original.name)
    if not match:
        raise IcuDataError(f"{original.name} is not an ICU data library (libicudata.so.NN)")
    major = match.group(1)
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise FileNotFoundError("no C compiler (cc or gcc; Debian: apt install gcc)")
    out_dir.mkdir(parents=True, exist_ok=True)
    package = out_dir / f"icudt{major}l.dat"
    subset(original, package)
    library = out_dir / original.name
    subprocess.run([cc, "-shared", "-nostdlib", "-fPIC", f"-DICU_ENTRY=icudt{major}_dat",
                    f'-DICU_DATA_FILE="{package}"', f"-Wl,-soname,{original.name}",
                    "-o", str(library), str(Path(__file__).with_name("icu_data.c"))],
                   check=True, capture_output=True, text=True)
    return library
