# %% [markdown]
# # 04 · The balancer is not immortal, and retries are not free
#
# Two lessons on failure handling that looks free and is not:
#
# 1. A balancer is a server too. An **active-passive pair** (keepalived/VRRP) survives the
#    death of the active instance, but every request that arrives during the takeover fails.
# 2. **Retries** hide the odd failure, but under overload every retry is more load on a
#    cluster that is already drowning: a **retry storm**. A timed-out request's work is still
#    done by the server (**wasted work**). **Retry budgets** keep retries for rare failures.

# %%
from answers import check_04_ex1, check_04_ex2, check_04_ex3

import lbsim

# %% [markdown]
# ## 1. Active-passive failover
#
# `scenarios/lb_failover.yaml`: 200 req/s through a pair of balancers. Here the active one,
# `lb-0`, dies at t = 60 s; the standby takes over after `failover_time` (1, 3 or 10 s).

# %%
lb_crash = [{"at": "60s", "target": "lb-0", "action": "crash", "for": "30s"}]
pair = lbsim.run("../scenarios/lb_failover.yaml", duration="2m", warmup="10s", events=lb_crash)
pair

# %% [markdown]
# Requests that arrive while nobody owns the virtual IP fail, so the loss is about
# λ × takeover time (plus the few in flight through the dead instance):

# %%
lost = pair.requests[pair.requests["status"] != "ok"].groupby("variant", observed=True).size()
for (variant, count), takeover in zip(lost.items(), (1, 3, 10), strict=True):
    print(f"{variant:>18}: {count:5d} failed, λ·T = {200 * takeover:5d}")

# %%
ax = pair.plot.errors()

# %% [markdown]
# ## 2. A retry storm
#
# Four servers can serve 100 req/s (40 ms each). Traffic runs at 70 req/s, then surges to
# 110 req/s for 30 s. Each attempt is abandoned after 500 ms (`per_try_timeout`) and, in two
# of the variants, retried up to three times; the third adds Envoy's retry budget (retries
# in flight at most 20% of active requests).

# %%
surge = [
    {"at": "0s", "rate": "70/s"},
    {"at": "60s", "rate": "70/s"},
    {"at": "61s", "rate": "110/s"},
    {"at": "90s", "rate": "110/s"},
    {"at": "91s", "rate": "70/s"},
]
retry_on = ["rejected", "timeout", "conn_error"]
storm = lbsim.make_scenario(
    name="storm",
    seed=3,
    duration="3m",
    warmup="10s",
    clients={
        "arrivals": {"process": "poisson", "profile": surge},
        "service": {"dist": "exponential", "mean": "40ms"},
        "timeout": "2s",
        "per_try_timeout": "500ms",
    },
    balancer={"algorithm": "least_connections"},
    servers=[{"name": "web", "count": 4, "workers": 1}],
    compare={
        "clients.retries": [
            None,
            {"max": 3, "retry_on": retry_on},
            {"max": 3, "retry_on": retry_on, "budget": {"percent": 20}},
        ]
    },
)
storm_run = lbsim.run(storm)
storm_run.summary[["variant", "ok", "error_rate", "retry_amplification", "wasted_rate"]]

# %%
ax = storm_run.plot.errors()

# %% [markdown]
# Read the table: with unlimited retries the load in flight is multiplied (`retry
# amplification` ≈ 3), the servers spend their time on attempts nobody waits for any more
# (`wasted` > 100% of requests), the queues never drain during the surge, and *fewer* users
# are served than with no retries at all. The budget caps the amplification near 1.2: it
# keeps most of the damage away, though under sustained overload no retry helps.
#
# ## 3. Timeouts and wasted work
#
# A client-side timeout does not cancel the work: the request stays in the server's queue
# and is served for nobody. `latency_p99` of *successful* requests can even look fine while
# most users time out: always read the error columns with the latency ones.
#
# ## Exercises
#
# **Exercise 1.** At 200 req/s, about how many requests fail while a standby takes 3 s to
# take over?

# %% [solution]
ex1 = 200 * 3
check_04_ex1(ex1)

# %% [markdown]
# **Exercise 2.** With `max: 3` retries, what is the largest possible number of attempts per
# request (the worst-case retry amplification)?

# %% [solution]
ex2 = 1 + 3
check_04_ex2(ex2)

# %% [markdown]
# **Exercise 3.** A retry budget of 20% lets retries in flight be at most 20% of the active
# requests. What bound does that put on the load in flight, as a multiple of the requests?

# %% [solution]
ex3 = 1 + 20 / 100
check_04_ex3(ex3)
