# %% [markdown]
# # 06 · Layer 4, layer 7 and TLS: the balancer's own CPU
#
# A balancer is a computer too. At **layer 4** it forwards TCP connections and pays a little
# per connection; at **layer 7** it also parses every HTTP request to route it (by path, by
# host), which costs far more per request. Terminating **TLS** adds a handshake per new
# connection, the most expensive thing it does. This lesson gives the balancer a CPU, finds
# where it saturates, and splits its CPU by cause.
#
# In lbsim a balancer with `cpu: {workers, connection_cost, request_cost}` is a queue in
# front of `workers` cores: each request costs `connection_cost` (if it opens a connection;
# here every request does) plus, at `layer: 7` (the default), `request_cost`. When the cores are busy, requests
# wait at the balancer, before any server sees them.

# %%
from answers import check_06_ex1, check_06_ex2, check_06_ex3

import lbsim

# %% [markdown]
# ## 1. Layer 4 against layer 7 on one core
#
# `scenarios/l4_vs_l7.yaml`: one core, 5 µs per connection, 30 µs per parsed request (about
# HAProxy's published 32k requests per second per core), offered 40k requests per second.
# Shortened here to 4 s.

# %%
l4l7 = lbsim.run("../scenarios/l4_vs_l7.yaml", duration="4s")
l4l7.summary[
    [
        "variant",
        "balancer_utilization",
        "balancer_queue_mean",
        "throughput",
        "timeout_rate",
        "latency_p99",
        "utilization_mean",
    ]
]

# %% [markdown]
# At layer 4 the core is 20% busy: 40,000 × 5 µs = 0.2 s of CPU per second. At layer 7 the
# work is 40,000 × 35 µs = 1.4 s per second on one core: it cannot keep up. It parses what it
# can, 1 / 35 µs ≈ 28,600 requests per second, and the rest queue at the balancer; first come
# first served, every request then waits nearly the clients' 1 s timeout, so most time out:
# the servers are half idle and yet users fail. **The balancer is the bottleneck.**
#
# ## 2. The saturation rate is workers / cost
#
# A station of `c` cores with a fixed cost `s` per job completes at most `c / s` jobs per
# second. Sweep the offered rate on a deliberately slow layer-7 balancer (2 cores, 1 ms per
# request, no timeout) and count what leaves its CPU each second.


# %%
def served_per_second(rate: float) -> float:
    result = lbsim.run(
        {
            "name": "saturation",
            "duration": "6s",
            "warmup": "1s",
            "drain": "0s",
            "clients": {
                "arrivals": {"process": "poisson", "rate": rate},
                "service": {"dist": "deterministic", "value": 0.001},
            },
            "servers": [{"name": "web", "count": 4, "workers": 50}],
            "balancer": {
                "layer": 7,
                "cpu": {"workers": 2, "connection_cost": 0, "request_cost": "1ms"},
            },
        }
    )
    requests = result.requests
    served = requests[requests["latency_balancer"] > 0]
    left = served["arrival"] + served["latency_balancer"]
    return float(((left >= 2) & (left < 6)).sum() / 4)


rates = [500, 1000, 1500, 2000, 2500, 3000]
served = [served_per_second(rate) for rate in rates]
for rate, out in zip(rates, served, strict=True):
    print(f"offered {rate:5d}/s -> served {out:7.1f}/s")

# %% [markdown]
# Below 2000/s the balancer serves what arrives; above, it serves 2 / 1 ms = 2000/s and no
# more, however much is offered.
#
# ## 3. TLS termination: who pays for the handshake
#
# `scenarios/tls_termination.yaml`: 3000 new connections per second, a full handshake costs
# 0.5 ms of a core (NGINX: over 2,000 full ECDHE-ECDSA handshakes per second per core), a
# resumed one 0.05 ms. Terminating at the balancer puts the handshakes on its two cores;
# session resumption makes most of them cheap; passthrough leaves them to the servers.

# %%
tls = lbsim.run("../scenarios/tls_termination.yaml", duration="6s", warmup="1s")
tls.summary[
    [
        "variant",
        "handshakes_per_s",
        "balancer_cpu_handshake",
        "balancer_cpu_parse",
        "balancer_utilization",
        "utilization_mean",
        "latency_p50",
    ]
]

# %% [markdown]
# The handshake CPU is `rate × ((1 − r) × full + r × resumed)`: 3000 × 0.5 ms = 1.5 cores
# without resumption, 3000 × (0.1 × 0.5 + 0.9 × 0.05) ms ≈ 0.29 cores with 90% resumed.
# With passthrough the balancer cannot even read the request (no layer-7 routing), and the
# servers' utilisation rises by the handshakes they now do. Every variant's median latency
# carries the extra round trip of the handshake (20 ms here).
#
# ## Exercises
#
# **Exercise 1.** A layer-7 balancer has 4 cores; each request costs 10 µs for its connection
# and 40 µs to parse. How many requests per second can it forward at most?

# %% [solution]
ex1 = 4 / (10e-6 + 40e-6)
check_06_ex1(ex1)

# %% [markdown]
# **Exercise 2.** 3000 new TLS connections per second, 60% of them resumed; full handshake
# 0.5 ms, resumed 0.05 ms. How many cores do the handshakes use?

# %% [solution]
ex2 = 3000 * (0.4 * 0.5e-3 + 0.6 * 0.05e-3)
check_06_ex2(ex2)

# %% [markdown]
# **Exercise 3.** With a 5 µs connection cost and a 30 µs parse cost, and one request per
# connection, how many times more requests per core does a layer-4 balancer forward than a
# layer-7 one?

# %% [solution]
ex3 = (5e-6 + 30e-6) / 5e-6
check_06_ex3(ex3)
