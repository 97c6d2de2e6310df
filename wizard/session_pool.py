"""One set of credentials per side for a whole run: MFA asked once, never two prompts at once.

Every page of the GUI (and every step of the engine) used to build its own boto3 Session from
a profile, and botocore resolved - and, for an MFA-protected role, prompted - once per session:
five or six one-time codes per run, three of them at once on the Connector page. AWS refuses a
code it has already seen, so each prompt meant waiting for the next one.

The pool resolves a credential reference once, under a lock, and keeps botocore's refreshable
credentials object in memory (never on disk, unlike the AWS CLI's cache). Each caller still
gets a fresh boto3 Session (Sessions are not thread-safe; clients made from one are), but all
of a side's sessions share that credentials object, so:

* the MFA prompt runs once per side, when the credentials are first needed;
* botocore refreshes them shortly before they expire - asking for one new code then;
* prompts of different sides never overlap: they go through one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import boto3
from botocore.credentials import CredentialProvider, CredentialResolver, Credentials

from wizard.credentials import MfaPrompt, make_session
from wizard.profile import CredentialRef

_Key = tuple[str | None, str | None, str]


class _Shared(CredentialProvider):
    """A credential provider that hands out one already-resolved credentials object."""

    METHOD = "xacct-wizard-shared"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


class SessionPool:
    """Sessions whose credentials are resolved once per (credential reference, region)."""

    def __init__(self, mfa_prompt: MfaPrompt | None = None,
                 factory: Callable[..., boto3.Session] = make_session) -> None:
        self._prompt = mfa_prompt
        self._factory = factory
        self._lock = threading.Lock()
        self._prompt_lock = threading.Lock()
        self._key_locks: dict[_Key, threading.Lock] = {}
        self._credentials: dict[_Key, Credentials] = {}

    @staticmethod
    def _key(ref: CredentialRef, region: str) -> _Key:
        return (ref.profile, ref.keyring, region)

    def _one_prompt_at_a_time(self, message: str) -> str:
        assert self._prompt is not None
        with self._prompt_lock:
            return self._prompt(message)

    def session(self, ref: CredentialRef, region: str) -> boto3.Session:
        """A new Session for ``ref`` sharing the side's resolved credentials."""
        key = self._key(ref, region)
        with self._lock:
            lock = self._key_locks.setdefault(key, threading.Lock())
        prompt = self._one_prompt_at_a_time if self._prompt is not None else None
        session = self._factory(ref, region, mfa_prompt=prompt)
        with lock:
            creds = self._credentials.get(key)
            if creds is None:
                creds = session.get_credentials()
                if creds is None:
                    return session  # no credentials: the first call says so, as before
                creds.get_frozen_credentials()  # resolve now (AssumeRole, the MFA prompt)
                self._credentials[key] = creds
        session._session.register_component(  # type: ignore[attr-defined]
            "credential_provider", CredentialResolver(providers=[_Shared(creds)]))
        return session

    def forget(self, ref: CredentialRef | None = None) -> None:
        """Drop resolved credentials (of one reference, or all): the next use resolves again,
        e.g. after the keys in the keyring changed or a check found the wrong account."""
        with self._lock:
            for key in list(self._credentials):
                if ref is None or key[:2] == (ref.profile, ref.keyring):
                    del self._credentials[key]

    def __call__(self, ref: CredentialRef, region: str) -> Any:
        """The pool is an Engine ``session_factory``."""
        return self.session(ref, region)
