"""Settings: one pydantic-settings model, built by :func:`load_settings` and passed explicitly.

Sources, strongest first: keyword overrides, ``TENURE_*`` environment variables,
``tenure.toml`` in the working directory (or the file named by ``TENURE_CONFIG``), defaults.
Nothing here connects to anything; a :class:`~tenure.store.Store` is opened from the settings.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from tenure.errors import ConfigError

DEFAULT_STORE_URL = "duckdb://tenure.duckdb"
CONFIG_FILE = "tenure.toml"


class Settings(BaseSettings):
    """Every setting Tenure reads. Each field's description is its documentation."""

    model_config = SettingsConfigDict(env_prefix="TENURE_", extra="forbid", frozen=True)

    store_url: str = Field(
        DEFAULT_STORE_URL,
        description="Where the store lives: `duckdb://tenure.duckdb` (the embedded default, a "
        "file relative to the working directory), `duckdb:///abs/path.duckdb` for an absolute "
        "path, `duckdb://:memory:` for an in-memory store, `pyspark://local[2]?warehouse=DIR` "
        "for PySpark in local mode (the tables and their catalog in DIR, default "
        '`./tenure-warehouse`; see "Spark stores"), or any URL `ibis.connect` accepts. A bare '
        "path (no `scheme://`) is a DuckDB file, used as written: `shop` is `duckdb://shop`, "
        "no suffix added.",
    )
    read_only: bool = Field(
        False,
        description="Open the store read-only (also `tenure --read-only`): a DuckDB file is "
        "opened in DuckDB's read-only mode, so a store you cannot write (a read-only file "
        "system, no write permission) can be queried, and several commands may read one store "
        "at once while none writes. A command that must write fails with a message naming it; "
        "readers do not bring stale derived tables up to date, they say what is stale.",
    )
    reporting_currency: str | None = Field(
        None,
        description="ISO 4217 code all money is reported in; other currencies are converted "
        "with the `fx_rates` table and never summed unconverted. Unset (the default), the "
        "store's own currency is used: the one its first import of orders recorded (the "
        "single currency of its orders, else the currency of most orders), else USD. A value "
        'here wins over what the store recorded (docs/metrics.md, "Currency").',
    )
    accepted_currencies: list[str] = Field(
        default_factory=lambda: [
            "USD",
            "EUR",
            "GBP",
            "CAD",
            "AUD",
            "CHF",
            "SEK",
            "DKK",
            "NOK",
            "JPY",
            "PLN",
            "CZK",
            "NZD",
        ],
        description="Currency codes an import accepts; a row in any other currency is "
        "quarantined with reason `unknown currency`.",
    )
    timezone: str = Field(
        "UTC",
        description="IANA time zone of the store; naive timestamps in input files are read in "
        "it and every timestamp is stored in UTC.",
    )
    as_of: date | None = Field(
        None,
        description="Freezes the as-of day of every analytic (YYYY-MM-DD), to analyse a "
        "historical export (e.g. CDNOW: `1998-06-30`) as of its end. Unset, the as-of day "
        "is the store's frozen clock (store fact `as_of`, recorded by `tenure demo`), else "
        "today (UTC); never the latest date in the data. `--as-of` overrides it.",
    )
    default_region: str = Field(
        "US", description="Region used to read phone numbers written without a country code."
    )
    verified_emails_never_merge: bool = Field(
        True,
        description="Identity resolution flags, instead of using to merge, every identifier "
        "that would put two different verified e-mails (a customer record's, an order's under "
        "a customer id, an `identify` call's with `email_verified: true`) into one person; "
        "the e-mails linked to one customer id count as one (docs/identity.md).",
    )
    quarantine_threshold: float = Field(
        0.01,
        ge=0.0,
        le=1.0,
        description="Largest share of quarantined rows an import accepts before it exits "
        "non-zero (0.01 = 1%).",
    )
    future_tolerance_hours: float = Field(
        24.0,
        ge=0.0,
        description="An imported date later than the import time plus this many hours (clock "
        "skew between the source and this machine) is quarantined as `date in the future`.",
    )
    earliest_date: date = Field(
        date(1990, 1, 1),
        description="An imported date before this day is quarantined as `date before the "
        "floor` (a typo'd or placeholder date such as 1900-01-01).",
    )
    amount_flag_factor: float = Field(
        10.0,
        gt=0.0,
        description="An imported order total (or line unit price) more than this many times "
        "the 99th percentile of the store's own values (stored and incoming) is stored but "
        "recorded in `flagged_values` as implausible.",
    )
    amount_flag_limit: float = Field(
        1_000_000.0,
        gt=0.0,
        description="The fixed bound above which an imported amount is flagged while the "
        "store has fewer than 1,000 values to compare it with (a new or small store).",
    )
    default_margin: float = Field(
        0.30,
        ge=0.0,
        le=1.0,
        description="Gross margin assumed for products without a unit cost (0.30 = 30%).",
    )
    new_customer_days: int = Field(
        30, ge=1, description="A customer is `new` for this many days after the first order."
    )
    at_risk_factor: float = Field(
        2.0,
        gt=0.0,
        description="A customer is `at risk` when days since the last order exceed this many "
        "times the usual gap between orders of the customer's segment.",
    )
    status_segment_by: Literal["orders", "tier", "none"] = Field(
        "orders",
        description="How the usual gap between orders behind `at risk` is measured: `orders` "
        "(the median gap after the same number of purchases: 1, 2, 3-4, 5+), `tier` (the "
        "median gap of the customer's value tier) or `none` (the store's median gap).",
    )
    lapsed_days: int = Field(
        365, ge=1, description="A customer with no order for this many days is `lapsed`."
    )
    vip_share: float = Field(
        0.05,
        gt=0.0,
        le=1.0,
        description="Share of customers, by margin, that forms the VIP tier (0.05 = top 5%).",
    )
    refit_days: int = Field(
        30,
        ge=0,
        description="The daily run re-scores every buyer with the stored prediction fit; it "
        "fits again once the fit is this many days old (docs/incremental.md).",
    )
    refit_growth: float = Field(
        0.10,
        ge=0.0,
        description="The daily run also fits the predictions again once buyers or orders grew "
        "by this share since the fit (0.10 = 10%).",
    )
    maturity_window_days: int = Field(
        28,
        ge=7,
        description="The recent window of the maturity advisor (`tenure advise`, "
        "docs/advisor.md): its sales per day, share of direct orders and effort split are "
        "over the last this many days up to the as-of day.",
    )
    maturity_consistent_days: int = Field(
        60,
        ge=0,
        description='Heuristic (docs/advisor.md, "consistent: 2-3 months"): a store is '
        "`consistent` from this many days after its first sale, with "
        "`maturity_consistent_sales_per_day`.",
    )
    maturity_consistent_sales_per_day: float = Field(
        1.0,
        gt=0.0,
        description='Heuristic ("at least 1 sale a day"): the sales per day over the recent '
        "window a `consistent` store makes at least.",
    )
    maturity_established_days: int = Field(
        120,
        ge=0,
        description='Heuristic ("established: 4-6 months"): a store is `established` from '
        "this many days after its first sale, with `maturity_established_sales_per_day`.",
    )
    maturity_established_sales_per_day: float = Field(
        8.0,
        gt=0.0,
        description='Heuristic ("about 10 sales a day", less a fifth for a quiet month): '
        "the sales per day an `established` store makes at least.",
    )
    maturity_well_established_days: int = Field(
        330,
        ge=0,
        description='Heuristic ("well established: about a year"): a store is `well '
        "established` from this many days after its first sale, with "
        "`maturity_well_established_sales_per_day` and `maturity_direct_share`.",
    )
    maturity_well_established_sales_per_day: float = Field(
        10.0,
        gt=0.0,
        description='Heuristic ("10+ sales a day"): the sales per day a `well established` '
        "store makes at least.",
    )
    maturity_direct_share: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description='Heuristic ("mostly direct traffic"): the share of the recent window\'s '
        "orders that came direct (no channel, no UTM) a `well established` store has at least.",
    )
    maturity_retention_shares: list[float] = Field(
        default_factory=lambda: [0.0, 0.15, 0.30, 0.50, 0.60],
        description="Heuristic (docs/advisor.md): the share of effort to put on retention "
        "at each stage, in order: just started, gaining traction, consistent, established, "
        "well established (five values from 0 to 1).",
    )
    maturity_alarm_after_days: int = Field(
        182,
        ge=0,
        description='Heuristic (docs/advisor.md, "fatal past the first six months"): '
        "from this many days after the first sale, a CLV:CAC of 1:1 or below is an alarm of "
        "the maturity advisor; before, a watch.",
    )
    maturity_alarm_ratio: float = Field(
        1.1,
        gt=0.0,
        description='Heuristic (docs/advisor.md, "about 1:1 or below"): a CLV:CAC at '
        "or below this ratio, past `maturity_alarm_after_days`, is an alarm of the maturity "
        "advisor (1.1: within a tenth of 1:1); from it up to 3:1 (the healthy benchmark), a "
        "watch.",
    )
    message_costs: dict[str, float] = Field(
        default_factory=lambda: {"email": 0.001, "sms": 0.01, "onsite": 0.0, "trait": 0.0},
        description="What one message sent by a flow costs, per channel, in the reporting "
        "currency, for the effort split of `tenure advise` (defaults: rough list prices, about "
        "1 per 1,000 e-mails and 1 cent an SMS; set your provider's). A channel missing here "
        "(`webhook` by default) has an unknown cost, said so, never 0.",
    )
    flows_dir: Path = Field(
        Path("flows"),
        description="Directory of the store's own flow definitions (`*.yaml`, docs/flows.md), "
        "relative to the working directory; read after the shipped ones, a flow of the same "
        "name replaces the shipped one.",
    )
    segments_dir: Path = Field(
        Path("segments"),
        description="The directory of your segment definitions (`*.yaml`, docs/segments.md), "
        "relative to the working directory. Missing: only the shipped segments; a file "
        "defining a shipped segment's name replaces it.",
    )

    delivery_batch: int = Field(
        500,
        ge=1,
        description="Messages the dispatcher claims, renders, sends and records at a time "
        "(docs/delivery.md). One batch is also the most a crash can send twice.",
    )
    delivery_concurrency: int = Field(
        8,
        ge=1,
        description="Messages of a batch the dispatcher hands to their channels at once (threads).",
    )
    delivery_lease_seconds: float = Field(
        300.0,
        gt=0.0,
        description="How long a dispatcher holds the messages it claimed: a message still "
        "`sending` after its lease (its dispatcher died) is claimed again and resent with the "
        "same Message-ID and key. Keep it well above the time a batch takes.",
    )
    delivery_max_attempts: int = Field(
        5,
        ge=1,
        description="Send attempts of a message in all: a transient error on the last one "
        "marks it `failed`.",
    )
    delivery_backoff_seconds: float = Field(
        60.0,
        gt=0.0,
        description="The wait after a first transient failure; it doubles with each attempt "
        "(up to `delivery_backoff_max_seconds`), with jitter: a draw between half and all "
        "of it.",
    )
    delivery_backoff_max_seconds: float = Field(
        21600.0,
        gt=0.0,
        description="The longest wait between two attempts of a message (6 hours).",
    )
    # -- delivery: channels, templates, unsubscribe (docs/delivery.md) -------------------
    email_from: str | None = Field(
        None,
        description="The `From` of every e-mail, an address with an optional display name "
        "(`Shop <news@shop.example>`); its domain ends each Message-ID. Unset: no e-mail "
        "channel.",
    )
    smtp_host: str | None = Field(
        None, description="The SMTP server e-mails are sent through. Unset: no e-mail channel."
    )
    smtp_port: int = Field(
        587, ge=1, le=65535, description="The SMTP server's port (587 STARTTLS, 465 TLS)."
    )
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls",
        description="`starttls` (connect in clear, then STARTTLS, refused if the server does "
        "not offer it), `tls` (implicit TLS from the first byte, port 465) or `none` (no "
        "encryption: only to a server on the loopback interface).",
    )
    smtp_username: str | None = Field(
        None, description="The SMTP login (AUTH); unset: no authentication."
    )
    smtp_password: str | None = Field(None, description="The SMTP password of `smtp_username`.")
    smtp_timeout: float = Field(
        30.0, gt=0, description="Seconds to wait for the SMTP server (connect and each reply)."
    )
    smtp_connections_per_domain: int = Field(
        2,
        ge=1,
        description="At most this many SMTP connections at once per recipient domain (each "
        "kept open and reused for the next e-mail to that domain).",
    )
    webhook_url: str | None = Field(
        None,
        description="The URL the `webhook` channel POSTs each message to (JSON). Unset: no "
        "webhook channel.",
    )
    webhook_secret: str | None = Field(
        None,
        description="The secret of the webhook signature (HMAC-SHA256 over `timestamp.body`, "
        "header `Tenure-Signature`); required with `webhook_url`.",
    )
    http_timeout: float = Field(
        10.0, gt=0, description="Seconds to wait for a webhook or SMS provider to answer."
    )
    sms_url: str | None = Field(
        None,
        description="The SMS provider's HTTP endpoint the `sms` channel POSTs "
        '`{"to", "text", "from", "id"}` to. Unset: no SMS channel.',
    )
    sms_auth_header: str | None = Field(
        None,
        description="The header sent with every SMS request, as `Name: value` (e.g. "
        "`Authorization: Bearer TOKEN`).",
    )
    sms_from: str | None = Field(
        None, description="The sender (number or name) sent to the SMS provider as `from`."
    )
    templates_dir: Path = Field(
        Path("templates"),
        description="Directory of your message templates (`NAME.html`, `NAME.txt`, "
        "docs/delivery.md), relative to the working directory; a template there replaces the "
        "shipped one of its name.",
    )
    discount_pool: Path | None = Field(
        None,
        description="A file of discount codes, one a line, to issue instead of the codes the "
        "flows derive from their `code_prefix`; each code is issued once.",
    )
    public_url: str | None = Field(
        None,
        description="The public https URL of this Tenure's service; unsubscribe links are "
        "`<public_url>/unsubscribe?token=...`. Required by the e-mail channel.",
    )
    unsubscribe_secret: str | None = Field(
        None,
        description="The secret unsubscribe tokens are signed with (HMAC-SHA256); changing it "
        "invalidates the links already sent. Required by the e-mail channel.",
    )
    unsubscribe_mailto: str | None = Field(
        None,
        description="An address for mailto unsubscribes, added to `List-Unsubscribe` after "
        "the https link.",
    )
    unsubscribe_days: int = Field(
        90, ge=1, description="Days an unsubscribe link stays valid after the message is sent."
    )

    write_keys: list[str] = Field(
        default_factory=list,
        description="Keys the collector accepts (`tenure serve`): a Segment SDK's write key, "
        "sent as the HTTP basic auth user or `writeKey` in the body. A write key can only "
        "write events.",
    )
    admin_tokens: list[str] = Field(
        default_factory=list,
        description="Bearer tokens of the admin API and the dashboard (`Authorization: "
        "Bearer <token>`); never the same as a write key.",
    )
    serve_host: str = Field("127.0.0.1", description="The address `tenure serve` listens on.")
    serve_port: int = Field(
        8000, ge=0, le=65535, description="The port `tenure serve` listens on (0: any free)."
    )
    serve_shutdown_seconds: float = Field(
        30.0,
        gt=0.0,
        description="On SIGTERM or Ctrl-C, `tenure serve` waits this long for the requests "
        "in flight to finish (and the worker's current step) before it stops.",
    )
    worker_pipeline_every: float = Field(
        3600.0,
        ge=0.0,
        description="Seconds between two pipeline runs of the worker inside `tenure serve` "
        "(`tenure run`: every stale step brought up to date); 0: never.",
    )
    worker_flows_every: float = Field(
        60.0,
        ge=0.0,
        description="Seconds between two flow ticks of the worker inside `tenure serve` "
        "(the flows decide their messages); 0: never.",
    )
    worker_dispatch_every: float = Field(
        10.0,
        ge=0.0,
        description="Seconds between two dispatch passes of the worker inside `tenure serve` "
        "(the due messages sent through their channels); 0: never.",
    )
    cors_origins: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Origins allowed to call the collector from a browser (CORS).",
    )
    collector_dir: Path = Field(
        Path("tenure-collector"),
        description="The collector's write-ahead log: events acknowledged but not yet in the "
        "store wait here (fsync'd before the answer) and are loaded at the next start.",
    )
    collector_max_backlog: int = Field(
        200_000,
        ge=1,
        description="Events the collector may hold acknowledged but not yet loaded into the "
        "store; past it, requests are answered 429 with `Retry-After` (the SDKs retry) "
        "until the loader catches up.",
    )

    dashboard_language: Literal["en", "fr", "es"] = Field(
        "en",
        description="The dashboard's and the report's language when the reader asks for none "
        "(`?lang=` first, then the browser's Accept-Language): `en`, `fr` or `es`.",
    )
    dashboard_users: dict[str, str] = Field(
        default_factory=dict,
        description="Users of the dashboard's login form besides the admin tokens: name -> "
        "scrypt hash of the password, as `tenure.service.dash_auth.hash_password` writes it "
        "(`scrypt$n$r$p$salt$hash`); a plain password is refused.",
    )
    dashboard_secret: str | None = Field(
        None,
        description="The secret the dashboard's session cookies are signed with (HMAC-SHA256). "
        "Unset, a random one is drawn when the service starts, so a restart logs everyone out.",
    )
    dashboard_session_hours: float = Field(
        12.0, gt=0.0, description="Hours a dashboard login lasts before the form asks again."
    )
    dashboard_warm: bool = Field(
        True,
        description="Whether `tenure serve` builds every dashboard page of the default period in "
        "the background when it starts (after the admin API's default KPI and cohort answers, "
        "which it always computes), so the first visit finds them ready (a page the "
        "pipeline kept in the store and still true is read, not built; its sections are drawn "
        "in `dashboard_language`), and draws them again after each worker pipeline run (a page "
        "is kept until a table it read is written, then built again).",
    )

    @field_validator("reporting_currency")
    @classmethod
    def _upper_currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) != 3 or not value.isalpha():
            raise ValueError(f"must be a 3-letter ISO 4217 code, got {value!r}")
        return value.upper()

    @field_validator("maturity_retention_shares")
    @classmethod
    def _five_shares(cls, value: list[float]) -> list[float]:
        if len(value) != 5 or any(not 0.0 <= v <= 1.0 for v in value):
            raise ValueError(f"must be five shares from 0 to 1, one per stage, got {value!r}")
        return value

    @field_validator("message_costs")
    @classmethod
    def _costs(cls, value: dict[str, float]) -> dict[str, float]:
        if any(v < 0 for v in value.values()):
            raise ValueError(f"message costs cannot be negative, got {value!r}")
        return {k.strip().lower(): v for k, v in value.items()}

    @field_validator("accepted_currencies")
    @classmethod
    def _upper_currencies(cls, value: list[str]) -> list[str]:
        return [v.upper() for v in value]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("TENURE_CONFIG", CONFIG_FILE))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_path))


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from overrides, ``TENURE_*`` variables and ``tenure.toml``."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']} (got {err.get('input')!r})"
            for err in exc.errors()
        )
        raise ConfigError(
            f"Invalid settings: {problems}",
            hint=f"Fix {CONFIG_FILE} or the TENURE_* environment variables.",
        ) from None
