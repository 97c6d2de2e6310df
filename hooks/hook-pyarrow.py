"""pyarrow for xacct-wizard's sandbox (overrides the contrib hook, which takes all of pyarrow).

The sandbox builds ``pyarrow.Table``s, reads ``pyarrow.types`` and hands the tables to DuckDB;
nothing else. ``pyarrow.lib`` is a Cython extension whose own imports the module graph cannot
see, so the pure-Python modules it loads at import are listed here. Its shared libraries are
all collected (build.spec then drops Flight, S3 and the other libraries nothing links to).
"""

from PyInstaller.utils.hooks import collect_dynamic_libs

hiddenimports = [
    "pyarrow.lib",
    "pyarrow._generated_version",
    "pyarrow.ipc",
    "pyarrow.types",
    "pyarrow.util",
    "pyarrow.vendored",
    "pyarrow.vendored.version",
]
binaries = collect_dynamic_libs("pyarrow")
