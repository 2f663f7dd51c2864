"""The words of the data a page shows that are drawn translated: statuses, journey stages,
value tiers, RFM segments, channel health, channels, flow and message states. Any other text
of the store (a name, a product, a campaign) is drawn as it is stored, never translated by
accident."""

from __future__ import annotations

from tenure.dashboard.model import N_

#: Every value translated when drawn (its raw value stays in the JSON twin and ``data-value``).
VALUES: frozenset[str] = frozenset(
    {
        # statuses (tenure.analytics.status.STATUSES)
        N_("prospect"),
        N_("new"),
        N_("active"),
        N_("at_risk"),
        N_("lapsed"),
        N_("vip"),
        # journey stages (tenure.analytics.journey.STAGES)
        N_("reach"),
        N_("acquire"),
        N_("develop"),
        N_("retain"),
        N_("advocate"),
        # value tiers
        N_("high"),
        N_("mid"),
        N_("low"),
        # RFM segments (tenure.analytics.rfm.SEGMENTS)
        N_("Champions"),
        N_("Loyal"),
        N_("Potential loyalists"),
        N_("New customers"),
        N_("Promising"),
        N_("Need attention"),
        N_("About to sleep"),
        N_("At risk"),
        N_("Can't lose them"),
        N_("Hibernating"),
        N_("Lost"),
        # channel health (docs/metrics.md, "KPIs")
        N_("healthy"),
        N_("watch"),
        N_("losing money"),
        N_("no spend"),
        N_("too early"),
        N_("no new customers"),
        # acquisition channels (tenure.analytics.touch.MEDIUM_CHANNELS)
        N_("direct"),
        N_("paid_search"),
        N_("paid_social"),
        N_("email"),
        N_("sms"),
        N_("referral"),
        N_("organic_search"),
        N_("organic_social"),
        N_("display"),
        N_("other"),
        # a flow's state (tenure.dashboard.pages.flows), its messages' states
        # (tenure.engage.flows.STATES, tenure.deliver.outbox) and a backtest's groups
        N_("paused"),
        N_("running"),
        N_("pending"),
        N_("held"),
        N_("capped"),
        N_("suppressed"),
        N_("holdout"),
        N_("sending"),
        N_("sent"),
        N_("delivered"),
        N_("opened"),
        N_("clicked"),
        N_("failed"),
        N_("targeted"),
        N_("difference"),
        # where a segment is defined (tenure.dashboard.pages.segment)
        N_("shipped"),
        N_("yours"),
        # the advisor (tenure.advisor): maturity stages, advice topics and levels, the
        # budget's response curves, the goals' metrics and scopes, yes and no
        N_("just started"),
        N_("gaining traction"),
        N_("consistent"),
        N_("established"),
        N_("well established"),
        N_("stage"),
        N_("next stage"),
        N_("effort split"),
        N_("health"),
        N_("missing data"),
        N_("info"),
        N_("alarm"),
        N_("fitted"),
        N_("constant CAC"),
        N_("revenue"),
        N_("margin"),
        N_("orders"),
        N_("new_customers"),
        N_("aov"),
        N_("customers"),
        N_("purchase_frequency"),
        N_("repeat_rate"),
        N_("overall"),
        N_("channel"),
        N_("segment"),
        N_("all channels"),
        N_("yes"),
        N_("no"),
    }
)
