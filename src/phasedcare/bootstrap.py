"""The composition root: settings in, a wired :class:`~phasedcare.service.engine.Engine` out.

Nothing else builds stores, reads policy files or configures logging, so every entry point
(Python, CLI, later HTTP and flows) gets the same engine for the same settings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from phasedcare.config import CONFIG_FILE, MEMORY_URL, Settings, load_settings
from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.policy import RegionalPolicy, default_policy_text, parse_policy
from phasedcare.errors import InvalidInput, NotAuthorised, StoreError
from phasedcare.ledger.blind_index import BlindIndex
from phasedcare.ledger.codec import RecordCodec
from phasedcare.ledger.files import write_new_file
from phasedcare.ledger.keys import (
    CaseKeys,
    CheckpointKey,
    FileKeyProvider,
    InMemoryKeyProvider,
    KeyProvider,
    RotatingKeyProvider,
    rotate_kek,
)
from phasedcare.logs import configure_logging
from phasedcare.service.api_keys import TOKEN_PREFIX, ApiKeys, TokenDigest
from phasedcare.service.audit import Auditor
from phasedcare.service.engine import Engine, utc_now
from phasedcare.service.jobs import Jobs
from phasedcare.service.notifications import Notifier
from phasedcare.service.oidc import JwksFile, OidcVerifier
from phasedcare.service.ports import CaseFilter, EventStore
from phasedcare.service.subscriptions import WebhookSubscriptions
from phasedcare.service.webhooks import WebhookSender
from phasedcare.store import InMemoryEventStore
from phasedcare.store.witness import FolderWitness

__all__ = [
    "CHECKPOINT_REGION_FILE",
    "LEDGER_FILE",
    "REGION_FILE",
    "InitReport",
    "api_keys_of",
    "build",
    "build_authenticator",
    "build_jobs",
    "build_verifier",
    "claim_checkpoint_folder",
    "claim_key_folder",
    "initialise",
    "key_provider",
    "open_store",
    "read_policy",
    "rotate_keys",
]


REGION_FILE = "region"
"""The key folder's marker file: the id of the region whose keys the folder holds."""

CHECKPOINT_REGION_FILE = ".region"
"""The checkpoint folder's marker file, the same: hidden, so that listing the folder lists
its notes only (scripts and witnesses read ``checkpoint-*.note``)."""

LEDGER_FILE = "ledger-v2"
"""The key folder's marker that the region's ledger signs its tombstones and maps its case
heads: written by ``initialise``, after it anchored the tail an older version left unsigned."""


def read_policy(settings: Settings) -> RegionalPolicy:
    """The regional policy from the settings' policy file, or the shipped default."""
    path = settings.resolved_policy_file
    if not path.exists():
        if settings.policy_file is not None:
            raise InvalidInput(f"policy file {path} does not exist", field="policy_file")
        return parse_policy(default_policy_text(), source="default policy")
    return parse_policy(path.read_bytes(), source=str(path))


def open_store(url: str, *, region: str | None = None) -> EventStore:
    """The event store for a database URL (``memory://`` for the in-memory store).

    With ``region``, a database stamped with another region is refused (StoreError) and one
    stamped with none is stamped with this one: one database, one region.
    """
    if url == MEMORY_URL:
        return InMemoryEventStore()
    from phasedcare.store.sql import SqlEventStore  # noqa: PLC0415 - SQLAlchemy only when needed

    return SqlEventStore(url, region=region)


def claim_key_folder(folder: Path, region: str) -> None:
    """Mark an existing key folder as ``region``'s unless it is marked; refuse another's.

    Keys are per region: a folder of another region's keys would seal, sign and index
    apart from this region's data (StoreError naming both regions; nothing is written).
    """
    if not folder.is_dir():
        return  # nothing to claim yet: init creates the folder and marks it
    write_new_file(folder / REGION_FILE, f"{region}\n".encode())  # the first writer wins
    _check_folder_region(folder / REGION_FILE, region, what="key folder", holds="keys")


