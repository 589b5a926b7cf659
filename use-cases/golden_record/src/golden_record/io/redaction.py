"""Passwords never leave the process: one parser for database URLs, one scrubber for all output.

``DATABASE_URL`` may take every form libpq accepts — ``postgresql://user:pw@host/db``,
``postgres://…``, ``…/db?password=pw``, SQLAlchemy's ``postgresql+psycopg://…``, or a key=value
DSN (``host=… user=… password='p w' dbname=…``) — and ``MLFLOW_TRACKING_URI`` may carry
``http://user:pw@host``. They are parsed with psycopg's ``conninfo_to_dict`` (the libpq parser)
rather than by hand, and shown through :func:`safe_target` / :func:`redact`, which drop the
password (an unparseable string is never echoed).

Every password met while resolving a URL is registered (:func:`register_secret`); :func:`scrub`
removes the registered secrets (also percent-encoded, percent-decoded, DSN-quoted and
JSON-escaped) plus generic ``password=…`` and ``://user:pw@`` patterns from any text. It is the
one path for strings that leave the process: terminal lines (:func:`protect_process` wraps
stdout/stderr of every entry point, so tracebacks, warnings and log records pass through it too),
MLflow tags and artifacts, and exported baselines.

Secrets shorter than :data:`MIN_SECRET_LENGTH` characters are not replaced as bare substrings
(that would mangle ordinary text); the structural patterns still remove them from URLs and DSNs.
"""
from __future__ import annotations

import json
import os
import re
import sys
import threading
from typing import Any, Iterable
from urllib.parse import parse_qsl, quote, quote_plus, unquote, unquote_plus, urlencode, urlsplit, urlunsplit

UNPARSEABLE = "<unparseable DATABASE_URL>"
UNPARSEABLE_URI = "<unparseable URI>"
MASK = "***"
MIN_SECRET_LENGTH = 4
#: connection parameters whose values are secrets
SECRET_KEYS = ("password", "sslpassword")

_secrets: set[str] = set()
_lock = threading.Lock()
_pattern: re.Pattern | None = None
_pattern_for = 0          # the registry size _pattern was built for (secrets are only ever added)

_SCHEME = re.compile(r"^\s*postgres(?:ql)?(?:\+[A-Za-z0-9_]+)?://", re.IGNORECASE)
# ://user:password@  (a password may hold anything but whitespace, "/" and "@")
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^\s:/?#@'\"\[\]]*):(?P<pw>[^\s/@]*)@")
# password=… / sslpassword=… in a DSN or a query string; quoted DSN values included
_KEY_VALUE = re.compile(r"(?P<key>(?:ssl)?password\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'?|[^\s&;,'\"]+)",
                        re.IGNORECASE)
# placeholders in help texts ("postgresql://USER:PASSWORD@HOST", "password=…") are no secrets
_PLACEHOLDER = re.compile(r"^(?:\[?:?PASSWORD\]?|'?(?:…|\.\.\.|\*+)'?)$")
# "password": "…" / 'password': '…' in JSON or a Python repr
_MAPPING = re.compile(r"(?P<key>[\"'](?:ssl)?password[\"']\s*:\s*)(?P<q>[\"'])(?:(?!(?P=q))[^\\]|\\.)*(?P=q)",
                      re.IGNORECASE)


# --------------------------------------------------------------------------- parsing
def libpq_form(url: str) -> str:
    """SQLAlchemy-style ``postgresql+psycopg://`` (or ``postgres://``) as the ``postgresql://`` URL
    libpq accepts; a key=value DSN unchanged."""
    url = url.strip()
    match = _SCHEME.match(url)
    return "postgresql://" + url[match.end():] if match else url


def is_url(dsn: str) -> bool:
    return bool(_SCHEME.match(dsn))


def parse(dsn: str) -> dict[str, str]:
    """Connection parameters of a URL or key=value DSN (libpq's own parser, through psycopg).

    Raises ``psycopg.ProgrammingError`` for a string libpq rejects; its message may quote the
    string, so pass it through :func:`scrub` before showing it.
    """
    from psycopg.conninfo import conninfo_to_dict

    register_url(dsn)
    return {k: str(v) for k, v in conninfo_to_dict(libpq_form(dsn)).items() if v is not None}


