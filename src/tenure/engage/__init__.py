"""Engagement: segments as code, flows and the send policy that decides who gets which
message, and when (docs/flows.md). Sits between predictions/recommend and the pipeline."""
