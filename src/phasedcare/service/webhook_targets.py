"""Where webhooks may go: a URL's host resolved, every address judged, the checked one pinned.

A subscriber names a URL; phasedcare then connects from inside the operator's network, so
a URL that reaches that network (loopback, RFC 1918, link-local cloud metadata, ...) would
let anyone who may subscribe probe it (SSRF). :meth:`WebhookTargets.check` therefore:

1. refuses what no webhook URL may hold (user information, a fragment, whitespace, a
   non-ASCII host: homographs are refused, not IDNA-encoded; write ``xn--`` names);
2. reads IP literals in every spelling the C library accepts (``127.1``, ``2130706433``,
   ``0x7f000001``, ``017700000001``, ``[::ffff:127.0.0.1]``) as the address they are;
3. refuses internal names without asking DNS: single-label names (``metadata``,
   ``instance-data``), cloud metadata names and private suffixes (``.internal``, ``.local``);
   ``localhost`` and ``*.localhost`` are loopback (RFC 6761);
4. resolves any other name (``getaddrinfo``, or the resolver passed in) and refuses it when
   ANY address is not globally routable, IPv4 embedded in IPv6 (mapped, translated,
   compatible, NAT64, 6to4) judged as the IPv4 address it carries;
5. allows only https, on the policy's ports (443 and 8443 by default).

The answer is a :class:`WebhookTarget` holding the one address that was checked; the sender
connects to that address and never resolves the name again (no DNS rebinding). Loopback
(http and any port included) is allowed only when the settings say so, for tests.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import SplitResult, unquote, urlsplit

from phasedcare.errors import TargetRefused

__all__ = [
    "DEFAULT_PORTS",
    "Address",
    "Resolver",
    "WebhookTarget",
    "WebhookTargets",
    "internal_reason",
    "system_resolver",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
"""Resolves ``(host, port)`` to address texts; raises OSError when the name does not resolve."""

DEFAULT_PORTS = frozenset({443, 8443})
"""The ports webhooks may use unless the policy lists others."""

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
_METADATA_NAMES = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.internal",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
    }
)
_PRIVATE_SUFFIXES = (
    "internal",
    "local",
    "localdomain",
    "home.arpa",
    "arpa",
    "lan",
    "intranet",
    "corp",
)
_DEFAULT_PORT = {"https": 443, "http": 80}

_V4_REASONS: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/32", "the unspecified address, which reaches this machine"),
    ("0.0.0.0/8", "an address of 'this network' (0.0.0.0/8)"),
    ("127.0.0.0/8", "a loopback address"),
    ("10.0.0.0/8", "a private address (RFC 1918)"),
    ("172.16.0.0/12", "a private address (RFC 1918)"),
    ("192.168.0.0/16", "a private address (RFC 1918)"),
    ("100.64.0.0/10", "a shared CGNAT address (100.64.0.0/10), where cloud metadata answers"),
    ("169.254.0.0/16", "a link-local address, where cloud metadata answers"),
    ("255.255.255.255/32", "the broadcast address"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved address (240.0.0.0/4)"),
)
_V6_REASONS: tuple[tuple[str, str], ...] = (
    ("::/128", "the unspecified address, which reaches this machine"),
    ("::1/128", "a loopback address"),
    ("fc00::/7", "a unique local address (fc00::/7)"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address (fec0::/10)"),
    ("ff00::/8", "a multicast address"),
    ("64:ff9b:1::/48", "a local-use NAT64 address (64:ff9b:1::/48)"),
    ("2001::/32", "a Teredo tunnel address"),
)
_V4_NETWORKS = tuple((ipaddress.IPv4Network(net), why) for net, why in _V4_REASONS)
_V6_NETWORKS = tuple((ipaddress.IPv6Network(net), why) for net, why in _V6_REASONS)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # RFC 2765 (SIIT), ::ffff:0:a.b.c.d
_MAPPED = "an IPv4-mapped IPv6 form of"
_TRANSLATED_FORM = "an IPv4-translated IPv6 form of"
_COMPATIBLE = "an IPv4-compatible IPv6 form of"
_WRITE_V4_ITSELF = frozenset({_MAPPED, _TRANSLATED_FORM, _COMPATIBLE})


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the operating system resolves ``host`` to (getaddrinfo, TCP only)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in found]


def internal_reason(address: Address) -> str | None:
    """Why ``address`` is not a globally routable host address, or None when it is one."""
    if isinstance(address, ipaddress.IPv6Address):
        return _v6_reason(address)
    why = next((why for net, why in _V4_NETWORKS if address in net), None)
    if why is None and not address.is_global:
        why = "an address that is not globally routable"
    return why


def _v6_reason(address: ipaddress.IPv6Address) -> str | None:
    if address.scope_id:
        return "a link-local address with a zone index"
    embedded = _embedded_v4(address)
    if embedded is not None:
        form, v4 = embedded
        inner = internal_reason(v4)
        if inner is not None:
            return f"{form} {inner}"
        if form in _WRITE_V4_ITSELF:
            return f"{form} a public IPv4 address: write the IPv4 address itself"
        return None
    why = next((why for net, why in _V6_NETWORKS if address in net), None)
    if why is None and not address.is_global:
        why = "an address that is not globally routable"
    return why


def _embedded_v4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 address carries (mapped, translated, compatible, NAT64,
    6to4), and how."""
    low = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.ipv4_mapped is not None:
        return _MAPPED, address.ipv4_mapped
    if address in _TRANSLATED:
        return _TRANSLATED_FORM, low
    if int(address) >> 32 == 0 and int(address) > 1:
        return _COMPATIBLE, low
    if address in _NAT64:
        return "a NAT64 form of", low
    if address.sixtofour is not None:
        return "a 6to4 form of", address.sixtofour
    return None


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A checked webhook URL and the one address the sender connects to.

    Attributes:
        url: the URL as the subscriber wrote it.
        scheme: ``https`` (``http`` only to loopback in tests).
        host: the host, lower case: an ASCII name, or an IP literal without brackets.
        port: the port, explicit or the scheme's default.
        path: the path and query to request.
        address: the address that was checked; the connection goes there, nowhere else.
    """

    url: str
    scheme: str
    host: str
    port: int
    path: str
    address: Address

    @property
    def connect_url(self) -> str:
        """The URL to request: the checked address in place of the name."""
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{self.scheme}://{literal}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        """The Host header: the name (or literal) the subscriber wrote, with a non-default port."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORT[self.scheme] else f"{host}:{self.port}"

    @property
    def server_name(self) -> str | None:
        """The TLS server name (SNI, and the name the certificate must carry); None for a
        literal address, whose certificate must then name the address itself."""
        return None if _is_literal(self.host) else self.host


