# %% [markdown]
# # 08 · Global balancing: regions, DNS, and why failover takes a TTL
#
# The primer's full architecture is *DNS for regions → a load balancer per region →
# servers*. DNS is the global balancer: it answers each client with a region. It is also
# the reason region failover is slow:
#
# 1. **Routing policies** (Route 53): *latency* sends a client to the region with the
#    lowest measured round trip; *weighted* splits by weight; geolocation, failover and
#    multivalue are the others.
# 2. **Health checks and caches.** When a region dies, DNS notices only through its health
#    checkers (every 10 or 30 s, a failure threshold), and resolvers keep the old answer
#    until its **TTL** runs out. Some clients (browsers, JVMs) ignore the TTL altogether.

# %%
from answers import check_08_ex1, check_08_ex2, check_08_ex3

import lbsim

SCENARIO = "../scenarios/global_failover.yaml"

# %% [markdown]
# ## 1. Sending each client to its region
#
# `scenarios/global_failover.yaml`: clients in us-east and eu-west, one region each, about
# 12-15 ms away from their own region and 85 ms from the other. Latency-based DNS keeps
# everyone local; weighted 1:1 sends half of each location's clients across the ocean.

# %%
policies = {"dns.policy": ["latency", "weighted"]}
near = lbsim.run(SCENARIO, duration="4m", warmup="30s", events=[], compare=policies)
near.summary[["variant", "latency_p50", "latency_p99", "cross_region_share"]]

# %% [markdown]
# The network round trip is part of every request's latency, recorded as its own part,
# `latency_network`:

# %%
near.requests.groupby(["variant", "region"], observed=True)["latency_network"].mean().unstack()

# %% [markdown]
# ## 2. A region fails
#
# Now eu-west fails at 3 min for 8 min. Route 53's checkers (every 10 s, 3 failures)
# mark it unhealthy within 30 s, but a resolver that answered "eu-west" just before that
# keeps answering it for one more TTL. The scenario compares TTL 60 s and 300 s, each with
# and without 10% of clients that keep an answer for an hour.

# %%
outage = [{"at": "3m", "target": "eu-west", "action": "crash", "for": "8m"}]
fail = lbsim.run(SCENARIO, duration="12m", warmup="30s", events=outage)
fail.summary[["variant", "failover_time", "dead_region_requests", "dns_queries_per_s"]]

# %% [markdown]
# The share of requests that still reach the dead region, in 10 s bins:

# %%
requests = fail.requests
requests["to_dead_region"] = requests["region"] == 1  # eu-west
bins = (requests["arrival"] // 10 * 10).rename("time (s)")
share = requests.groupby(["variant", bins], observed=True)["to_dead_region"].mean().unstack(0)
ax = share.loc[150:700].plot(ylabel="share of requests sent to eu-west", figsize=(8, 4))
ax.axvline(180, color="grey", linestyle=":")

# %% [markdown]
# Read the curves: with a 60 s TTL the share falls to zero within about detection + TTL =
# 90 s of the failure; with 300 s it takes up to 330 s. With stale clients it never falls
# to zero while the region is down: they are the 10% × (half of the clients in eu-west)
# still knocking on the dead door, and each of their requests fails after the connect
# timeout. `failover_time` (time until 99% of traffic has moved) is then the whole outage.
#
# The price of a short TTL is DNS load: a resolver asks again at most once per TTL, so
# `dns_queries_per_s` is at most resolvers / TTL (16 / 60 s ≈ 0.27 here, against 0.05).
#
# ## Exercises
#
# **Exercise 1.** Route 53 checks every 30 s with a failure threshold of 3 and the TTL is
# 60 s. At worst, how many seconds after a region fails do clients that honour the TTL
# stop being sent to it?

# %% [solution]
ex1 = 3 * 30 + 60
check_08_ex1(ex1)

# %% [markdown]
# **Exercise 2.** 40 busy resolvers cache a record with a 20 s TTL. At most how many
# queries per second reach the authoritative DNS?

# %% [solution]
ex2 = 40 / 20
check_08_ex2(ex2)

# %% [markdown]
# **Exercise 3.** Weighted records: A with weight 2, B with weight 1, C with weight 0.
# A becomes unhealthy. What share of answers does B get now?

# %% [solution]
ex3 = 1.0  # C (weight 0) is considered only when every non-zero record is unhealthy
check_08_ex3(ex3)