def claim_checkpoint_folder(folder: Path, region: str) -> None:
    """Create the checkpoint (witness) folder if need be and mark it as ``region``'s unless
    it is marked; refuse another's.

    Checkpoints are per region: another region's engine would publish notes of its own
    origin there, and this region's verify would then fail on a note it never signed
    (StoreError naming both regions; nothing is written).
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_new_file(folder / CHECKPOINT_REGION_FILE, f"{region}\n".encode())  # first wins
    _check_checkpoint_folder(folder, region)


def _check_checkpoint_folder(folder: Path, region: str) -> None:
    """Refuse a checkpoint folder marked as another region's; write nothing."""
    marker = folder / CHECKPOINT_REGION_FILE
    _check_folder_region(marker, region, what="checkpoint folder", holds="checkpoints")


def _check_folder_region(marker: Path, region: str, *, what: str, holds: str) -> None:
    """Refuse a folder whose ``marker`` names another region (an unmarked one passes)."""
    if not marker.exists():
        return
    stamped = marker.read_text(encoding="utf-8", errors="replace").strip()
    if stamped != region:
        raise StoreError(
            f"the {what} {marker.parent} belongs to region {stamped}, this policy is region "
            f"{region}: {holds} are per region (use its policy file, or another {what})"
        )


def build(
    settings: Settings | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    configure_logs: bool = False,
    access_point: str = "python",
) -> Engine:
    """Wire an engine from settings (default: the environment and the home's config file)."""
    settings = settings or load_settings()
    if configure_logs:
        configure_logging(fmt=settings.log_format, level=settings.log_level)
    policy = read_policy(settings)
    url = settings.resolved_database_url
    in_memory = url == MEMORY_URL
    folder = settings.resolved_key_folder
    if not in_memory:
        claim_key_folder(folder, policy.region)
        claim_checkpoint_folder(settings.resolved_checkpoint_folder, policy.region)
    store = open_store(url, region=policy.region)
    provider: KeyProvider = InMemoryKeyProvider() if in_memory else key_provider(settings)
    checkpoint_key = CheckpointKey.generate() if in_memory else CheckpointKey.in_folder(folder)
    codec = RecordCodec(keys=CaseKeys(store, provider), signer=checkpoint_key)
    auditor = Auditor(
        store=store,
        key=checkpoint_key,
        origin=f"phasedcare/{policy.region}",
        witness=None if in_memory else FolderWitness(settings.resolved_checkpoint_folder),
        clock=clock,
        interval=timedelta(seconds=settings.checkpoint_interval_seconds),
        authenticate=codec.authentic,
    )
    index = BlindIndex.generate() if in_memory else BlindIndex.in_folder(folder)
    webhooks = WebhookSubscriptions(
        store=store,
        keys=provider,
        policy=policy,
        clock=clock,
        allow_loopback=settings.webhook_allow_loopback,
    )
    engine = Engine(
        store=store,
        policy=policy,
        codec=codec,
        auditor=auditor,
        clock=clock,
        access_point=access_point,
        blind_index=index,
        notifier=Notifier(policy=policy, base_url=settings.public_base_url),
        webhooks=webhooks,
        idempotency_ttl=timedelta(hours=settings.idempotency_ttl_hours),
    )
    engine.project_under_policy()
    return engine


def build_id_token_verifier(settings: Settings, engine: Engine) -> OidcVerifier | None:
    """The console's ID tokens: the issuer's, for the console's client id (None unless the
    authorization code flow is configured: both endpoints, a client id, the keys)."""
    issuer, keys = settings.oidc_issuer, settings.oidc_jwks_file
    client = settings.oidc_console_client_id
    endpoints = settings.oidc_authorization_endpoint and settings.oidc_token_endpoint
    if not (issuer and keys and client and endpoints):
        return None
    return OidcVerifier(issuer=issuer, audience=client, jwks=JwksFile(keys), policy=engine.policy)


def build_authenticator(settings: Settings, engine: Engine) -> Callable[[str], Actor]:
    """Bearer tokens to actors: phasedcare API keys, and OIDC tokens when an issuer is set."""
    keys = ApiKeys(store=engine.store, policy=engine.policy, clock=utc_now)
    verifier = None
    if settings.oidc_issuer and settings.oidc_audience and settings.oidc_jwks_file:
        verifier = OidcVerifier(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            jwks=JwksFile(settings.oidc_jwks_file),
            policy=engine.policy,
        )

    def authenticate(token: str) -> Actor:
        if token.startswith(TOKEN_PREFIX) or verifier is None:
            actor = keys.authenticate(token)
        else:
            actor = verifier.verify(token)
        if actor.role is Role.system:  # the sweeps act inside the process, never from outside
            raise NotAuthorised("the system role cannot be used from outside", actor="-")
        return actor

    return authenticate


