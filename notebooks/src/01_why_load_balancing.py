# %% [markdown]
# # 01 · Why load balancing
#
# One server can only do so much. This lesson shows, by simulation and against queueing
# theory, why several servers behind a balancer beat one, and why *how* the work is shared
# matters as much as how many servers there are.
#
# You will see:
#
# 1. the seed's airport-security example as queues: one lane against five;
# 2. latency against utilisation, the "hockey stick", next to the M/M/1 formula;
# 3. five separate queues (c × M/M/1) against one shared queue (M/M/c, Erlang C).
#
# Every run here is short (a few simulated minutes), so numbers carry some noise; the
# comparisons with theory say how much to expect.

# %%
from answers import check_01_ex1, check_01_ex2, check_01_ex3

import lbsim
from lbsim.analysis import theory


def lanes(count, rate, algorithm="random", duration="20m"):
    """Security lanes as servers: passengers arrive at ``rate`` per second, each
    takes on average one second to screen (exponential)."""
    return {
        "name": f"lanes-{count}",
        "seed": 7,
        "duration": duration,
        "warmup": "2m",
        "clients": {
            "arrivals": {"process": "poisson", "rate": rate},
            "service": {"dist": "exponential", "mean": "1s"},
        },
        "balancer": {"algorithm": algorithm},
        "servers": [{"name": "lane", "count": count, "workers": 1}],
    }


# %% [markdown]
# ## 1. One lane against five
#
# One lane screening 0.8 passengers per second is 80% busy. Give the airport five times the
# passengers: one lane could never keep up, so open five lanes, each as busy as before.
# A security officer sends each passenger to a lane: at random, or to the shortest line
# (`least_connections`: the lane with the fewest people).

# %%
one = lbsim.run(lanes(1, 0.8))
officer = lanes(5, 4.0)
officer["compare"] = {"balancer.algorithm": ["random", "round_robin", "least_connections"]}
five = lbsim.run(officer)
one

# %%
five

# %% [markdown]
# With random assignment, every lane is an M/M/1 queue at ρ = 0.8: the same mean wait as
# the single lane, 1/(μ − λ) = 5 s. An officer who looks at the lines does far better,
# close to one shared queue (below). Theory for both:

# %%
print(f"M/M/1 at ρ = 0.8:           {theory.mm1_mean_response(0.8, 1.0):.2f} s")
print(f"M/M/5 (one shared queue):   {theory.mmc_mean_response(4.0, 1.0, 5):.2f} s")
print(five.summary[["variant", "latency_mean"]])

# %%
ax = five.plot.cdf()

# %% [markdown]
# ## 2. The hockey stick: latency against utilisation
#
# A sweep runs one server at several loads, each for four simulated hours, three times with different seeds
# (replications), and states the mean with a confidence interval. M/M/1 says the mean
# response time is 1/(μ − λ) = (1/μ) · 1/(1 − ρ): it doubles from ρ = 0.5 to 0.75 and
# explodes as ρ → 1.

# %%
rates = [0.3, 0.5, 0.7, 0.8, 0.9]
curve = lbsim.sweep(
    lanes(1, 0.5, duration="4h"),
    grid={"clients.arrivals.rate": rates},
    replications=3,
    jobs=1,
)
curve

# %%
means = curve.summary[curve.summary["metric"] == "latency_mean"]
for rate, row in zip(rates, means.itertuples(), strict=True):
    expected = theory.mm1_mean_response(rate, 1.0)
    print(
        f"ρ = {rate}: simulated {row.mean:6.2f} s  [{row.ci_low:.2f}, {row.ci_high:.2f}]"
        f"   M/M/1 {expected:6.2f} s"
    )

# %%
ax = curve.plot.load_curve(["latency_mean", "latency_p99"])

# %% [markdown]
# Up to ρ = 0.8 the theory sits inside the intervals. At ρ = 0.9 the simulated mean falls
# short of 10 s, and with three replications the interval can miss it: at high load a
# queue's mean takes a long time to settle (its relaxation time grows like 1/(1 − √ρ)²,
# about 380 s here) and rare long busy periods dominate it, so four simulated hours are
# still a small sample. Lesson 10 is about exactly this.
#
# ## 3. Five queues or one? c × M/M/1 against M/M/c
#
# Five servers each with its own queue, fed at random, are five independent M/M/1 queues.
# One server with five workers sharing one queue is M/M/5: an arrival waits only if *all*
# five are busy, with the Erlang C probability.

# %%
shared = lanes(1, 4.0)
shared["servers"] = [{"name": "shared", "count": 1, "workers": 5}]
queues = lbsim.run(shared)
separate = lbsim.run(lanes(5, 4.0))
print(
    f"5 × M/M/1: simulated {separate.summary['latency_mean'][0]:.2f} s,"
    f" theory {theory.mm1_mean_response(0.8, 1.0):.2f} s"
)
print(
    f"M/M/5:     simulated {queues.summary['latency_mean'][0]:.2f} s,"
    f" theory {theory.mmc_mean_response(4.0, 1.0, 5):.2f} s"
)
print(f"Erlang C:  P(wait) = {theory.erlang_c(5, 4.0):.3f}")

# %% [markdown]
# A balancer that knows which server is free turns separate queues into (almost) one shared
# queue. That is the whole point of least-connections and power-of-two choices (lesson 02).
#
# ## Exercises
#
# **Exercise 1.** One server, λ = 0.9 requests/s, μ = 1/s. What is the M/M/1 mean response
# time in seconds? Compute it (with `theory` or by hand) and check it.

# %% [solution]
ex1 = 1 / (1.0 - 0.9)
check_01_ex1(ex1)

# %% [markdown]
# **Exercise 2.** By what factor does the mean response time grow from ρ = 0.5 to ρ = 0.9
# (same server)?

# %% [solution]
ex2 = theory.mm1_mean_response(0.9, 1.0) / theory.mm1_mean_response(0.5, 1.0)
check_01_ex2(ex2)

# %% [markdown]
# **Exercise 3.** Five lanes, λ = 4/s, μ = 1/s per lane, one shared line. What fraction of
# passengers have to wait at all? (Erlang C.)

# %% [solution]
ex3 = theory.erlang_c(5, 4.0 / 1.0)
check_01_ex3(ex3)
