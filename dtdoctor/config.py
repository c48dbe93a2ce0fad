"""Configuration: environment and ActiveGate URLs, the API token, run settings.

Parsing never raises for a bad *value*: a URL or token that is wrong is kept
with the reason, so the ``config.*`` checks can report it as a result. Only
input that makes the run itself impossible (a token file that cannot be
read, a non-numeric timeout) raises ``ConfigError``, which the CLI turns into
one line and exit code 3.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Mapping, Sequence
from urllib.parse import SplitResult, unquote, urlsplit

from dtdoctor.redact import CREDENTIALS, REDACTED


class ConfigError(Exception):
    """The command line or environment is unusable; the message is one line."""


class EndpointKind(str, enum.Enum):
    SAAS = "saas"
    MANAGED = "managed"
    ENVIRONMENT_ACTIVEGATE = "environment_activegate"
    CONTAINERIZED_ACTIVEGATE = "containerized_activegate"
    ACTIVEGATE = "activegate"  # an ActiveGate given without an environment path
    UNRECOGNIZED = "unrecognized"

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]


_KIND_LABELS = {
    EndpointKind.SAAS: "Dynatrace SaaS",
    EndpointKind.MANAGED: "Dynatrace Managed (or a Containerized ActiveGate)",
    EndpointKind.ENVIRONMENT_ACTIVEGATE: "Environment ActiveGate",
    EndpointKind.CONTAINERIZED_ACTIVEGATE: "Containerized ActiveGate",
    EndpointKind.ACTIVEGATE: "ActiveGate",
    EndpointKind.UNRECOGNIZED: "unrecognised form",
}

ACTIVEGATE_DEFAULT_PORT = 9999
_DEFAULT_PORTS = {"https": 443, "http": 80}
# SaaS and platform domains, including Dynatrace's own test stages.
_SAAS_SUFFIXES = (".dynatrace.com", ".dynatracelabs.com")
_ENV_PATH = re.compile(r"^/e/(?P<env>[^/]+)")


@dataclass(frozen=True)
class Endpoint:
    """A parsed Dynatrace URL: where to connect and what kind of thing it is.

    ``base_url`` is the environment's API root (``https://h[:p][/e/<id>]``),
    to which ``/api/v2/...`` paths are appended.
    """

    scheme: str
    host: str
    port: int
    kind: EndpointKind
    environment_id: str | None
    base_url: str
    role: str  # "environment" or "activegate"
    notes: tuple[str, ...] = ()
    # The Latest Dynatrace ``apps`` host the user gave, when ``host`` was derived from it.
    converted_from: str | None = None

    @property
    def address(self) -> str:
        """``host:port`` with IPv6 hosts in brackets, as targets are written."""
        return format_address(self.host, self.port)

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(self.host)

    @property
    def plaintext(self) -> bool:
        return self.scheme == "http"

    def api_url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")


@dataclass(frozen=True)
class ParsedUrl:
    """The outcome of parsing one URL option: an endpoint, or why not."""

    text: str
    endpoint: Endpoint | None
    error: str | None = None
    role: str = "environment"  # or "activegate": what the URL was given as, even when it cannot be parsed


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback IP: names that surely stay on this machine.

    Other ``*.localhost`` names go through the resolver like any name, so
    they do not count (the token may travel over plain HTTP only to loopback).
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split_userinfo(text: str) -> tuple[str, str | None, str]:
    """(scheme://, user:password or None, rest) without parsing the URL.

    Parsing can fail on exactly the URLs users mistype (an unclosed IPv6
    bracket, a bad port), and credentials must be found in those too: the
    user information is everything before the last ``@`` of the authority.
    """
    scheme, separator, rest = text.partition("://")
    prefix = scheme + separator if separator else ""
    if not separator:
        rest = text
    authority_end = len(rest)
    at = rest.rfind("@", 0, authority_end)
    if at < 0:
        return prefix, None, rest
    return prefix, rest[:at], rest[at + 1 :]


def display_url(text: str) -> str:
    """The URL with any user:password part replaced, safe to print (parseable or not)."""
    prefix, userinfo, rest = _split_userinfo(text)
    return text if userinfo is None else f"{prefix}{CREDENTIALS}@{rest}"


def url_basic_credentials(text: str | None) -> str | None:
    """``user:password`` of a URL as a ``Basic`` header carries it (base64), for the redactor."""
    import base64

    if not text:
        return None
    _, userinfo, _ = _split_userinfo(text.strip())
    if not userinfo or ":" not in userinfo:
        return None
    user, _, password = userinfo.partition(":")
    plain = f"{unquote(user)}:{unquote(password)}"
    return base64.b64encode(plain.encode("utf-8", "replace")).decode("ascii")


def url_password(text: str | None) -> str | None:
    """The secret in a URL's user information (the password, or a lone user field), for the redactor."""
    if not text:
        return None
    _, userinfo, _ = _split_userinfo(text.strip())
    if not userinfo or userinfo == CREDENTIALS:  # a URL as shown (display_url) holds no secret
        return None
    user, colon, password = userinfo.partition(":")
    return unquote(password if colon else user) or None


def _split(text: str) -> tuple[SplitResult, int | None, list[str]] | str:
    """The parts of a URL, its port and notes; or why it cannot be used."""
    raw = text.strip()
    problem = _text_problem(raw)
    if problem is not None:
        return problem
    notes: list[str] = []
    if "://" not in raw:
        raw = "https://" + raw
        notes.append("no scheme given: assumed https://")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        return f"cannot parse the URL ({exc})"
    return _authority_problem(parts, port) or (parts, port, notes)


def parse_url(text: str, role: str = "environment") -> ParsedUrl:
    """Parse and classify an environment (``role="environment"``) or ActiveGate URL."""
    split = _split(text)
    if isinstance(split, str):
        # The text may hold credentials: only ever show it without them.
        return ParsedUrl(display_url(text), None, split, role)
    parts, port, notes = split
    if parts.query or parts.fragment:
        notes.append("query and fragment ignored")
    host, path, converted_from = _generation(parts, role, notes)
    root = _api_root(path)
    match = _ENV_PATH.match(root)
    if root and not match:
        return ParsedUrl(
            text, None, f"unexpected path {parts.path!r}: expected none (SaaS) or /e/<environment-id>", role
        )
    scheme = parts.scheme.lower()
    port = _default_port(port, scheme, role)
    path_id = match.group("env") if match else None
    kind = _classify(host, port, path_id, role)
    environment_id = host.split(".", 1)[0] if kind is EndpointKind.SAAS and path_id is None else path_id
    base_url = _origin(scheme, host, port) + (f"/e/{path_id}" if path_id else "")
    endpoint = Endpoint(scheme, host, port, kind, environment_id, base_url, role, tuple(notes), converted_from)
    return ParsedUrl(text, endpoint, role=role)


def _generation(parts: SplitResult, role: str, notes: list[str]) -> tuple[str, str, str | None]:
    """(host, path, the apps host it came from): an apps URL becomes its classic API host, a UI path is dropped."""
    host = (parts.hostname or "").rstrip(".")
    classic = classic_host(host) if role == "environment" else None
    if classic is not None:
        notes.append(f"apps URL {host}: the events API is served at {classic}")
        return classic, "", host
    if host.lower().endswith(_SAAS_SUFFIXES) and re.match(r"/+ui(/|$)", parts.path):
        # A browser address: the page's path says nothing about the API.
        notes.append("the path of the browser address was dropped")
        return host, "", None
    return host, parts.path, None


def _default_port(port: int | None, scheme: str, role: str) -> int:
    if port is not None:
        return port
    # An ActiveGate without a port is the classic Environment ActiveGate on
    # 9999; a Containerized ActiveGate is given with :443.
    return ACTIVEGATE_DEFAULT_PORT if role == "activegate" and scheme == "https" else _DEFAULT_PORTS[scheme]


def _text_problem(raw: str) -> str | None:
    if not raw:
        return "the URL is empty"
    if any(ch.isspace() for ch in raw):
        return "the URL contains white space"
    return None


def _authority_problem(parts: SplitResult, port: int | None) -> str | None:
    """Why the scheme, port, credentials or host of a URL make it unusable, or None."""
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return f"unsupported scheme {scheme!r}: use https://"
    if port == 0:
        return "port 0 is not a port a server can listen on"
    if parts.username is not None or parts.password is not None:
        return "the URL contains credentials; pass the token with DT_API_TOKEN or --token-file"
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return "the URL has no host name"
    if not _valid_host(host):
        return f"{host!r} is not a valid host name or IP address"
    return None


def _origin(scheme: str, host: str, port: int) -> str:
    host_part = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host_part}" if port == _DEFAULT_PORTS[scheme] else f"{scheme}://{host_part}:{port}"


