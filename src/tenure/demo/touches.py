"""Touches: every (channel, campaign) a visit can come from, with its UTMs and probabilities.

A session, an order and a new buyer each carry a touch index into :data:`TOUCHES`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from tenure.demo import params as P


@dataclass(frozen=True)
class Touch:
    channel: str
    campaign: str  # "" when the channel has no campaigns (organic, direct)
    cac: float
    acquisition: float  # probability that a new buyer comes from this touch
    repeat: float  # probability that a repeat visit or order comes from it

    @property
    def utm_source(self) -> str | None:
        return _CHANNEL[self.channel].utm_source

    @property
    def utm_medium(self) -> str | None:
        return _CHANNEL[self.channel].utm_medium

    @property
    def utm_campaign(self) -> str | None:
        return self.campaign or None


_CHANNEL = {c.name: c for c in P.CHANNELS}


def _touches() -> tuple[Touch, ...]:
    repeat = {(ch, camp): p for ch, camp, p in P.REPEAT_TOUCHES}
    out = [
        Touch(ch.name, c.name, c.cac, ch.share * c.share, repeat.pop((ch.name, c.name), 0.0))
        for ch in P.CHANNELS
        for c in ch.campaigns
    ]
    out += [Touch(ch, camp, 0.0, 0.0, p) for (ch, camp), p in repeat.items()]
    return tuple(out)


TOUCHES = _touches()
CHANNEL_OF = np.array([P.CHANNEL_INDEX[t.channel] for t in TOUCHES])
CHANNEL_NAMES = [c.name for c in P.CHANNELS]
ACQUISITION_P = np.array([t.acquisition for t in TOUCHES])
REPEAT_P = np.array([t.repeat for t in TOUCHES])
#: Where prospects (and email buyers, before subscribing) first came from: not from email.
_EMAIL = P.CHANNEL_INDEX["email"]
PROSPECT_P = np.where(np.equal(CHANNEL_OF, _EMAIL), 0.0, ACQUISITION_P)
PROSPECT_P = PROSPECT_P / PROSPECT_P.sum()
UTM_SOURCE = [t.utm_source for t in TOUCHES]
UTM_MEDIUM = [t.utm_medium for t in TOUCHES]
UTM_CAMPAIGN = [t.utm_campaign for t in TOUCHES]


def draw(rng: np.random.Generator, p: np.ndarray, n: int) -> np.ndarray:
    """``n`` touch indices drawn with probabilities ``p``."""
    return rng.choice(len(TOUCHES), size=n, p=p / p.sum())


def campaign_json(touch: Touch) -> str | None:
    """Segment's ``context.campaign`` object of a touch, as JSON (None without UTMs)."""
    if touch.utm_source is None:
        return None
    fields = {"source": touch.utm_source, "medium": touch.utm_medium}
    if touch.utm_campaign:
        fields["name"] = touch.utm_campaign
    return json.dumps(fields, separators=(",", ":"))
