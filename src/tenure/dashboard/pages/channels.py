"""Channels: spend, new customers, CAC, historical and predicted CLV, CLV:CAC and payback per
acquisition channel and per campaign.

The channel rows are :func:`tenure.analytics.channels.channels` as of the window's end
(``tenure channels --json``); the campaign rows apply the same definitions
(:func:`~tenure.analytics.channels.economics`, :func:`~tenure.analytics.channels.historic_clv`,
:func:`~tenure.analytics.channels.spend_rows`) per ``acquisition_campaign``. Predicted CLV is
the mean of the last ``tenure predict``'s CLV column over the group's buyers.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
import pandas as pd

from tenure.analytics.channels import channels, economics, historic_clv, spend_rows
from tenure.analytics.facts import customer_facts
from tenure.config import Settings
from tenure.dashboard.model import N_, Chart, Column, Page, Section, Series, Window
from tenure.dashboard.pages.common import (
    frame_table,
    moneys,
    observed_end,
    one_series_chart,
    values,
)
from tenure.dashboard.stored import stored_table
from tenure.predictions.results import clv_column
from tenure.store import Store, reporting_currency

PREDICTIONS = "customer_predictions"
HORIZON_DAYS = 365

COLUMNS = (
    Column("new_customers", N_("New customers"), "count", "dash-new-customers"),
    Column("spend", N_("Spend"), "money", "dash-spend"),
    Column("cac", N_("CAC"), "money", "dash-cac"),
    Column("clv", N_("Historical CLV"), "money", "dash-historical-clv"),
    Column("predicted_clv", N_("Predicted CLV"), "money", "dash-predicted-clv"),
    Column("clv_cac", N_("CLV:CAC"), "ratio", "dash-clv-cac"),
    Column("health", N_("Health"), "text", "dash-channel-health"),
    Column("payback_months", N_("Payback (months)"), "number", "dash-payback"),
)


def predicted_clv(store: Store, groups: ir.Table, group: str) -> pd.DataFrame:
    """``group``, predicted_clv: the mean predicted CLV of each group's persons (a
    ``person_id`` and a ``group`` column); empty without predictions."""
    column = clv_column(store)
    if column is None:
        return pd.DataFrame(columns=[group, "predicted_clv"])
    p = store.read(PREDICTIONS)
    j = groups.join(p, groups.person_id == p.person_id)
    return j.group_by(j[group]).agg(predicted_clv=j[column].mean()).to_pandas()


def campaigns(store: Store, end: date, buyers: ir.Table) -> pd.DataFrame:
    """One row per (channel, campaign) of acquisition or of spend: channel economics per
    campaign."""
    key = ibis.coalesce(buyers.acquisition_campaign, ibis.literal("(none)"))
    members = buyers.select("person_id", channel=buyers.acquisition_channel, campaign=key).mutate(
        group=lambda t: t.channel.concat("\x1f", t.campaign)
    )
    new = members.group_by(["group", "channel", "campaign"]).agg(new_customers=members.count())
    rows = spend_rows(store, end)
    rows = rows.mutate(campaign=ibis.coalesce(rows.campaign, ibis.literal("(none)")))
    spend = rows.group_by(["channel", "campaign"]).agg(spend=rows.cost.sum())
    clv = historic_clv(store, members, end, HORIZON_DAYS).to_pandas()
    out = new.to_pandas().merge(spend.to_pandas(), on=["channel", "campaign"], how="outer")
    out["group"] = out["channel"].astype(str) + "\x1f" + out["campaign"].astype(str)
    out = out.merge(clv, on="group", how="left")
    out = out.merge(predicted_clv(store, members, "group"), on="group", how="left")
    out["new_customers"] = out["new_customers"].fillna(0).astype("int64")
    out = economics(out, HORIZON_DAYS)
    return out.sort_values(["channel", "campaign"]).reset_index(drop=True)


def build(store: Store, settings: Settings, window: Window) -> Page:
    """The channels page as of the window's end."""
    currency = reporting_currency(store)
    end = observed_end(store, window)
    facts = stored_table(store, "customer_facts", end)
    frame = channels(store, as_of=end, horizon_days=HORIZON_DAYS, facts=facts)
    if facts is None:
        facts = customer_facts(store, as_of=end)
    wanted = facts.filter(facts.is_buyer).select(
        "person_id", "acquisition_channel", "acquisition_campaign"
    )
    with wanted.cache() as buyers:  # computed once for both groupings
        members = buyers.select("person_id", channel=buyers.acquisition_channel)
        frame = frame.merge(predicted_clv(store, members, "channel"), on="channel", how="left")
        per_campaign = campaigns(store, end, buyers)
    notes = []
    if frame["spend"].isna().all():
        notes.append(N_("No marketing spend recorded: CAC, CLV:CAC and payback unknown."))
    if frame["clv"].isna().all():
        notes.append(
            N_("Historical CLV unknown: no customer has had the whole 365-day horizon yet.")
        )
    if clv_column(store) is None:
        notes.append(N_("No predictions yet: run `tenure predict` for the predicted CLV."))
    channel_table = frame_table(
        "channels",
        N_("Channel economics"),
        frame,
        (Column("channel", N_("Channel"), "text"), *COLUMNS),
        currency,
    )
    campaign_table = frame_table(
        "campaigns",
        N_("Campaign economics"),
        per_campaign,
        (
            Column("channel", N_("Channel"), "text"),
            Column("campaign", N_("Campaign"), "text"),
            *COLUMNS,
        ),
        currency,
    )
    return Page(
        "channels",
        N_("Channels"),
        window,
        currency,
        (
            Section(
                "channels",
                N_("Channels"),
                charts=_charts(frame, currency),
                tables=(channel_table,),
                notes=tuple(notes),
            ),
            Section("campaigns", N_("Campaigns"), tables=(campaign_table,)),
        ),
    )


def _charts(frame: pd.DataFrame, currency: str) -> tuple[Chart, ...]:
    x = values(frame["channel"])
    return (
        one_series_chart(
            "new_customers",
            N_("New customers per channel"),
            "bar",
            x,
            N_("New customers"),
            frame["new_customers"],
        ),
        Chart(
            "cac_clv",
            N_("CAC and CLV per channel"),
            "bar",
            x,
            (
                Series(N_("CAC"), moneys(frame["cac"], currency)),
                Series(N_("Historical CLV"), moneys(frame["clv"], currency)),
                Series(N_("Predicted CLV"), moneys(frame["predicted_clv"], currency)),
            ),
            "money",
        ),
    )
