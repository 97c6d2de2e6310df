"""Errors the window shows, said the same way everywhere and written to the log file.

Why one place: a user who reports "it said X" needs the log to hold X with its cause and fix,
and a page must never show a raw exception (or a secret) by accident.
"""

from __future__ import annotations


def explain(exc: BaseException) -> str:
    """The translated, redacted text of an error (cause and fix included when known)."""
    from wizard.errors import WizardError, from_exception, redact

    if not isinstance(exc, WizardError):
        translated = from_exception(exc)
        if translated.cause or translated.fix:
            exc = translated
    if isinstance(exc, WizardError):
        return redact(exc.explain())
    return redact(f"Unexpected error: {type(exc).__name__}: {exc}")


def shown(exc: BaseException, where: str) -> str:
    """``explain(exc)``, logged at ERROR as what the page ``where`` showed."""
    text = explain(exc)
    log_shown(text, where)
    return text


def log_shown(text: str, where: str) -> None:
    """Log a message the window shows as an error (the log handler redacts it again)."""
    from wizard.logs import log_error

    log_error(text, f"GUI {where}")
