"""The dashboard and the lifecycle report (docs/dashboard.md): pages as data (``model.py``)."""
