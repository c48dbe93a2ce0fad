"""SSL contexts for the two trust stores dtdoctor judges endpoints against.

``system``: the platform's trust store (OpenSSL's default paths, honouring
``SSL_CERT_FILE``/``SSL_CERT_DIR``), plus ``--ca-bundle``. ``certifi``:
Mozilla's bundle as shipped in certifi, plus ``--ca-bundle``: what clients
that vendor certifi (most Python tools) trust.
"""

from __future__ import annotations

import ssl
from pathlib import Path

SYSTEM = "system"
CERTIFI = "certifi"


def ssl_context(store: str = SYSTEM, ca_bundle: Path | None = None) -> ssl.SSLContext:
    if store == CERTIFI:
        import certifi

        context = ssl.create_default_context(cafile=certifi.where())
    else:
        context = ssl.create_default_context()
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    return context
