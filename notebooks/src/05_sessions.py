# %% [markdown]
# # 05 · Sessions: sticky cookies, source IP, a shared store, and retrying politely
#
# Real users are not a Poisson stream of independent requests. A user logs in, clicks,
# reads, clicks again: a **session**, a closed loop where the next request leaves only after
# the previous answer and a **think time**. Sessions carry **state** (a cart, a login), and
# where that state lives decides what a crashed server costs:
#
# * on the server that answered first, kept there by **cookie stickiness** (HAProxy
#   `cookie`, NGINX `sticky`, ALB `lb_cookie`) or by hashing the **source IP** (NGINX
#   `ip_hash`): lose the server, lose its sessions;
# * in a **shared session store** every request visits: nothing is lost, every request pays.
#
# The last part is about clients that retry a contended write: **back-off and jitter**.

# %%
from answers import check_05_ex1, check_05_ex2, check_05_ex3, check_05_ex4

import lbsim

# %% [markdown]
# ## 1. A closed loop obeys the response-time law
#
# With N users each alternating a request (response time R) and a think time Z, the
# request rate is X = N / (R + Z) (the interactive response-time law). Sessions of 20
# requests 2 s apart, starting at 4 per second, keep about N = 4 × 20 × 2 s = 160 users
# busy; each request takes about 30 ms.

# %%
closed = lbsim.make_scenario(
    name="closed_loop",
    seed=5,
    duration="2m",
    warmup="45s",
    clients={
        "count": 3000,
        "arrivals": {"process": "poisson", "rate": "4/s"},
        "service": {"dist": "lognormal", "mean": "30ms", "cv": 1},
        "sessions": {"requests": 20, "think": "2s"},
    },
    servers=[{"name": "web", "count": 4, "workers": 4}],
)
loop = lbsim.run(closed)
row = loop.summary.iloc[0]
law = 160 / (row["latency_mean"] + 2.0)  # N / (R + Z) with the measured R
print(f"measured {row['throughput']:.1f} req/s; N/(R+Z) = {law:.1f} req/s")

# %% [markdown]
# ## 2. Cookie, source IP, store — and a crash
#
# `scenarios/sticky_sessions.yaml`: web-2 crashes at 60 s for 30 s; HAProxy-style checks
# mark it down at about 71 s. 40% of the users sit behind two NAT gateways. Three balancers
# (cookie on round robin, `ip_hash`, plain round robin), each without and with a store.

# %%
sticky = lbsim.run("../scenarios/sticky_sessions.yaml")
columns = ["sessions_started", "sessions_lost", "session_imbalance", "store_utilization"]
sticky.summary[["variant", *columns, "latency_p50", "latency_p99"]]

# %% [markdown]
# Read it row by row:
#
# * **cookie**: each session stays on its server until the mark-down; then the sessions of
#   web-2 that send again are balanced elsewhere, the cookie is rewritten, and their state
#   is gone (`sessions_lost`). Before the mark-down their requests still go to the dead
#   server and wait out the connect timeout before a retry elsewhere (HAProxy's
#   `option redispatch`).
# * **source IP**: the same, but a NAT gateway's users share one address and so one server:
#   look at the shares below. When web-2 returns, the hash moves its users back — and they
#   lose their state a second time.
# * **no persistence**: almost every session lands on a second server at its second
#   request: nearly all are lost.
# * **with a store**: nothing is lost, whatever the balancer does; each request pays a visit
#   to the store, which is now a shared station that can saturate or fail itself.

# %%
shares = sticky.session_share()
shares.pivot(index="variant", columns="server", values="share").round(3)

# %% [markdown]
# ## 3. Retrying a contended write: back-off and jitter
#
# `scenarios/published/aws_backoff_jitter.yaml` reproduces the AWS Architecture Blog post
# "Exponential Backoff and Jitter" (2015): 50 writers update one row under optimistic
# concurrency; a write fails if another committed since the writer's read. Plain exponential
# back-off keeps the losers in lock-step, so they collide again and again; jitter spreads
# them out.

# %%
backoff = lbsim.run("../scenarios/published/aws_backoff_jitter.yaml")
table = backoff.summary[["variant", "retry_amplification", "latency_max"]].copy()
table["calls"] = table["retry_amplification"] * 50
table

# %% [markdown]
# Full jitter makes about half the calls of plain exponential back-off and the last writer
# finishes in a fraction of the time (one run varies; the post and
# `tests/published/test_aws_backoff_jitter.py` average over runs).
#
# ## Exercises
#
# **Exercise 1.** 160 users think 2 s between requests that take 25 ms. What request rate
# do they send (req/s)?

# %% [solution]
ex1 = 160 / (2.0 + 0.025)
check_05_ex1(ex1)

# %% [markdown]
# **Exercise 2.** 160 sessions are spread evenly over 4 servers with cookie stickiness, and
# no store. One server dies for longer than a think time. About how many sessions are lost?

# %% [solution]
ex2 = 160 / 4
check_05_ex2(ex2)

# %% [markdown]
# **Exercise 3.** With `ip_hash` on 4 servers, 40% of the users share one NAT address and
# the rest spread evenly. What share of the sessions does the NAT address's server hold?

# %% [solution]
ex3 = 0.4 + 0.6 / 4
check_05_ex3(ex3)

# %% [markdown]
# **Exercise 4.** base = 5 ms. What is the mean wait before retry 3 with full jitter
# (uniform below min(cap, base × 2^N)), in seconds?

# %% [solution]
ex4 = 0.005 * 2**3 / 2
check_05_ex4(ex4)
