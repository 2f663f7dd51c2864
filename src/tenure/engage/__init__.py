"""Engagement: segments as code, flows and the send policy (issue 16, docs/flows.md)."""
