"""Engagement (docs/segments.md, docs/flows.md): segments as code (YAML definitions compiled
to Ibis over every person's profile, with their membership history), flows and the send
policy that decides who gets which message, and when. Sits between predictions/recommend and
the pipeline."""
