"""The tool's log file: every event of every run, redacted, for support and audits."""

from __future__ import annotations

import logging
import logging.handlers

from wizard.changes import Event
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
    if not any(isinstance(h, logging.handlers.RotatingFileHandler) for h in LOGGER.handlers):
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3,
                                                       encoding="utf-8")
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(message)s"))
        LOGGER.addHandler(handler)
        LOGGER.setLevel(logging.INFO)
        LOGGER.propagate = False
    return str(path)


def log_event(event: Event) -> None:
    level = logging.ERROR if event.kind == "step-failed" else logging.INFO
    where = f" ({event.account})" if event.account else ""
    LOGGER.log(level, "%s %s%s: %s", event.kind, event.step, where, event.message)