def classic_host(host: str) -> str | None:
    """The host serving the classic Environment API for a Latest Dynatrace ``apps`` host, or None.

    The same mapping as Dynatrace's operator (``pkg/util/dtapiurl``,
    ``mapToSecondGen``: "Environment V2 API ... is only served on 2nd gen
    URLs"), its Monaco tool and its Terraform provider: the host is split at
    the first ``.apps.``; a bare environment id gets ``.live.``
    (``<id>.apps.dynatrace.com`` -> ``<id>.live.dynatrace.com``), a staged
    one just loses ``apps`` (``<id>.sprint.apps.dynatracelabs.com`` ->
    ``<id>.sprint.dynatracelabs.com``, ``.dev.`` likewise). Only Dynatrace's
    own domains are mapped: an ``apps`` label elsewhere is someone else's name.
    """
    lowered = host.lower()
    if not lowered.endswith(_SAAS_SUFFIXES) or ".apps." not in lowered:
        return None
    prefix, suffix = lowered.split(".apps.", 1)
    if not prefix:
        return None
    return f"{prefix}.{suffix}" if "." in prefix else f"{prefix}.live.{suffix}"


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.split(".")
    return all(re.fullmatch(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)", label) for label in labels) and len(host) <= 253


def _api_root(path: str) -> str:
    """Drop a trailing ``/api/...`` and slashes: users paste full API URLs."""
    path = re.sub(r"/+", "/", path)
    environment = _ENV_PATH.match(path)  # an environment id may itself read "api": /e/api/api/v2
    start = environment.end() if environment else 0
    api = re.search(r"(^|/)api(/|$)", path[start:])
    if api:
        path = path[: start + api.start()]
    return path.rstrip("/")


def _classify(host: str, port: int, environment_id: str | None, role: str) -> EndpointKind:
    is_saas_domain = host.lower().endswith(_SAAS_SUFFIXES)
    if environment_id is None:
        if role == "activegate":
            return EndpointKind.ACTIVEGATE
        return EndpointKind.SAAS if is_saas_domain else EndpointKind.UNRECOGNIZED
    if port == ACTIVEGATE_DEFAULT_PORT:
        return EndpointKind.ENVIRONMENT_ACTIVEGATE
    if role == "activegate":
        return EndpointKind.CONTAINERIZED_ACTIVEGATE
    return EndpointKind.MANAGED


# --- tokens -----------------------------------------------------------------

# docs: "Access tokens" / "Tokens and authentication": dt0<letter><2 digits>.<public>.<secret>
TOKEN_PATTERN = re.compile(r"dt0[a-zA-Z][0-9]{2}\.[A-Z0-9]{8,24}\.[A-Z0-9]{64}")
_PUBLIC_LENGTH = 24
_SHORT_PUBLIC_LENGTH = 8  # ActiveGate tokens (dt0g..) and OAuth client ids (dt0s02) have a short public part
_SECRET_LENGTH = 64
# Tokens made before Dynatrace 1.205/1.210 are a plain run of letters and
# digits (docs "Tokens and authentication": they "remain valid"). Their
# exact length is unconfirmed; 21 characters is the common one. A random
# string of that length has a digit and a letter; a word like "changeme" does not.
_OLD_FORMAT = re.compile(r"(?=.*[0-9])(?=.*[A-Za-z])[A-Za-z0-9_-]{16,64}")
# A token is about 96 characters; a first line far longer is some other file.
MAX_TOKEN_LINE = 4096


class TokenKind(str, enum.Enum):
    """What a configured token is, by its prefix (docs "Tokens and authentication", token prefixes)."""

    CLASSIC = "classic"  # dt0c01: an access token for the classic Environment API
    OLD_FORMAT = "old_format"  # no prefix: made before Dynatrace 1.205/1.210
    PLATFORM = "platform"  # dt0s16 (dynatrace-operator: every dt0s prefix is a platform token)
    OAUTH_CLIENT = "oauth_client"  # dt0s02.<8>: an OAuth client id, or its secret
    ACTIVEGATE = "activegate"  # dt0g02.<8>.<64>: an ActiveGate's own token
    OTHER = "other"  # another dt0 prefix of the documented shape

    @property
    def label(self) -> str:
        return _TOKEN_LABELS[self]


_TOKEN_LABELS = {
    TokenKind.CLASSIC: "access token",
    TokenKind.OLD_FORMAT: "old-format access token",
    TokenKind.PLATFORM: "platform token",
    TokenKind.OAUTH_CLIENT: "OAuth client credential",
    TokenKind.ACTIVEGATE: "ActiveGate token",
    TokenKind.OTHER: "token",
}

# The kinds that are not API tokens at all: no check may send them.
WRONG_KINDS = (TokenKind.OAUTH_CLIENT, TokenKind.ACTIVEGATE)

# docs "Tokens and authentication": the header for the classic Environment API
# is ``Api-Token``; dynatrace-operator sends every token, platform ones
# included, that way (pkg/clients/dynatrace/core/client.go). ``Bearer`` is
# documented for platform services only (docs "Platform tokens").
CLASSIC_API_SCHEME = "Api-Token"


def token_kind(value: str) -> TokenKind | None:
    """The kind a token's prefix names; None for text that is no token of any kind."""
    prefix = value.split(".", 1)[0]
    if re.fullmatch(r"dt0[a-zA-Z][0-9]{2}", prefix):
        lowered = prefix.lower()
        if lowered == "dt0s02":
            return TokenKind.OAUTH_CLIENT
        by_letter = {"c": TokenKind.CLASSIC, "s": TokenKind.PLATFORM, "g": TokenKind.ACTIVEGATE}
        return by_letter.get(lowered[3], TokenKind.OTHER)
    if "." not in value and _OLD_FORMAT.fullmatch(value) and not value.lower().startswith("dt0"):
        return TokenKind.OLD_FORMAT
    return None


@dataclass(frozen=True)
class Token:
    """An API token. ``secret`` is the part that must never be shown."""

    value: str = field(repr=False)
    kind: TokenKind = TokenKind.CLASSIC

    @property
    def prefix(self) -> str:
        return "" if self.kind is TokenKind.OLD_FORMAT else self.value.split(".")[0]

    @property
    def public(self) -> str:
        return "" if self.kind is TokenKind.OLD_FORMAT else self.value.split(".")[1]

    @property
    def secret(self) -> str:
        """The part to hide: all of an old-format token, which has no public part."""
        return self.value if self.kind is TokenKind.OLD_FORMAT else self.value.split(".")[2]

    @property
    def token_id(self) -> str:
        """Prefix and public part: the token id, safe to show (an old-format token: a short prefix)."""
        if self.kind is TokenKind.OLD_FORMAT:
            return self.value[:4] + "..."
        return f"{self.prefix}.{self.public}"

    @property
    def redacted(self) -> str:
        if self.kind is TokenKind.OLD_FORMAT:
            return f"{self.token_id}<redacted>"
        return f"{self.token_id}.<redacted>"

    @property
    def is_platform(self) -> bool:
        return self.kind is TokenKind.PLATFORM

    @property
    def scheme(self) -> str:
        """The Authorization scheme sent to the classic API: Api-Token for every kind (see CLASSIC_API_SCHEME)."""
        return CLASSIC_API_SCHEME

    @property
    def authorization(self) -> str:
        return f"{self.scheme} {self.value}"

    def __repr__(self) -> str:
        return f"Token({self.redacted})"


@dataclass(frozen=True)
class Stray:
    """A whitespace or invisible character around or inside a token."""

    where: str  # "leading", "trailing" or "inside"
    name: str  # "space", "carriage return", "ZERO WIDTH SPACE", ...
    position: int  # 1-based, in the text as configured

    def describe(self) -> str:
        at = f" at position {self.position}" if self.where == "inside" else ""
        return f"{self.where} {self.name}{at}"


_CHARACTER_NAMES = {
    " ": "space",
    "\t": "tab",
    "\n": "newline",
    "\r": "carriage return",
    "\ufeff": "byte-order mark",
    "\u00a0": "non-breaking space",
}


def _is_stray(ch: str) -> bool:
    import unicodedata

    return ch.isspace() or unicodedata.category(ch) in ("Cf", "Cc")


def _character_name(ch: str) -> str:
    import unicodedata

    return _CHARACTER_NAMES.get(ch) or unicodedata.name(ch, f"U+{ord(ch):04X}").lower()


def find_strays(text: str) -> tuple[str, tuple[Stray, ...]]:
    """(the token without whitespace and invisible characters, where each one was)."""
    kept = [i for i, ch in enumerate(text) if not _is_stray(ch)]
    first, last = (kept[0], kept[-1]) if kept else (len(text), len(text))
    strays = tuple(
        Stray("leading" if i < first else "trailing" if i > last else "inside", _character_name(ch), i + 1)
        for i, ch in enumerate(text)
        if _is_stray(ch)
    )
    return "".join(text[i] for i in kept), strays


@dataclass(frozen=True)
class ParsedToken:
    token: Token | None
    error: str | None = None
    # A value that is not a valid token may still hold secret text; keep it
    # so it can be redacted, but never show it.
    raw: str = field(default="", repr=False)
    kind: TokenKind | None = None
    # Whitespace and invisible characters removed before parsing.
    strays: tuple[Stray, ...] = ()
    # What can be shown of a token that is not used (a wrong kind): its id.
    shown: str = ""

    @property
    def secret_text(self) -> str:
        """What the redactor must hide: the secret part where the kind says which it is, else all of it."""
        if self.token is not None:
            return self.token.secret
        parts = self.raw.split(".")
        if self.kind in WRONG_KINDS and len(parts) == 3:
            return parts[2]
        return "" if self.kind is TokenKind.OAUTH_CLIENT and len(parts) == 2 else self.raw

    @property
    def redacted(self) -> str | None:
        """How reports show the token: its id and ``<redacted>`` in place of the secret (for an ActiveGate
        token or an OAuth client credential too); None when its kind does not say which part is secret."""
        if self.token is not None:
            return self.token.redacted
        secret = self.secret_text
        if self.kind not in WRONG_KINDS or not self.shown or secret == self.raw:
            return None
        return f"{self.shown}.{REDACTED}" if secret else self.shown  # an OAuth client id alone has no secret


def parse_token(text: str) -> ParsedToken:
    """Classify and validate a token; the error never quotes the secret.

    Whitespace and invisible characters are removed first and reported in
    ``strays``, so the checks run with the value the user meant.
    """
    value, strays = find_strays(text)
    if len(value) > MAX_TOKEN_LINE:
        return ParsedToken(None, f"it is {len(value)} characters long; a token has about 96",
                           value[:MAX_TOKEN_LINE], strays=strays)
    kind = token_kind(value)
    error = _shape_error(value, kind)
    if kind in WRONG_KINDS:
        shown = ".".join(value.split(".")[:2])[:20]
        return ParsedToken(None, f"it is an {kind.label}, not an API token", value, kind, strays, shown)
    if error is not None or kind is None:
        return ParsedToken(None, error, value, kind, strays)
    return ParsedToken(Token(value, kind), None, value, kind, strays)


def _shape_error(value: str, kind: TokenKind | None) -> str | None:
    """Why ``value`` does not have the documented shape of its kind, or None."""
    if not value:
        return "the token is empty"
    if kind is None:
        return ("it neither starts with a Dynatrace token prefix such as dt0c01 nor is an old-format token "
                "(16 to 64 letters and digits)")
    if kind in (TokenKind.OLD_FORMAT, TokenKind.OAUTH_CLIENT):
        return None  # no documented inner structure to check (an OAuth client id has no secret part)
    parts = value.split(".")
    if len(parts) != 3:
        return f"it has {len(parts)} dot-separated parts, expected 3 (prefix.public.secret)"
    return _part_error(parts[1], parts[2], _SHORT_PUBLIC_LENGTH if kind is TokenKind.ACTIVEGATE else _PUBLIC_LENGTH)


def _part_error(public: str, secret: str, expected_public: int) -> str | None:
    if len(public) != expected_public:
        return f"the public part has {len(public)} characters, expected {expected_public}"
    if not re.fullmatch(r"[A-Z0-9]+", public):
        return "the public part has characters other than A-Z and 0-9"
    if len(secret) != _SECRET_LENGTH:
        return f"the secret part has {len(secret)} characters, expected {_SECRET_LENGTH}"
    bad = next((i for i, ch in enumerate(secret) if not ("A" <= ch <= "Z" or "0" <= ch <= "9")), None)
    if bad is not None:
        return (f"the secret part has a character other than A-Z and 0-9 at position {bad + 1}"
                " (copied with a quote or in lower case?)")
    return None


@dataclass(frozen=True)
class TokenSource:
    """Where the token came from, and how safely it is stored there."""

    kind: str  # "env", "file", "stdin" or "none"
    name: str  # DT_API_TOKEN, the file's path, "stdin"
    mode: int | None = None  # the file's permission bits, when a file

    @property
    def label(self) -> str:
        return {"env": "DT_API_TOKEN", "file": f"token file {self.name}", "stdin": "standard input"}.get(
            self.kind, self.name
        )


def _first_line(line: str) -> str:
    """A line as read, without its final newline: the end of a line is normal, nothing else around it is."""
    return line[:-1] if line.endswith("\n") else line


def read_token_file(path: str, stdin: IO[str] | None = None) -> tuple[str, TokenSource]:
    """Read the first line of a token file (``-``: standard input), without its final newline."""
    if path == "-":
        stream = stdin if stdin is not None else sys.stdin
        line = stream.readline(MAX_TOKEN_LINE + 1)
        if len(line.rstrip("\r\n")) > MAX_TOKEN_LINE:
            raise ConfigError(f"the first line on standard input is over {MAX_TOKEN_LINE} characters: not an API token")
        return _first_line(line), TokenSource("stdin", "stdin")
    file_path = Path(path).expanduser()
    try:
        mode = stat.S_IMODE(file_path.stat().st_mode)
        # newline="": a carriage return is kept, to be reported (a file written on Windows).
        with file_path.open(encoding="utf-8", errors="replace", newline="") as handle:
            line = handle.readline(MAX_TOKEN_LINE + 1)
    except FileNotFoundError:
        raise ConfigError(f"token file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"token file is a directory: {path}") from None
    except PermissionError:
        raise ConfigError(f"token file is not readable (permission denied): {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read token file {path}: {exc.strerror or exc}") from None
    if len(line.rstrip("\r\n")) > MAX_TOKEN_LINE:
        raise ConfigError(f"the first line of token file {path} is over {MAX_TOKEN_LINE} characters: not an API token")
    return _first_line(line), TokenSource("file", str(file_path), mode)


# --- the whole run's settings ----------------------------------------------

DEFAULT_SCOPES = ("events.ingest",)
DEFAULT_EEC_PORT = 14499
DEFAULT_TIMEOUT = 5.0
DEFAULT_EXPIRY_WARN_DAYS = 14


@dataclass(frozen=True)
class Settings:
    """Everything a run is configured with, already parsed."""

    url: ParsedUrl | None = None
    activegates: tuple[ParsedUrl, ...] = ()
    token: ParsedToken | None = None
    token_source: TokenSource = TokenSource("none", "")
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    eec_port: int | None = None  # None: discover from OneAgent, else DEFAULT_EEC_PORT
    eec_port_source: str = ""
    ca_bundle: Path | None = None
    proxy: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    expiry_warn_days: int = DEFAULT_EXPIRY_WARN_DAYS
    send_test_event: bool = False

    @property
    def environment(self) -> Endpoint | None:
        return self.url.endpoint if self.url else None

    @property
    def api_token(self) -> Token | None:
        return self.token.token if self.token else None

    @property
    def activegate_endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(parsed.endpoint for parsed in self.activegates if parsed.endpoint)

    @property
    def remote_endpoints(self) -> tuple[Endpoint, ...]:
        """Every valid remote endpoint, environment first, without duplicates."""
        seen: set[tuple[str, int]] = set()
        found: list[Endpoint] = []
        for endpoint in ((self.environment,) if self.environment else ()) + self.activegate_endpoints:
            key = (endpoint.host.lower(), endpoint.port)
            if key not in seen:
                seen.add(key)
                found.append(endpoint)
        return tuple(found)

    def token_may_go_to(self, endpoint: Endpoint) -> bool:
        """The token travels only over HTTPS, or plain HTTP to this machine."""
        return endpoint.scheme == "https" or endpoint.is_loopback


def split_list(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def parse_number(text: str, name: str, minimum: float, maximum: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {text!r}") from None
    if not minimum <= value <= maximum or value != value:
        raise ConfigError(f"{name} must be between {minimum:g} and {maximum:g}, got {text!r}")
    return value


def parse_port(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name} must be a port number, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise ConfigError(f"{name} must be between 1 and 65535, got {text!r}")
    return value


def check_ca_bundle(path: Path) -> None:
    """A --ca-bundle that OpenSSL cannot load is a usage error, not a crash in every TLS check."""
    import ssl

    if path.is_dir():
        raise ConfigError(f"CA bundle {path} is a folder: give the PEM file inside it")
    if not path.is_file():
        # A pipe (``<(...)``) would be read up by this check, leaving nothing for the TLS checks, and a
        # FIFO with no writer would block here for ever: the bundle is read more than once.
        raise ConfigError(f"CA bundle {path} is not a regular file (a pipe or a device): save the PEM to a file")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ConfigError(f"CA bundle {path} cannot be read: {exc.strerror or exc}") from None
    try:
        # An empty context: loading the system store as well would only cost time.
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=str(path))
    except (ssl.SSLError, ValueError, OSError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise ConfigError(
            f"CA bundle {path} holds no certificate OpenSSL can load ({reason}): give a PEM file"
        ) from None


def load_settings(
    *,
    url: str | None,
    activegates: Sequence[str],
    token_file: str | None,
    scopes: Sequence[str],
    eec_port: int | None,
    ca_bundle: str | None,
    proxy: str | None,
    timeout: float | None,
    expiry_warn_days: int,
    send_test_event: bool,
    environ: Mapping[str, str],
    stdin: IO[str] | None = None,
) -> Settings:
    """Combine options and environment variables; options win."""
    url_text = url if url is not None else environ.get("DT_ENVIRONMENT_URL") or None
    activegate_texts = list(activegates) or split_list(environ.get("DT_ACTIVEGATE_URLS"))
    parsed_token, source = _token(token_file, environ, stdin)
    port, port_source = _eec_port(eec_port, environ)
    limit, bundle = _timeout(timeout, environ), _ca_bundle(ca_bundle)  # in this order: the first error is shown
    return Settings(
        url=parse_url(url_text) if url_text else None,
        activegates=tuple(parse_url(text, role="activegate") for text in activegate_texts),
        token=parsed_token,
        token_source=source,
        scopes=tuple(scopes) or tuple(split_list(environ.get("DT_REQUIRED_SCOPES"))) or DEFAULT_SCOPES,
        eec_port=port,
        eec_port_source=port_source,
        ca_bundle=bundle,
        proxy=("http://" + proxy if "://" not in proxy else proxy) if proxy else None,
        timeout=limit,
        expiry_warn_days=expiry_warn_days,
        send_test_event=send_test_event,
    )


def _token(
    token_file: str | None, environ: Mapping[str, str], stdin: IO[str] | None
) -> tuple[ParsedToken | None, TokenSource]:
    """The token from --token-file, else DT_API_TOKEN, with where it came from."""
    if token_file is not None:
        text, source = read_token_file(token_file, stdin)
        return parse_token(text), source
    if environ.get("DT_API_TOKEN", "").strip():
        return parse_token(environ["DT_API_TOKEN"]), TokenSource("env", "DT_API_TOKEN")
    return None, TokenSource("none", "")


def _eec_port(eec_port: int | None, environ: Mapping[str, str]) -> tuple[int | None, str]:
    """--eec-port, else DT_EEC_PORT, with its source; None leaves it to OneAgent's configuration."""
    if eec_port is not None:
        return eec_port, "--eec-port"
    if environ.get("DT_EEC_PORT", "").strip():
        return parse_port(environ["DT_EEC_PORT"].strip(), "DT_EEC_PORT"), "DT_EEC_PORT"
    return None, ""


def _timeout(timeout: float | None, environ: Mapping[str, str]) -> float:
    if timeout is None and environ.get("DT_TIMEOUT", "").strip():
        timeout = parse_number(environ["DT_TIMEOUT"].strip(), "DT_TIMEOUT", 0.1, 300)
    if timeout is not None and not 0.1 <= timeout <= 300:
        raise ConfigError(f"--timeout must be between 0.1 and 300 seconds, got {timeout:g}")
    return timeout if timeout is not None else DEFAULT_TIMEOUT


def _ca_bundle(ca_bundle: str | None) -> Path | None:
    if ca_bundle is None:
        return None
    path = Path(ca_bundle).expanduser()
    if not path.exists():
        raise ConfigError(f"CA bundle not found: {ca_bundle}")
    check_ca_bundle(path)
    return path