class WebhookTargets:
    """Judges webhook URLs; see the module's docstring for what is refused and why."""

    def __init__(
        self,
        *,
        allow_loopback: bool = False,
        ports: Collection[int] = DEFAULT_PORTS,
        resolver: Resolver = system_resolver,
    ) -> None:
        self._allow_loopback = allow_loopback
        self._ports = frozenset(ports)
        self._resolve = resolver

    def check(self, url: str) -> WebhookTarget:
        """The target ``url`` names, with its checked address; otherwise say why not.

        Raises:
            TargetRefused: with ``field="url"`` and the reason; ``transient`` when the host
                did not resolve (worth trying again later).
        """
        parts = _split_url(url)
        if parts.scheme not in _DEFAULT_PORT or (
            parts.scheme == "http" and not self._allow_loopback
        ):
            _refuse("a webhook URL must use https (http only to a loopback host in tests)")
        host = _host(parts)
        port = parts.port if parts.port is not None else _DEFAULT_PORT[parts.scheme]
        self._check_port(port, loopback=self._allow_loopback)  # before any DNS lookup
        addresses = self._addresses(host, port)
        for address in addresses:
            self._judge(address, literal=_is_literal(host))
        loopback = all(a.is_loopback for a in addresses)
        if parts.scheme == "http" and not loopback:
            _refuse("a webhook URL must use https (http only to a loopback host in tests)")
        self._check_port(port, loopback=loopback)
        path = parts.path or "/"
        query = f"?{parts.query}" if parts.query else ""
        return WebhookTarget(url, parts.scheme, host, port, path + query, addresses[0])

    def _check_port(self, port: int, *, loopback: bool) -> None:
        """Only the allowed ports; loopback (allowed in tests only) on any port."""
        if port not in self._ports and not loopback:
            allowed = ", ".join(str(p) for p in sorted(self._ports))
            _refuse(f"a webhook URL's port must be one of {allowed}, not {port}")

    def _addresses(self, host: str, port: int) -> list[Address]:
        """The host's addresses: a literal as itself, localhost as loopback, names resolved."""
        literal = _literal_address(host)
        if literal is not None:
            return [literal]
        name = host.removesuffix(".")
        if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
            return [ipaddress.IPv4Address("127.0.0.1")]
        _check_name(name)
        try:
            answers = self._resolve(host, port)
        except (OSError, UnicodeError):
            answers = []
        if not answers:
            _refuse("the webhook host does not resolve (try again when it does)", transient=True)
        return [_parse_answer(answer) for answer in answers]

    def _judge(self, address: Address, *, literal: bool) -> None:
        reason = internal_reason(address)
        if reason is None or (self._allow_loopback and address.is_loopback):
            return
        _refuse(f"the webhook host {'is' if literal else 'resolves to'} {reason}")


