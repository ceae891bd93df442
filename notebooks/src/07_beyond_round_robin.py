# %% [markdown]
# # 07 · Beyond round robin: what the field learned since
#
# The primer's six algorithms balance *load*. Real proxies and the research behind them
# moved on to *latency* and to the shape of requests themselves. This lesson walks the
# published results lbsim reproduces (each one is a scenario in `scenarios/published/`
# and a test; `docs/validation.md` lists source, figure and tolerance):
#
# 1. **Latency-aware balancing**: Envoy's peak EWMA against policies blind to latency.
# 2. **Hedged requests** and **fan-out** from "The Tail at Scale" (Dean & Barroso, 2013).
# 3. **Retry amplification** (Brooker): what retries cost when things fail.
# 4. A **metastable retry storm**: an overload that outlives its trigger.

# %%
from answers import check_07_ex1, check_07_ex2, check_07_ex3

import lbsim

PUBLISHED = "../scenarios/published/"

# %% [markdown]
# ## 1. Peak EWMA: learn the slow host
#
# Ten servers, nine answer in 5 ms and one in 50 ms. Round robin, least request, random,
# ring hash and Maglev all send the slow one its tenth of the traffic, so more than 1 % of
# requests take 50 ms and **p99 = 50 ms**. Peak EWMA (Envoy, Finagle, Linkerd) picks two
# hosts and takes the one with the lower *peak-sensitive average latency × (active + 1)*:
# it learns the slow host's latency and p99 stays at the fast hosts' 5 ms.

# %%
ewma = lbsim.run(PUBLISHED + "envoy_peak_ewma.yaml", duration="25s", warmup="5s")
ewma.summary[["variant", "latency_p50", "latency_p99"]]

# %% [markdown]
# The same idea under a real incident is Linkerd's "Beyond Round Robin" (one backend 12×
# slower for 30 s behind a 1 s timeout: round robin loses ≈ 4 % of requests, least loaded
# ≈ 1 %, peak EWMA fewer still), and behind it all sits Mitzenmacher's supermarket model:
# looking at *two* random queues instead of one shrinks the mean wait from 1/(1 − λ) to
# Σ λ^(2^i − 2) (notebook 02). Run `linkerd_beyond_round_robin.yaml` and
# `supermarket.yaml` to see both.
#
# ## 2. The tail at scale
#
# Each answer takes 10 ms (96 %), 20 ms (3 %) or, for 1 % of answers, **1 s** (a pause, a
# hiccup). One request in a hundred is a straggler, so p99.9 is a full second.
#
# **Hedging**: if no answer came after `after`, send a backup copy to another server and
# take whichever answers first, cancelling the other (`clients.hedge`). Dean & Barroso's
# rule is to wait for the p95: only the ≈ 5 % of requests still pending then cost a backup.

# %%
hedging = lbsim.run(PUBLISHED + "tail_at_scale_hedging.yaml", duration="30s", warmup="2s")
hedging.summary[["variant", "latency_p95", "latency_p999", "extra_load", "utilization_mean"]]

# %% [markdown]
# After 12 ms (just past the p95 of 10 ms), 4 % more requests bring p99.9 from 1 s to
# 22 ms: a straggler is now answered by its backup, 12 ms + 10 ms. Hedging at the p99
# (25 ms) costs only the 1 % stragglers and still gives 35 ms. Utilisation even *falls*:
# a cancelled straggler no longer holds its worker for a second.
#
# **Fan-out**: a search front end asks 100 leaves and must wait for all of them. If each
# leaf is slow 1 % of the time, a request is fast only when all 100 are:
# 0.99^100 ≈ 37 %, so **63 %** of requests are slow (`clients.fanout`).

# %%
fanout = lbsim.run(PUBLISHED + "tail_at_scale_fanout.yaml", duration="20s", warmup="2s")
requests = fanout.requests
slow = (requests["latency"] > 0.5).groupby(requests["variant"], observed=True).mean()
slow  # share of requests that waited for a straggler

# %% [markdown]
# Needing only 99 of the 100 leaves (answering without the slowest) drops the slow share
# to about a quarter: the request is slow only if two or more leaves straggle.
#
# ## 3. Retry amplification
#
# A client retries a failed attempt up to N times. If each attempt fails with probability
# x, a request makes 1 + x + x² + … + x^N = (1 − x^(N+1)) / (1 − x) attempts: little when
# x is small, but **N + 1 times the load when everything fails** — exactly when the backend
# can least afford it. A retry budget (Envoy: retries in flight at most 20 % of the active
# requests, at least 3) caps it.

# %%
amplification = lbsim.run(PUBLISHED + "retry_amplification.yaml", duration="20s", warmup="2s")
table = amplification.summary[["events.0.rate", "clients.retries.budget", "retry_amplification"]]
table.assign(theory=[(1 - x**4) / (1 - x) if x < 1 else 4.0 for x in table["events.0.rate"]])

# %% [markdown]
# The `theory` column is for the rows without a budget; with it, load stays near 1.3×
# however much fails.
#
# ## 4. A metastable retry storm
#
# Ten servers at half load; service gets up to 1.4× slower when a server holds many
# requests (contention: `servers[].slowdown`). Attempts time out after 1 s and are retried
# 3 times. A 5-second spike (60–65 s) builds queues longer than the timeout. From then on
# every attempt times out *and is still served*: 4 attempts × 0.5 load × 1.4 = 2.8 times
# capacity. The spike is gone, the overload is not: a **metastable failure**.
# `recovery_time` measures how long after the trigger p99 and goodput are back within
# 10 % of before (`inf`: never).

# %%
storm = lbsim.run(PUBLISHED + "metastable_retry_storm.yaml", duration="120s")
storm.summary[["variant", "error_rate", "retry_amplification", "recovery_time"]]

# %%
ax = storm.plot.errors()

# %% [markdown]
# With the budget, retries add at most ≈ 20 %: 1.2 × 0.5 × 1.4 = 0.84 of capacity, the
# backlog drains and the system recovers about 20 s after the spike. Without it, it never
# does. The cure for a metastable state is not more capacity during the trigger but
# breaking the feedback loop: retry budgets, jittered back-off, load shedding.
#
# ## Exercises
#
# **Exercise 1.** A request fans out to 100 leaves and waits for all of them; each leaf
# is slow 1 % of the time, independently. What fraction of requests is slow?

# %% [solution]
ex1 = 1 - 0.99**100
check_07_ex1(ex1)

# %% [markdown]
# **Exercise 2.** A client retries up to N = 2 times; half of all attempts fail,
# independently. How many attempts does a request make on average?

# %% [solution]
ex2 = (1 - 0.5**3) / (1 - 0.5)
check_07_ex2(ex2)

# %% [markdown]
# **Exercise 3.** The same fan-out to 100 leaves, but the request needs only 99 answers.
# What fraction of requests is slow now (two or more leaves slow)?

# %% [solution]
ex3 = 1 - 0.99**100 - 100 * 0.01 * 0.99**99
check_07_ex3(ex3)
