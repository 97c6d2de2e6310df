"""The Linux desktop build ships ICU's data trimmed to collation (build.spec, tools/icu_data.py).

Qt Core links ICU, whose data library is 31 MB. The bundle keeps only the collation items, so
what Qt needs ICU data for must be collation or something the wizard does not use. These tests
prove it: the trimmed package is a faithful copy of those items in ICU's format; the GUI's
code stays off the Qt APIs that read other ICU data (legacy text codecs); and in a process
whose loader maps the trimmed library instead of the real one, locale-aware and numeric
collation work as before (Qt's file dialog sorts with them) and the whole wizard, clicked
through to the Music rows and cleaned up, works.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import icu_data  # noqa: E402  (tools/ is scripts, not a package)

# Qt APIs backed by ICU data other than collation: the legacy (non-UTF) text codecs.
ICU_CODEC_APIS = re.compile(r"\b(QStringEncoder|QStringDecoder|QStringConverter|QTextCodec)\b")


def test_the_app_uses_no_qt_api_that_needs_the_dropped_icu_data() -> None:
    hits = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
            for folder in ("ui", "wizard") for path in sorted((ROOT / folder).rglob("*.py"))
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if ICU_CODEC_APIS.search(line)]
    assert not hits, ("these need ICU's code-page data, which the Linux desktop build leaves "
                      "out (build.spec, _trim_icu_data):\n" + "\n".join(hits))


def _icu_data_library() -> Path:
    import PySide6

    found = sorted((Path(PySide6.__file__).parent / "Qt" / "lib").glob("libicudata.so.*"))
    if not found:
        pytest.skip("this PySide6 does not bundle ICU (not a Linux wheel)")
    return found[0]


def test_the_trimmed_package_holds_exactly_the_collation_items(tmp_path: Path) -> None:
    original = _icu_data_library()
    header, items = icu_data.read_package(original.read_bytes())
    out = tmp_path / "trimmed.dat"
    count, size = icu_data.subset(original, out)
    header2, kept = icu_data.read_package(out.read_bytes())
    assert header2 == header
    expected = {n: d for n, d in items.items() if n.split("/", 1)[1].startswith("coll/")}
    assert kept.keys() == expected.keys() and count == len(expected) > 100
    *inner, last = sorted(expected)  # a package does not record its last item's size
    assert all(kept[n].startswith(expected[n]) for n in inner)  # plus alignment padding
    assert out.read_bytes().rstrip(b"\0").endswith(expected[last].rstrip(b"\0"))
    assert any(n.endswith("/coll/ucadata.icu") for n in kept)
    assert size < 4 * 2**20 < 30 * 2**20 < original.stat().st_size


# A child process whose loader finds the trimmed library first (LD_LIBRARY_PATH is searched
# before Qt's RUNPATH): prove it is the library mapped, check collation, then run the e2e
# click-through there.
CHILD = r"""
import sys
from PySide6.QtCore import QCollator, QLocale
maps = open("/proc/self/maps").read()
icu = sorted({line.split()[-1] for line in maps.splitlines() if "libicudata" in line})
assert icu == [sys.argv[1]], f"libicudata mapped from {icu}, not the trimmed one"
natural = QCollator(QLocale("en_US"))
natural.setNumericMode(True)
assert natural.compare("profile-10.yaml", "profile-9.yaml") > 0, "no numeric collation"
assert QCollator(QLocale("sv_SE")).compare("\u00e4", "z") > 0, "no Swedish tailoring"
assert QCollator(QLocale("de_DE")).compare("\u00e4", "z") < 0, "no root collation"
assert QLocale("en_US").toUpper("stra\u00dfe") == "STRASSE"  # case mapping is in libicuuc
print("trimmed ICU loaded:", icu[0], flush=True)
import pytest
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", sys.argv[2]]))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the trimming is Linux-only")
def test_collation_and_the_wizard_work_on_the_trimmed_icu_data(tmp_path: Path) -> None:
    try:
        trimmed = icu_data.build_library(_icu_data_library(), tmp_path)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen",
           "LD_LIBRARY_PATH": str(tmp_path), "LANG": "en_US.UTF-8"}
    e2e = "tests/e2e/test_wizard_sandbox.py::test_click_through_to_music_rows_then_clean_up"
    proc = subprocess.run([sys.executable, "-c", CHILD, str(trimmed), e2e], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert f"trimmed ICU loaded: {trimmed}" in out
    assert "Could not create collator" not in out
    assert "1 passed" in out, out