@contextmanager
def api_keys_of(settings: Settings) -> Iterator[ApiKeys]:
    """The API keys of the configured database, hashed as the server checks them (closed after).

    The key folder and the database are claimed for the policy's region as :func:`build`
    claims them (another region's: StoreError, nothing written), and tokens are hashed under
    the key folder's blind-index key, so ``phasedcare keys api`` makes keys ``serve`` accepts.
    """
    policy = read_policy(settings)
    url = settings.resolved_database_url
    folder = settings.resolved_key_folder
    in_memory = url == MEMORY_URL
    if not in_memory:
        claim_key_folder(folder, policy.region)
    store = open_store(url, region=policy.region)
    try:
        index = BlindIndex.generate() if in_memory else BlindIndex.in_folder(folder)
        yield ApiKeys(store=store, policy=policy, clock=utc_now, digest=TokenDigest.of_index(index))
    finally:
        store.close()


def build_jobs(
    settings: Settings | None = None, *, clock: Callable[[], datetime] = utc_now
) -> Jobs:
    """Wire the scheduled jobs (sweeps, MDA++ evaluation, outbox drain) from settings."""
    settings = settings or load_settings()
    engine = build(settings, clock=clock, access_point="flows")
    return Jobs(
        engine=engine,
        sender=WebhookSender(),
        clock=clock,
        organisation_seconds=settings.webhook_organisation_seconds,
    )


def build_verifier(settings: Settings, *, public_key: bytes | None = None) -> Auditor:
    """An auditor that verifies with the public key only: no KEK, no decryption, no signing.

    A checkpoint folder marked as another region's is refused (StoreError); it writes
    nothing, so an unmarked one is left unmarked.
    """
    policy = read_policy(settings)
    _check_checkpoint_folder(settings.resolved_checkpoint_folder, policy.region)
    key = (
        CheckpointKey.public_only(public_key)
        if public_key is not None
        else CheckpointKey.public_in_folder(settings.resolved_key_folder)
    )
    return Auditor(
        store=open_store(settings.resolved_database_url),
        key=key,
        origin=f"phasedcare/{policy.region}",
        witness=FolderWitness(settings.resolved_checkpoint_folder),
        clock=utc_now,
    )


def key_provider(settings: Settings) -> RotatingKeyProvider:
    """The configured KEK holder: the key folder, or a PKCS#11 token."""
    if settings.key_provider == "file":
        return FileKeyProvider(settings.resolved_key_folder)
    from phasedcare.ledger.pkcs11 import Pkcs11KeyProvider  # noqa: PLC0415 - only when configured

    if settings.pkcs11_pin is None:
        raise InvalidInput("key_provider pkcs11 needs PHASEDCARE_PKCS11_PIN", field="pkcs11_pin")
    return Pkcs11KeyProvider(
        library=settings.pkcs11_library,
        token_label=settings.pkcs11_token,
        pin=settings.pkcs11_pin.get_secret_value(),
    )


def rotate_keys(settings: Settings) -> tuple[str, int]:
    """Make a new KEK current and rewrap every case key with it."""
    region = read_policy(settings).region
    claim_key_folder(settings.resolved_key_folder, region)
    store = open_store(settings.resolved_database_url, region=region)
    try:
        return rotate_kek(store, key_provider(settings))
    finally:
        store.close()


@dataclass(frozen=True, slots=True)
class InitReport:
    """What ``initialise`` found or created."""

    home: Path
    database_url: str
    policy_file: Path
    created: tuple[str, ...]


def _write_private(path: Path, text: str) -> None:
    write_new_file(path, text.encode("utf-8"))