def build_url(params: dict[str, str], with_password: bool = False) -> str:
    """``postgresql://user[:password]@host:port/dbname?other=params`` from connection parameters.

    A socket folder or a host list whose ports do not line up goes into the query string, as libpq
    allows. Without ``with_password`` no secret parameter is rendered.
    """
    p = dict(params)
    password = p.pop("password", None)
    if not with_password:
        for key in SECRET_KEYS:
            p.pop(key, None)
    user, host, port, dbname = (p.pop(k, "") for k in ("user", "host", "port", "dbname"))
    hosts = host.split(",") if host else []
    ports = port.split(",") if port else []
    netloc = ""
    if hosts and all(h and not h.startswith(("/", "@")) for h in hosts) and len(ports) in (0, 1, len(hosts)):
        ports = ports * len(hosts) if len(ports) == 1 else ports
        netloc = ",".join((f"[{h}]" if ":" in h else quote(h, safe="")) + (f":{ports[i]}" if ports else "")
                          for i, h in enumerate(hosts))
    else:  # a socket folder, or hosts and ports that do not pair up: as query parameters
        p = {**({"host": host} if host else {}), **({"port": port} if port else {}), **p}
    userinfo = quote(user, safe="")
    if with_password and password:
        userinfo += ":" + quote(password, safe="")
    url = "postgresql://" + (f"{userinfo}@" if userinfo else "") + netloc
    url += f"/{quote(dbname, safe='')}" if dbname else ""
    if p:
        url += "?" + urlencode(p, safe="/", quote_via=quote)
    return url


def safe_target(dsn: str) -> str:
    """The database a URL or DSN points at, as a URL without any password: safe to print, log and
    store. A string libpq rejects is never echoed: ``<unparseable DATABASE_URL>``."""
    try:
        params = parse(dsn)
    except Exception:  # noqa: BLE001 - psycopg.ProgrammingError, TypeError...: unparseable
        return UNPARSEABLE
    if not all(p.isdigit() for p in params.get("port", "0").split(",")):
        return UNPARSEABLE  # "user:pa/ss@host" reads as host "user", port "pa": libpq rejects it too
    return scrub(build_url(params))


def redact(url: str) -> str:
    """Any URL (a tracking URI, a database URL) with its password removed, keeping its scheme; a
    key=value DSN as :func:`safe_target` shows it."""
    if not url:
        return url
    register_url(url)
    if "://" not in url:
        return safe_target(url)
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return UNPARSEABLE_URI
    netloc = parts.netloc
    if "@" not in netloc and not re.search(r"password", parts.query, re.IGNORECASE):
        # nothing to remove: the URL as written (urlunsplit would turn sqlite:////abs/path into
        # sqlite://abs/path, which no tool can open)
        return scrub(url.strip())
    if "@" in netloc:
        userinfo, hostport = netloc.rsplit("@", 1)
        netloc = f"{userinfo.split(':', 1)[0]}@{hostport}"
    query = parts.query
    if query and re.search(r"password", query, re.IGNORECASE):
        query = urlencode([(k, v) for k, v in parse_qsl(query, keep_blank_values=True)
                           if "password" not in k.lower()], safe="/", quote_via=quote)
    return scrub(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


# --------------------------------------------------------------------------- the secret registry
def _variants(value: str) -> set[str]:
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value, safe=""), quote_plus(value),
             unquote(value), unquote_plus(value),
             value.replace("\\", "\\\\").replace("'", "\\'"),       # quoted in a DSN
             json.dumps(value)[1:-1], repr(value)[1:-1]}             # escaped in JSON / a repr
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


def register_secret(value: str | None) -> None:
    """Remember a secret (a password, a token) so that :func:`scrub` removes it from any text."""
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets.update(_variants(value))


