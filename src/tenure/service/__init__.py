"""The service (issue 18): ``tenure serve``, one process that owns the store and answers HTTP.

* :mod:`tenure.service.app`: :func:`create_app`, the FastAPI application: the routers, the one
  error body (:mod:`tenure.service.errors`), the store opened for the process's lifetime.
* :mod:`tenure.service.collector`: the Segment-compatible tracking API (``/v1/*``), durable
  before it answers (a write-ahead log), loaded into the store in micro-batches.
* :mod:`tenure.service.admin`: the admin API behind admin tokens, the unsubscribe, click and
  on-site endpoints.
* :mod:`tenure.service.ops`: ``/health``, ``/metrics`` and the worker that runs the pipeline,
  the flows and the dispatcher on schedules inside the server.
* :mod:`tenure.service.auth`: write keys and admin tokens; :mod:`tenure.service.state` the
  process's store and the lock every use of it takes.
"""