def _create_missing_keys(settings: Settings, key_folder: Path) -> None:
    """The first KEK, the checkpoint key and the blind-index key, unless the database holds
    cases already: then keys are missing because this machine lacks the others' key folder,
    and new ones would seal and sign apart from the data (refused, nothing created)."""
    provider = key_provider(settings)
    try:
        provider.current_kek_id()
        kek_missing = False
    except StoreError:
        kek_missing = True
    missing = [name for name in ("checkpoint.key", "index.key") if not (key_folder / name).exists()]
    if (kek_missing or missing) and _holds_cases(settings.resolved_database_url):
        what = ", ".join((["a key-encryption key"] if kek_missing else []) + missing)
        raise StoreError(
            f"the database holds cases but {key_folder} lacks {what}: copy the key folder "
            "of the machines that wrote them (or configure their HSM); no new key was made"
        )
    if kek_missing:
        provider.rotate()  # a new token: its first KEK
    CheckpointKey.in_folder(key_folder, create=True)
    BlindIndex.in_folder(key_folder, create=True)


def _holds_cases(url: str) -> bool:
    """Whether the (migrated) database has any case (one indexed row read)."""
    if url == MEMORY_URL:
        return False
    store = open_store(url)
    try:
        return bool(store.projections(CaseFilter(limit=1)))
    finally:
        store.close()


def _anchor_an_old_tail(settings: Settings, region: str) -> None:
    """Once per key folder: sign, as found, the tail a version from before signed tombstones
    and maps of case heads left unsigned (its ``close()`` and its retention signed none), so
    an honest old ledger verifies after the upgrade (docs/ledger.md, upgrading).

    The marker lives in the key folder, out of reach of whoever can write only the database;
    a ledger whose checkpoints sign maps is new enough and only gets the marker.
    """
    url, folder = settings.resolved_database_url, settings.resolved_key_folder
    marker = folder / LEDGER_FILE
    if url == MEMORY_URL or marker.exists():
        return
    store = open_store(url, region=region)
    try:
        key = CheckpointKey.in_folder(folder)
        codec = RecordCodec(keys=CaseKeys(store, key_provider(settings)), signer=key)
        auditor = Auditor(
            store=store,
            key=key,
            origin=f"phasedcare/{region}",
            witness=FolderWitness(settings.resolved_checkpoint_folder),
            clock=utc_now,
        )
        auditor.anchor_old_tail(accept=lambda record: codec.authentic_as_found(record) is None)
    finally:
        store.close()
    write_new_file(marker, b"tombstones signed, checkpoints map case heads\n")


def initialise(settings: Settings) -> InitReport:
    """Create the home (0700), config and policy files, the key folder, and migrate the database.

    Idempotent: what exists is kept; the database is migrated to the newest schema.
    """
    home = settings.resolved_home
    created: list[str] = []
    if not home.exists():
        home.mkdir(mode=0o700, parents=True)
        created.append(str(home))
    config = home / CONFIG_FILE
    if not config.exists():
        header = "# phasedcare settings; PHASEDCARE_* variables override these\n"
        policy_path = json.dumps(str(settings.resolved_policy_file))  # a valid TOML string
        _write_private(config, f"{header}policy_file = {policy_path}\n")
        created.append(str(config))
    policy_file = settings.resolved_policy_file
    if not policy_file.exists():
        _write_private(policy_file, default_policy_text())
        created.append(str(policy_file))
    region = read_policy(settings).region
    key_folder = settings.resolved_key_folder
    claim_key_folder(key_folder, region)  # another region's keys: refused before the database
    checkpoints = settings.resolved_checkpoint_folder
    _check_checkpoint_folder(checkpoints, region)
    url = settings.resolved_database_url
    if url != MEMORY_URL:
        from phasedcare.store.migrate import upgrade_database  # noqa: PLC0415 - Alembic only here

        upgrade_database(url)
        open_store(url, region=region).close()  # stamps the region, or refuses another's
    if not key_folder.exists():
        created.append(str(key_folder))
    key_folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(key_folder, 0o700)
    claim_key_folder(key_folder, region)  # a new folder is marked now
    claim_checkpoint_folder(checkpoints, region)
    _create_missing_keys(settings, key_folder)
    _anchor_an_old_tail(settings, region)
    return InitReport(home=home, database_url=url, policy_file=policy_file, created=tuple(created))
