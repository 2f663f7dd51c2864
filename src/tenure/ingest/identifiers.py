"""Identifier normalisation: one spelling per identifier, so the same person matches.

* email: trimmed and lower-cased; provider rules (Gmail ignores dots and `+tags`) only when
  asked, since they are not true of every provider;
* phone: E.164 via Google's libphonenumber (`phonenumbers`), numbers without a country code
  read in the store's default region; unparseable numbers are dropped from matching (kept
  as given on the customer record);
* ids (customer, user, anonymous): trimmed text.

A deleted person's identifiers are kept only as digests (:func:`digest`), which the importer
computes in the engine (:func:`digest_expr`) to recognise their data if it arrives again.

The importer (:mod:`tenure.ingest.suppress`) and identity resolution (:mod:`tenure.identity`,
a layer above) spell identifiers the same way, so the spelling lives here, in the lower one.
"""

from __future__ import annotations

import hashlib

import ibis
import phonenumbers

GMAIL_DOMAINS = ("gmail.com", "googlemail.com")
#: Local parts that many people type when they do not want to give their address.
SHARED_LOCAL_PARTS = ("guest", "test", "noreply", "no-reply", "none", "na", "anonymous", "info")


def normalize_email(value: str | None, *, provider_rules: bool = False) -> str | None:
    """``' Ann.Smith+promo@GMail.com '`` -> ``'ann.smith+promo@gmail.com'`` (or, with
    provider rules, ``'annsmith@gmail.com'``)."""
    if value is None:
        return None
    email = value.strip().lower()
    if "@" not in email:
        return None
    if provider_rules:
        local, _, domain = email.rpartition("@")
        if domain in GMAIL_DOMAINS:
            local = local.split("+", 1)[0].replace(".", "")
            email = f"{local}@gmail.com"
    return email or None


def email_expr(column: ibis.Value) -> ibis.Value:
    """The engine-side version of :func:`normalize_email` (without provider rules)."""
    cleaned = column.strip().lower()
    return ibis.ifelse(cleaned.contains("@"), cleaned, ibis.null())


#: The ``email`` of a JSON traits object (as the identity graph reads ``identify`` calls).
EMAIL_IN_TRAITS = r'"email"\s*:\s*"([^"]+)"'


def traits_email(traits: ibis.Value) -> ibis.Value:
    """The normalised ``email`` of a column of JSON traits (null when there is none)."""
    return email_expr(traits.re_extract(EMAIL_IN_TRAITS, 1).nullif(""))


def normalize_phone(value: str | None, region: str = "US") -> str | None:
    """``'(415) 555-2671'`` -> ``'+14155552671'``; None when it is not a valid number."""
    if value is None or not value.strip():
        return None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_shared_email(email: str) -> bool:
    """Addresses like ``guest@…`` or ``test@…`` that stand for nobody in particular."""
    return email.split("@", 1)[0] in SHARED_LOCAL_PARTS


def digest(kind: str, value: str) -> str:
    """The suppression digest of a normalised identifier: SHA-256 of ``"<kind>:<value>"``, hex."""
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def digest_expr(kind: str, value: ibis.Value) -> ibis.Value:
    """The engine-side version of :func:`digest` (``sha256`` on DuckDB, ``sha2`` on Spark);
    null for a null value."""
    return (ibis.literal(f"{kind}:") + value).hexdigest("sha256")
