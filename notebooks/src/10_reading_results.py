# %% [markdown]
# # 10 · Reading results honestly
#
# One simulation run is one draw of a random variable. This lesson shows how much a p99
# moves with the seed, how to state a result with a confidence interval over independent
# replications, why the first minutes of a run must be left out (warm-up), and what that
# means for gating CI on p99.
#
# The test system is M/M/1 at λ = 0.8/s, μ = 1/s, whose response time is exponential with
# rate μ − λ: mean 5 s, p99 = ln(100)/0.2 ≈ 23.0 s.

# %%
import math

import pandas as pd
from answers import check_10_ex1, check_10_ex2, check_10_ex3

import lbsim
from lbsim.analysis import theory

MM1 = {
    "name": "mm1",
    "seed": 1,
    "duration": "2h",
    "warmup": "10m",
    "clients": {
        "arrivals": {"process": "poisson", "rate": 0.8},
        "service": {"dist": "exponential", "mean": "1s"},
    },
    "servers": [{"name": "web", "count": 1, "workers": 1}],
}
truth = theory.mm1_response_quantile(0.8, 1.0, 0.99)
print(f"theory: p99 = {truth:.2f} s")

# %% [markdown]
# ## 1. One run's p99 moves with the seed

# %%
for seed in range(1, 7):
    p99 = lbsim.run(MM1, seed=seed).summary["latency_p99"][0]
    print(f"seed {seed}: p99 = {p99:5.1f} s")

# %% [markdown]
# The spread is several seconds: successive latencies in a queue are strongly correlated
# (one long busy period delays hundreds of requests), so two hours hold far fewer
# independent observations than requests. A single run cannot say "p99 got 10% worse".
#
# ## 2. Replications and confidence intervals
#
# `lbsim.sweep` runs independent replications (seeds derived from the scenario's seed) and
# gives each metric's mean over replications with a Student-t interval: each replication
# contributes *one* number, so the interval is honest about the correlation inside a run.

# %%
reps = lbsim.sweep(MM1, replications=8, jobs=1)
reps

# %%
row = reps.summary.set_index("metric").loc["latency_p99"]
print(f"p99: {row['mean']:.2f} s, 95% CI [{row['ci_low']:.2f}, {row['ci_high']:.2f}] s")
print(f"theory {truth:.2f} s inside: {row['ci_low'] <= truth <= row['ci_high']}")

# %% [markdown]
# The half-width shrinks like 1/√R: four times the replications for half the width.
#
# ## 3. Warm-up
#
# A run starts with empty queues, which is not the steady state: the first requests find
# short queues. Pool 40 independent runs at ρ = 0.9 (steady-state mean 10 s) and average
# latency by the two minutes the request arrived in:

# %%
busy = {"duration": "20m", "warmup": "0s", "clients__arrivals__rate": 0.9}
pooled = pd.concat(
    lbsim.run(MM1, seed=seed, **busy).requests[["arrival", "latency"]] for seed in range(1, 41)
)
early = pooled[pooled["arrival"] < 600]
by_window = early.groupby(early["arrival"] // 120)["latency"].mean()
by_window.index = [f"{int(w) * 2}-{int(w) * 2 + 2} min" for w in by_window.index]
by_window.round(2)

# %% [markdown]
# The first two minutes' mean is far below the rest: the queue needs time to build up (the
# relaxation time of M/M/1 is about 1/(μ(1 − √ρ)²), 380 s at ρ = 0.9). Leaving a warm-up
# of a few relaxation times out of the metrics (`warmup:`) removes that bias; it does not
# remove the noise, which is why the later windows still wander around (and below) 10 s.
#
# ## 4. Gating CI on p99
#
# A CI gate that fails a change when "p99 rose" needs the change to be larger than the noise.
# Gate on the confidence interval (`lbsim check` with `--replications`), compare variants on
# common random numbers (the same seeds), and choose the number of replications so that the
# half-width is well below the regression you want to catch:

# %%
half = (row["ci_high"] - row["ci_low"]) / 2
print(f"half-width with 8 replications: {half:.2f} s ({half / row['mean']:.0%} of p99)")
wanted = 0.05 * row["mean"]
needed = math.ceil(8 * (half / wanted) ** 2)
print(f"replications for a half-width of 5% of p99: about {needed}")

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** What is the theoretical p99 response time of M/M/1 with λ = 0.8/s and
# μ = 1/s? (The response time is exponential with rate μ − λ.)

# %% [solution]
ex1 = math.log(100) / (1.0 - 0.8)
check_10_ex1(ex1)

# %% [markdown]
# **Exercise 2.** By what factor must the number of replications grow to halve the width of
# a t-interval?

# %% [solution]
ex2 = 2**2
check_10_ex2(ex2)

# %% [markdown]
# **Exercise 3.** Give the 95% confidence interval `(low, high)` of `latency_p99` from the
# 8-replication sweep above; the check tests that it contains the theory.

# %% [solution]
ex3 = (row["ci_low"], row["ci_high"])
check_10_ex3(ex3)
