"""One customer, one profile: identity resolution over the store's identifiers.

``resolve_identities(store)`` (:mod:`tenure.identity.resolve`) builds the identity graph
(:mod:`tenure.identity.graph`), flags identifiers that must not merge people (including the
verified-email rule, :mod:`tenure.identity.rules`), computes persons as connected components in
the engine, keeps person ids stable across runs (a merge keeps the oldest id and is logged),
and writes every identifier with its person to ``identities``. After a first run, only the
rows imported since are added (:mod:`tenure.identity.incremental`) whenever that gives the
same persons as resolving everything again.
"""

from __future__ import annotations

from tenure.identity.lookup import (
    AmbiguousPersonError,
    PersonMatch,
    PersonNotFoundError,
    attributed,
    find_person,
    person_labels,
    person_names,
    person_of,
    with_labels,
)
from tenure.identity.persons import IdentityResult
from tenure.identity.resolve import resolve_identities, unmerge
from tenure.ingest.identifiers import normalize_email, normalize_phone

__all__ = [
    "AmbiguousPersonError",
    "IdentityResult",
    "PersonMatch",
    "PersonNotFoundError",
    "attributed",
    "find_person",
    "normalize_email",
    "normalize_phone",
    "person_labels",
    "person_names",
    "person_of",
    "resolve_identities",
    "unmerge",
    "with_labels",
]
