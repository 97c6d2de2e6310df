"""Imported by Python at start-up when this folder is on PYTHONPATH (the kill and lock tests).

With XW_PAUSE_AT set to a botocore event name (e.g. ``after-call.iam.CreateRole``), every boto3
session the process makes gets a handler on that event which, the first time it fires, writes
the process id to XW_PAUSE_MARKER and sleeps - so a test can SIGKILL the process at exactly
that point of a real ``python -m wizard apply``. The wizard's code is not touched.
"""

import os

if os.environ.get("XW_PAUSE_AT"):
    import threading
    import time

    import botocore.handlers

    _fired = threading.Event()

    def _pause(**_: object) -> None:
        if _fired.is_set():
            return
        _fired.set()
        marker = os.environ["XW_PAUSE_MARKER"]
        with open(marker + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.replace(marker + ".tmp", marker)
        time.sleep(600)

    botocore.handlers.BUILTIN_HANDLERS.append((os.environ["XW_PAUSE_AT"], _pause))
