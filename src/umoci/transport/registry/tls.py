"""The TLS settings for one registry host (containers-certs.d(5), Docker's ``certs.d``).

A certificate directory holds ``*.crt`` files (CA certificates, trusted on
top of the system's), and ``NAME.cert`` / ``NAME.key`` pairs (a client
certificate and its key).  It is ``--cert-dir`` when given, else every one
of ``$HOME/.config/containers/certs.d/HOST[:PORT]``,
``/etc/containers/certs.d/HOST[:PORT]`` and
``/etc/docker/certs.d/HOST[:PORT]`` that exists.

With ``--tls-verify=false`` any certificate is accepted (a client pair is
still offered), and the client may fall back to plain HTTP.
"""

from __future__ import annotations

import os
import ssl

from umoci.errors import TransportError

#: The system-wide ``certs.d`` roots, searched after the user's own.
SYSTEM_CERTS_D = ("/etc/containers/certs.d", "/etc/docker/certs.d")


def cert_dirs(host: str, cert_dir: str | None) -> list[str]:
    """The certificate directories that apply to *host* (``HOST[:PORT]``)."""
    if cert_dir is not None:
        return [cert_dir]
    user = os.path.join(os.path.expanduser("~"), ".config", "containers", "certs.d")
    candidates = [os.path.join(root, host) for root in (user, *SYSTEM_CERTS_D)]
    return [path for path in candidates if os.path.isdir(path)]


def ssl_context(host: str, *, verify: bool, cert_dir: str | None) -> ssl.SSLContext:
    """An SSL context for *host*: system CAs plus those of its certificate directories."""
    if verify:
        context = ssl.create_default_context()
    else:  # no CA is consulted: the system's are not even loaded
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    for directory in cert_dirs(host, cert_dir):
        _load_dir(context, directory)
    return context


def _load_dir(context: ssl.SSLContext, directory: str) -> None:
    try:
        names = sorted(os.listdir(directory))
    except OSError as err:
        raise TransportError(f"certificate directory {directory}: {err.strerror}") from None
    for name in names:
        path = os.path.join(directory, name)
        try:
            if name.endswith(".crt"):
                context.load_verify_locations(cafile=path)
            elif name.endswith(".cert"):
                key = path[: -len(".cert")] + ".key"
                if not os.path.exists(key):
                    raise TransportError(f"{path}: client certificate without its key {key}")
                context.load_cert_chain(path, key)
            elif name.endswith(".key"):
                cert = path[: -len(".key")] + ".cert"
                if not os.path.exists(cert):
                    raise TransportError(f"{path}: client key without its certificate {cert}")
        except (ssl.SSLError, OSError) as err:
            raise TransportError(f"{path}: cannot load: {err}") from None
