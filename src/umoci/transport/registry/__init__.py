"""``docker://``: registries speaking the OCI distribution API (and Docker's v2 API).

The only package of umoci that imports an HTTP client (urllib3), and only
``umoci copy`` imports it, when a name says ``docker://``::

    options      RegistryOptions: credentials, TLS, retries (no HTTP here)
    credentials  --creds, --authfile, auth.json, ~/.docker/config.json, helpers
    auth         WWW-Authenticate challenges, bearer tokens, redaction of secrets
    tls          SSL contexts from --cert-dir and the certs.d directories
    client       one repository: ping, auth, redirects, retries, timeouts
    source       pull: manifests negotiated and capped, blobs verified and resumed
    destination  push: HEAD, mount, monolithic or chunked upload, manifests, tags
"""
