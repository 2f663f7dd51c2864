"""The growth advisor (docs/advisor.md): the channels' economics and a budget proposal by
CLV:CAC, the store's maturity stage and its effort split, and goals with a forecast."""
