"""Segments as code (docs/segments.md): YAML definitions of who is in a segment, compiled to
Ibis over the profile of every person, evaluated at an injectable clock, and their membership
history (entries and exits) kept for the flows."""
