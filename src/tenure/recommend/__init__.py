"""Product recommendations (docs/recommendations.md): frequently bought together, completing a
basket, the next product per person and cross-category candidates, built by the pipeline's
``recommendations`` step and read by the CLI, flows and the HTTP API."""
