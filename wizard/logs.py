"""The tool's log file: every event of every run, redacted, for support and audits."""

from __future__ import annotations

import logging
import logging.handlers
import os
from collections.abc import Iterable

from wizard.changes import Event, Finding
from wizard.errors import redact
from wizard.paths import log_dir

LOGGER = logging.getLogger("xacct_wizard")


class RedactingFormatter(logging.Formatter):
    """Secrets never reach the file, whatever a message carries."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_file_logging() -> str:
    """Log to a rotating file under the user's log dir; returns its path."""
    path = log_dir() / "xacct-wizard.log"
    for old in [h for h in LOGGER.handlers
                if isinstance(h, logging.handlers.RotatingFileHandler)]:
        if old.baseFilename == os.path.abspath(path):
            return str(path)
        LOGGER.removeHandler(old)  # XACCT_WIZARD_HOME changed (tests): log where it says now
        old.close()
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3,
                                                   encoding="utf-8")
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(message)s"))
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.INFO)
    LOGGER.propagate = False
    return str(path)


def log_findings(findings: Iterable[Finding]) -> None:
    """Preflight problems: an error blocks the run, so the log must say so at ERROR."""
    for f in findings:
        level = {"error": logging.ERROR, "warning": logging.WARNING}.get(f.severity,
                                                                          logging.INFO)
        where = f" ({f.account})" if f.account else ""
        LOGGER.log(level, "finding %s%s: %s%s", f.step, where, f.message,
                   f"\n    Fix: {f.fix}" if f.fix else "")


def log_error(text: str, where: str = "") -> None:
    """An error shown to the user (CLI or window), with its cause and fix; only once the
    log file is set up (before that, logging's last resort would print it a second time)."""
    if not LOGGER.handlers:
        return
    LOGGER.error("%s%s", f"{where}: " if where else "", text.replace("\n", "\n    "))


def log_event(event: Event) -> None:
    level = logging.ERROR if event.kind == "step-failed" else logging.INFO
    where = f" ({event.account})" if event.account else ""
    LOGGER.log(level, "%s %s%s: %s", event.kind, event.step, where, event.message)
