"""Request outcomes: the ``status`` column's codes, shared by engine, algorithms and analysis."""

STATUSES = ("ok", "rejected", "no_backend", "conn_error", "server_error", "timeout", "incomplete")
OK, REJECTED, NO_BACKEND, CONN_ERROR, SERVER_ERROR, TIMEOUT, INCOMPLETE = range(len(STATUSES))
