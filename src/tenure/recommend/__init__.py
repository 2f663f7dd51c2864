"""Product recommendations (docs/recommendations.md): frequently bought together, completing a
basket, the next product per person and cross-category candidates, built by the pipeline's
``recommendations`` step and read by the CLI, flows and the HTTP API."""

from tenure.recommend.build import (
    CANDIDATES,
    PAIRS,
    RECOMMENDATIONS,
    RecommendationsBuild,
    build_recommendations,
)
from tenure.recommend.read import (
    ProductNotFoundError,
    best_sellers,
    recommend_cart,
    recommend_for,
    resolve_products,
    top_pairs,
)

__all__ = [
    "CANDIDATES",
    "PAIRS",
    "RECOMMENDATIONS",
    "ProductNotFoundError",
    "RecommendationsBuild",
    "best_sellers",
    "build_recommendations",
    "recommend_cart",
    "recommend_for",
    "resolve_products",
    "top_pairs",
]
