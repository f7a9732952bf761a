"""The known-household lookup: a keyed blind index over names and dates of birth.

A new melding must be linked to a household Veilig Thuis already knows, without any name
stored in clear. Each recorded member yields HMAC-SHA256 tokens of their normalised name, and
of name plus date of birth, under an index key kept in the key folder. The tokens reveal
nothing without the key; a lookup computes the same tokens and finds the cases.

The same key also yields, under a label of its own, the sub-key of the HTTP API's request
digests (Idempotency-Key), so those too confirm no guessed name without the key folder.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import unicodedata
from datetime import date
from pathlib import Path

from phasedcare.errors import StoreError
from phasedcare.ledger.files import write_new_file

__all__ = ["BlindIndex", "normalise_name"]

_REQUEST_DIGEST_LABEL = b"phasedcare-request-digest-v1"


def normalise_name(name: str) -> str:
    """Lower case, no accents or punctuation, 'Émile Vries-Ot' gives 'emile vries ot'."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain.casefold()).split())


class BlindIndex:
    """Tokens of names and dates of birth under one secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise StoreError("the blind-index key must be at least 32 bytes")
        self._key = key
        self._request_key = hmac.new(key, _REQUEST_DIGEST_LABEL, hashlib.sha256).digest()

    @classmethod
    def generate(cls) -> BlindIndex:
        """An index with a fresh key (tests and the in-memory engine)."""
        return cls(os.urandom(32))

    @classmethod
    def in_folder(cls, folder: Path, *, create: bool = False) -> BlindIndex:
        """The index key ``index.key`` (0600) in the key folder."""
        path = folder / "index.key"
        if not path.exists():
            if not create:
                raise StoreError(f"no blind-index key in {folder}: run phasedcare init")
            write_new_file(path, os.urandom(32))
        return cls(path.read_bytes())

    def _token(self, kind: str, value: str) -> bytes:
        return hmac.new(self._key, f"{kind}|{value}".encode(), hashlib.sha256).digest()

    def tokens(self, name: str, date_of_birth: date | None) -> list[bytes]:
        """The tokens a member with this name (and date of birth) is found by."""
        normal = normalise_name(name)
        found = [self._token("name", normal)]
        if date_of_birth is not None:
            found.append(self._token("name+dob", f"{normal}|{date_of_birth.isoformat()}"))
        return found

    def query(self, name: str, date_of_birth: date | None) -> bytes:
        """The one token to look up: name and date of birth when given, else the name."""
        return self.tokens(name, date_of_birth)[-1]

    def request_digest(self, text: bytes) -> str:
        """HMAC-SHA256 (hex) of a request under the sub-key HMAC(index key, label).

        The label sets the sub-key apart from the index's tokens: neither can be computed
        from the other, and no digest without the index key.
        """
        return hmac.new(self._request_key, text, hashlib.sha256).hexdigest()
