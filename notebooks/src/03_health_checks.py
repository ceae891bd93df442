# %% [markdown]
# # 03 · Health checks and failover
#
# A balancer only knows what it can observe. When a server dies, the balancer keeps sending
# it traffic until a **health check** says otherwise. This lesson measures that detection
# delay, derives the window it must fall in, shows what users see meanwhile, and what probing
# more often costs.
#
# * **Active** checks: the balancer probes every backend every `interval`; after
#   `unhealthy_threshold` (HAProxy: `fall`) failed probes in a row, the server is out.
# * **Passive** checks (outlier detection): the balancer watches real responses and ejects a
#   server after a run of errors. No probes, but users' requests are the probes.

# %%
from answers import check_03_ex1, check_03_ex2, check_03_ex3

import lbsim

# %% [markdown]
# ## 1. A crash, three check settings
#
# `scenarios/health_check_failover.yaml`: six servers, 120 req/s, least connections. Here
# `web-2` crashes at t = 60 s for two minutes (the file's own timeline is longer). A crashed
# server is silent: connections to it hang until the client's 5 s connect timeout. Compared:
# HAProxy's defaults (`inter 2s`, `timeout 2s`, `fall 3`), an aggressive HAProxy (500 ms,
# `fall 2`) and AWS ALB's defaults (30 s interval, 5 s timeout, 2 failures).

# %%
crash = [{"at": "60s", "target": "web-2", "action": "crash", "for": "2m"}]
checks = lbsim.run(
    "../scenarios/health_check_failover.yaml", duration="4m", warmup="30s", events=crash
)
checks

# %%
ax = checks.plot.errors()

# %% [markdown]
# ## 2. The detection window, derived
#
# Between probes, a healthy server answers a probe at once, so probes go out every
# `interval`. The crash happens somewhere in that cycle: the next probe goes out within
# one `interval`. A probe to a silent server fails only when its `timeout` expires, and the
# next probe is sent `interval` after that result (HAProxy and Envoy re-arm their timers
# after each check). So with `fall` failures needed:
#
# $$\text{delay} \in [\,\text{fall}\cdot\text{timeout} + (\text{fall}-1)\cdot\text{interval},
# \;\; \text{fall}\cdot\text{timeout} + \text{fall}\cdot\text{interval}\,)$$
#
# HAProxy defaults: [3·2 + 2·2, + 2) = [10, 12) s. Check each variant against its window:

# %%
settings = {
    "haproxy": (2.0, 2.0, 3),
    "haproxy(interval=500ms, timeout=500ms, unhealthy_threshold=2)": (0.5, 0.5, 2),
    "alb": (30.0, 5.0, 2),
}
for variant, (interval, timeout, fall) in settings.items():
    low = fall * timeout + (fall - 1) * interval
    delay = checks.summary.set_index("variant").loc[variant, "detect_down_mean"]
    inside = low <= delay < low + interval
    print(f"{variant:>62}: {delay:6.2f} s in [{low:g}, {low + interval:g}) s: {inside}")

# %% [markdown]
# ## 3. What users see in the window
#
# Until the server is marked down, least connections keeps sending it a share of the traffic,
# and each of those requests waits out the connect timeout and fails (`conn_error`). The longer
# the window, the more failed requests. The `conn error` column above grows with the delay.

# %%
failed = checks.requests[checks.requests["status"] == "conn_error"]
failed.groupby("variant", observed=True).size().rename("failed requests")

# %% [markdown]
# ## 4. The price of probing often
#
# Each balancer sends one probe per server per interval: 6 servers at 500 ms is 12 probes a
# second from *each* balancer instance; a fleet of 50 balancers checking 200 servers every
# 500 ms sends 20 000 probes a second. Probes through the server's queue
# (`through_queue: true`) also fail when the server is merely overloaded, which can take
# healthy but busy servers out of rotation: the seed of a cascading failure.
#
# ## 5. Passive checks
#
# With only passive checks (NGINX `max_fails=1 fail_timeout=10s`), the balancer stops using a
# server after one failed request and retries it after 10 s: no probes, but every 10 s some
# user request is the probe.

# %%
passive = lbsim.run(
    "../scenarios/health_check_failover.yaml",
    duration="4m",
    warmup="30s",
    events=crash,
    compare=None,
    balancer__health_check=None,
    balancer__passive={"preset": "nginx"},
)
passive.summary[["variant", "conn_error_rate", "error_rate", "latency_p99"]]

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** Give the detection window `(low, high)` in seconds for HAProxy's defaults.

# %% [solution]
ex1 = (3 * 2.0 + 2 * 2.0, 3 * 2.0 + 3 * 2.0)
check_03_ex1(ex1)

# %% [markdown]
# **Exercise 2.** The same for ALB's defaults (interval 30 s, timeout 5 s, 2 failures).

# %% [solution]
ex2 = (2 * 5.0 + 1 * 30.0, 2 * 5.0 + 2 * 30.0)
check_03_ex2(ex2)

# %% [markdown]
# **Exercise 3.** How many probes per second does one balancer send to 6 healthy servers
# with a 500 ms interval?

# %% [solution]
ex3 = 6 / 0.5
check_03_ex3(ex3)