def _split_url(url: str) -> SplitResult:
    """Split a URL, refusing what no webhook URL may hold."""
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        _refuse("a webhook URL may not hold whitespace or control characters")
    parts = urlsplit(url)
    if "#" in url:
        _refuse("a webhook URL may not have a fragment")
    if "@" in parts.netloc:
        _refuse("a webhook URL may not hold a user name or password")
    if not parts.hostname:
        _refuse("a webhook URL needs a host")
    try:
        _ = parts.port
    except ValueError:
        _refuse("a webhook URL's port is not a number between 0 and 65535")
    return parts


def _host(parts: SplitResult) -> str:
    """The host, lower case, refusing non-ASCII (homograph) names."""
    host = unquote(parts.hostname or "").lower()
    if not host.isascii():
        _refuse(
            "a webhook host must be ASCII: non-ASCII names are refused (homographs); "
            "write an internationalised name in its xn-- form"
        )
    return host


def _is_literal(host: str) -> bool:
    return ":" in host or _looks_numeric(host)


def _looks_numeric(host: str) -> bool:
    """Whether a host is meant as an IPv4 number: no DNS name ends in a numeric label."""
    last = host.removesuffix(".").rsplit(".", 1)[-1]
    return last.isdigit() or last.startswith("0x")


def _literal_address(host: str) -> Address | None:
    """An IP literal in any spelling getaddrinfo accepts, as its address; None for a name."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            _refuse("the webhook host is not a valid IPv6 address")
    if not _looks_numeric(host):
        return None
    try:
        packed = socket.inet_aton(host.removesuffix("."))
    except OSError:
        _refuse("the webhook host is not a valid IPv4 address")
    return ipaddress.IPv4Address(packed)


def _check_name(name: str) -> None:
    """Refuse names that reach the operator's own network, without asking DNS."""
    if name in _METADATA_NAMES:
        _refuse("the webhook host is a cloud metadata service's name")
    if "." not in name:
        _refuse(
            "the webhook host must be a fully qualified name: single-label names "
            "(such as metadata or instance-data) resolve inside the operator's network"
        )
    suffix = next((s for s in _PRIVATE_SUFFIXES if name.endswith(f".{s}")), None)
    if suffix is not None:
        _refuse(f"the webhook host is under .{suffix}, a private-use name")


def _parse_answer(answer: str) -> Address:
    try:
        return ipaddress.ip_address(answer)
    except ValueError:
        _refuse("the webhook host resolves to something that is not an IP address")


def _refuse(reason: str, *, transient: bool = False) -> NoReturn:
    raise TargetRefused(reason, transient=transient)
