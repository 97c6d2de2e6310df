"""The Linux desktop build ships an empty ICU data library (build.spec, tools/icu_data_stub.c).

Qt Core links ICU, whose data library is 30 MB of locale data. The bundle replaces it with an
empty package, so whatever needs that data must not be something the wizard relies on. These
tests prove it two ways: the GUI's code stays off the Qt APIs that read ICU data, and the whole
wizard, clicked through to the Music rows and cleaned up, works with the stub loaded in place
of the real library.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Qt APIs backed by ICU's data: locale-aware collation and the legacy (non-UTF) text codecs.
ICU_DATA_APIS = re.compile(
    r"\b(QCollator|localeAwareCompare|setSortLocaleAware|QStringEncoder|QStringDecoder"
    r"|QStringConverter|QTextCodec)\b")


def test_the_app_uses_no_qt_api_that_needs_icu_data() -> None:
    hits = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
            for folder in ("ui", "wizard") for path in sorted((ROOT / folder).rglob("*.py"))
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if ICU_DATA_APIS.search(line)]
    assert not hits, ("these need ICU's locale data, which the Linux desktop build leaves out "
                      "(build.spec, _stub_icu_data):\n" + "\n".join(hits))


def _icu_data_library() -> Path:
    import PySide6

    found = sorted((Path(PySide6.__file__).parent / "Qt" / "lib").glob("libicudata.so.*"))
    if not found:
        pytest.skip("this PySide6 does not bundle ICU (not a Linux wheel)")
    return found[0]


def _compile_stub(out_dir: Path) -> Path:
    real = _icu_data_library()
    major = real.name.rsplit(".", 1)[-1]
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to build the ICU data stub with")
    stub = out_dir / real.name
    subprocess.run([cc, "-shared", "-nostdlib", "-fPIC", "-O2", f"-DICU_ENTRY=icudt{major}_dat",
                    f"-Wl,-soname,{real.name}", "-o", str(stub),
                    str(ROOT / "tools" / "icu_data_stub.c")], check=True)
    return stub


# Run in a child process whose loader finds the stub first (LD_LIBRARY_PATH is searched before
# Qt's RUNPATH): prove the stub is the library actually mapped, check the fallbacks, then run
# the e2e click-through there.
CHILD = r"""
import sys
from PySide6.QtCore import QLocale
maps = open("/proc/self/maps").read()
icu = sorted({line.split()[-1] for line in maps.splitlines() if "libicudata" in line})
assert icu == [sys.argv[1]], f"libicudata mapped from {icu}, not the stub"
assert QLocale("en_US").toUpper("straße") == "STRASSE"  # case mapping lives in libicuuc
print("stub loaded:", icu[0], flush=True)
import pytest
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", sys.argv[2]]))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the stub is Linux-only")
def test_the_wizard_clicks_through_to_the_rows_on_the_icu_data_stub(tmp_path: Path) -> None:
    stub = _compile_stub(tmp_path)
    assert stub.stat().st_size < 64 * 1024 < _icu_data_library().stat().st_size
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LD_LIBRARY_PATH=str(tmp_path))
    e2e = "tests/e2e/test_wizard_sandbox.py::test_click_through_to_music_rows_then_clean_up"
    proc = subprocess.run([sys.executable, "-c", CHILD, str(stub), e2e], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert f"stub loaded: {stub}" in out
    assert "1 passed" in out, out