def secrets_in(url: str) -> list[str]:
    """The passwords a URL or DSN carries, found even in one the parser rejects."""
    if not url:
        return []
    found: list[str] = []
    try:
        from psycopg.conninfo import conninfo_to_dict

        params = conninfo_to_dict(libpq_form(url))
        found += [str(params[k]) for k in SECRET_KEYS if params.get(k)]
    except Exception:  # noqa: BLE001 - unparseable: fall back to the patterns below
        pass
    for m in _USERINFO.finditer(url):
        found.append(m.group("pw"))
    if "://" in url and not found:  # a password holding "/" that the pattern above cannot delimit
        userinfo = url.split("://", 1)[1].rsplit("@", 1)[0] if "@" in url else ""
        if ":" in userinfo and not re.search(r"[?#\s]", userinfo):
            found.append(userinfo.split(":", 1)[1])
    for m in _KEY_VALUE.finditer(url):
        value = m.group("value")
        if value.startswith("'"):
            value = re.sub(r"\\(.)", r"\1", value.strip("'"))
        found.append(value)
    return [s for s in dict.fromkeys(found) if s]


def register_url(url: str | None) -> None:
    """Register every password ``url`` (a database URL, a DSN or a tracking URI) carries."""
    for secret in secrets_in(url or ""):
        register_secret(secret)


def register_environment() -> None:
    """Register the secrets of ``DATABASE_URL``, ``MLFLOW_TRACKING_URI`` and libpq's ``PGPASSWORD``."""
    register_url(os.environ.get("DATABASE_URL"))
    register_url(os.environ.get("MLFLOW_TRACKING_URI"))
    register_secret(os.environ.get("PGPASSWORD"))
    register_secret(os.environ.get("MLFLOW_TRACKING_PASSWORD"))


def registered() -> frozenset[str]:
    with _lock:
        return frozenset(_secrets)


def _secret_pattern() -> re.Pattern | None:
    """One alternation of the registered secrets, longest first, each delimited like a word where
    it starts or ends with a letter or digit (so a password "Ravi1" leaves "Ravi123" alone)."""
    global _pattern, _pattern_for
    with _lock:
        if _pattern_for != len(_secrets):
            parts = [(r"(?<![A-Za-z0-9])" if s[0].isalnum() else "") + re.escape(s)
                     + (r"(?![A-Za-z0-9])" if s[-1].isalnum() else "")
                     for s in sorted(_secrets, key=len, reverse=True)]
            _pattern = re.compile("|".join(parts)) if parts else None
            _pattern_for = len(_secrets)
        return _pattern


# --------------------------------------------------------------------------- scrubbing
def _mask_key_value(m: re.Match) -> str:
    if _PLACEHOLDER.match(m.group("value")):
        return m.group(0)
    return m.group("key") + ("'***'" if m.group("value").startswith("'") else MASK)


def _drop_userinfo_password(m: re.Match) -> str:
    if _PLACEHOLDER.match(m.group("pw")):
        return m.group(0)
    return f"{m.group('head')}{m.group('user')}@"


def scrub(text: str) -> str:
    """``text`` without any registered secret (replaced by ``***``), without the password of any
    ``scheme://user:password@`` (removed) and with every ``password=…`` value masked."""
    if not text or not isinstance(text, str):
        return text
    pattern = _secret_pattern()
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _USERINFO.sub(_drop_userinfo_password, text)
    text = _KEY_VALUE.sub(_mask_key_value, text)
    return _MAPPING.sub(lambda m: f"{m.group('key')}{m.group('q')}{MASK}{m.group('q')}", text)


def scrub_obj(obj: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, tuples, strings) with every string scrubbed."""
    if isinstance(obj, str):
        return scrub(obj)
    if isinstance(obj, dict):
        return {scrub_obj(k) if isinstance(k, str) else k: scrub_obj(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(scrub_obj(v) for v in obj)
    return obj


class _ScrubbingStream:
    """A text stream that scrubs every write before passing it on (everything else delegated)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(scrub(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def protect_process() -> None:
    """For an entry point: register the environment's secrets and scrub everything written to
    stdout and stderr from now on (prints, tracebacks, warnings, log records, progress bars).
    Idempotent."""
    register_environment()
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, _ScrubbingStream):
            setattr(sys, name, _ScrubbingStream(stream))
