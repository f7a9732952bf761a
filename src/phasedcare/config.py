"""Settings: ``PHASEDCARE_*`` environment variables, then ``$PHASEDCARE_HOME/config.toml``.

Nothing is read at import time; :func:`load_settings` reads when an entry point asks.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from phasedcare.errors import InvalidInput

__all__ = ["CONFIG_FILE", "DEFAULT_HOME", "MEMORY_URL", "Settings", "load_settings"]

DEFAULT_HOME = Path("~/.phasedcare")
CONFIG_FILE = "config.toml"
MEMORY_URL = "memory://"
"""The database URL of the in-memory store: nothing is written to disk."""


class Settings(BaseSettings):
    """Where phasedcare keeps its data, which database and policy it uses, how it logs."""

    model_config = SettingsConfigDict(env_prefix="PHASEDCARE_", extra="forbid")

    home: Path = Field(default=DEFAULT_HOME, description="The folder for the database and policy.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default SQLite in the home; 'memory://' keeps all in memory.",
    )
    policy_file: Path | None = Field(
        default=None, description="The regional policy file; default policy.yaml in the home."
    )
    key_folder: Path | None = Field(
        default=None,
        description="The folder of key-encryption keys; default keys/ in the home. Keep it "
        "on other storage than the database to protect against a stolen database or backup.",
    )
    key_provider: Literal["file", "pkcs11"] = Field(
        default="file", description="Where KEKs live: files in key_folder, or a PKCS#11 token."
    )
    pkcs11_library: str = Field(
        default="/usr/lib/softhsm/libsofthsm2.so", description="The PKCS#11 module (.so)."
    )
    pkcs11_token: str = Field(default="phasedcare", description="The token's label.")
    pkcs11_pin: SecretStr | None = Field(default=None, description="The token's user PIN.")
    checkpoint_folder: Path | None = Field(
        default=None,
        description="Where signed checkpoints are copied (write-once storage); default "
        "checkpoints/ in the home.",
    )
    checkpoint_interval_seconds: int = Field(
        default=60, gt=0, description="A checkpoint is signed at most this long after a commit."
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where links in webhook bodies point (phasedcare serve's address).",
    )
    webhook_allow_loopback: bool = Field(
        default=False,
        description="Allow webhooks to loopback addresses (127.0.0.0/8, ::1, localhost), over "
        "http and on any port (tests, one machine); otherwise every internal address is refused "
        "and only https on the policy's ports is used.",
    )
    webhook_organisation_seconds: float = Field(
        default=15.0,
        gt=0,
        description="Time one organisation's webhook endpoints may take in one outbox drain; "
        "its other deliveries wait for the next drains, so others' are not held up.",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="The OIDC identity provider whose bearer tokens are accepted (the iss "
        "claim); unset: no bearer tokens, API keys only.",
    )
    oidc_audience: str | None = Field(
        default=None, description="The aud claim a bearer token must carry for phasedcare."
    )
    oidc_jwks_file: Path | None = Field(
        default=None,
        description="A local copy of the identity provider's JSON Web Key Set (its public keys).",
    )
    oidc_authorization_endpoint: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="The identity provider's authorization endpoint: the console signs "
        "professionals in there (authorization code flow with PKCE); unset: no such sign-in.",
    )
    oidc_token_endpoint: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="The identity provider's token endpoint, where the console exchanges the code.",
    )
    oidc_console_client_id: str | None = Field(
        default=None,
        description="The console's client id at the identity provider (its ID tokens' aud).",
    )
    oidc_console_client_secret: str | None = Field(
        default=None,
        description="The console's client secret, if the provider gave one (PKCE is always used).",
    )
    auth_failure_limit: int = Field(
        default=20,
        gt=0,
        description="Failed authentications one client address may make in the window; after "
        "that every authentication from it gets 429 until its oldest failure leaves the window.",
    )
    auth_failure_window_seconds: int = Field(
        default=60, gt=0, description="The moving window failed authentications are counted in."
    )
    idempotency_ttl_hours: int = Field(
        default=24,
        gt=0,
        description="How long an Idempotency-Key's first result is kept; a retry after that "
        "runs as a new request.",
    )
    flows_drain_interval_seconds: int = Field(
        default=10, gt=0, description="How often `phasedcare flows run` drains the outbox."
    )
    flows_sweep_interval_seconds: int = Field(
        default=3600, gt=0, description="How often it sweeps deadlines (expire and escalate)."
    )
    flows_mda_interval_seconds: int = Field(
        default=86400, gt=0, description="How often it evaluates the MDA++ entry criteria."
    )
    log_format: Literal["json", "console"] = "json"
    log_level: Literal["debug", "info", "warning", "error"] = "warning"

    @property
    def resolved_home(self) -> Path:
        """The home folder with ``~`` expanded."""
        return self.home.expanduser()

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite in the home folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_home / 'phasedcare.db'}"

    @property
    def resolved_key_folder(self) -> Path:
        """The key folder, defaulting to ``keys/`` in the home folder."""
        return (self.key_folder or self.resolved_home / "keys").expanduser()

    @property
    def resolved_checkpoint_folder(self) -> Path:
        """The witness folder, defaulting to ``checkpoints/`` in the home folder."""
        return (self.checkpoint_folder or self.resolved_home / "checkpoints").expanduser()

    @property
    def resolved_policy_file(self) -> Path:
        """The policy file, defaulting to ``policy.yaml`` in the home folder."""
        return (self.policy_file or self.resolved_home / "policy.yaml").expanduser()


def _config_file_values(home: Path) -> dict[str, Any]:
    path = home.expanduser() / CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: {exc}", field="config") from None
    except UnicodeDecodeError as exc:
        msg = f"{path}: not UTF-8 text (byte #x{exc.object[exc.start]:02x} at {exc.start})"
        raise InvalidInput(msg, field="config") from None


def load_settings(**overrides: Any) -> Settings:
    """Settings from overrides, then the environment, then the home's config file."""
    home = Path(overrides.get("home") or os.environ.get("PHASEDCARE_HOME") or DEFAULT_HOME)
    file_values = _config_file_values(home)
    env_keys = {
        k.removeprefix("PHASEDCARE_").lower() for k in os.environ if k.startswith("PHASEDCARE_")
    }
    values = {k: v for k, v in file_values.items() if k not in env_keys}
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"settings {where}: {first['msg']}", field=where) from None
