"""Each plot's title, and one caption line per plot: what a reader should look for."""

TITLES: dict[str, str] = {
    "latency_cdf": "Latency distribution (ok requests)",
    "latency_over_time": "Latency percentiles over time",
    "queue_depth": "Queue depth over time",
    "errors_over_time": "Errors by kind over time",
    "health_over_time": "Servers up and in rotation over time",
    "server_load": "Requests and utilisation per server",
    "capacity_over_time": "Autoscaled capacity and demand over time",
}

#: One line per plot: what a reader should look for.
CAPTIONS: dict[str, str] = {
    "health_over_time": (
        "Solid: servers really up; dashed: servers the balancers route to. The dashed line "
        "lagging the solid one after a crash or recovery is the detection delay."
    ),
    "capacity_over_time": (
        "Solid: instances provisioned (booting included); dashed: in service; shaded: the "
        "demand. How far the dashed line lags the demand is boot time plus the autoscaler's "
        "evaluation periods and cooldowns."
    ),
    "latency_cdf": (
        "Further left is faster; read the top of the plot (p99, p99.9): the tail, not the "
        "median, is where balancing strategies differ. Only ok requests are drawn: a variant "
        "that fails more can look faster here, so read it with the error rate and the "
        "latency over all requests in the summary."
    ),
    "latency_over_time": (
        "Solid p50, dashed p99, dotted p99.9 per window of arrivals: look for spikes that line "
        "up with an event or the arrival-rate panel, and how fast each variant recovers "
        "(ok requests only: see the errors plot for the rest)."
    ),
    "queue_depth": (
        "Solid is the mean, dashed the longest queue across servers: a max far above the mean "
        "means one server is swamped while others sit idle."
    ),
    "errors_over_time": (
        "Share of the requests arriving in each window that ended in each error kind: look for "
        "bursts after failures and which variant keeps them shortest."
    ),
    "server_load": (
        "Requests sent to each server (top) and its utilisation over the measured window "
        "(bottom). With identical servers even bars mean even balance; with servers of "
        "different speed or workers, a fair split sends more to the bigger ones: read the "
        "utilisation bars, where one tall bar is a hot server."
    ),
}
