"""How ``umoci copy`` talks to one registry: credentials, TLS, retries (no HTTP client here).

These records are built by the command line and the Python API before any
network code is imported, so this module imports nothing heavy.
"""

from __future__ import annotations

from umoci.structs import dataclass


class Secret:
    """A password or token: its ``repr`` and ``str`` never show it (logs, errors, tracebacks).

    *value* is the secret text (``USER:PASSWORD`` for ``creds``).

    Example::

        >>> Secret("user:hunter2")
        Secret(<redacted>)
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that sends it.

        Example::

            >>> Secret("user:hunter2").reveal()
            'user:hunter2'
        """
        return self._value

    def __repr__(self) -> str:
        return "Secret(<redacted>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class RegistryOptions:
    """One side's registry settings (skopeo's ``--src-*`` / ``--dest-*`` flags).

    *creds* is ``USER:PASSWORD`` (``--creds``); *registry_token* a bearer
    token sent as it is (``--registry-token``); *authfile* the credentials
    file read first (``--authfile``, else ``$REGISTRY_AUTH_FILE``);
    *no_creds* reads no credentials at all.  *tls_verify* False accepts
    any certificate and allows plain HTTP; *cert_dir* holds ``*.crt`` CA
    files and ``*.cert``/``*.key`` client pairs (default: the
    ``certs.d`` directories).  Requests that fail with 429, 5xx or a
    connection error are retried *retry_times* times, *retry_delay*
    seconds apart (None: 1 s doubling each time); *timeout* is how many
    seconds a connection may stay silent before the transfer is given up.

    Example::

        from umoci.api import RegistryOptions, Secret, copy

        push = RegistryOptions(creds=Secret("ci:" + token), retry_times=3)
        copy("oci:image:1.0", "docker://registry.example:5000/app:1.0", dest_registry=push)
    """

    creds: Secret | None = None
    registry_token: Secret | None = None
    authfile: str | None = None
    no_creds: bool = False
    tls_verify: bool = True
    cert_dir: str | None = None
    retry_times: int = 0
    retry_delay: float | None = None
    timeout: float = 60.0
