# %% [markdown]
# # 02 · The algorithms
#
# How does the balancer choose a server? This lesson runs the algorithms every primer lists
# on the same workload (every variant of a `compare:` sees the identical requests), shows
# where each one wins, and checks power-of-d choices against Mitzenmacher's supermarket model.
#
# * **round robin** and **weighted round robin**: take turns (in proportion to weights);
# * **least connections**: the server with the fewest requests in flight *from this balancer*;
# * **least response time**: the lowest moving average of observed latency;
# * **IP hash**: the client address picks the server (sticky, but blind to load);
# * **random**, and **power of two choices**: sample two servers, keep the less busy.

# %%
from answers import check_02_ex1, check_02_ex2, check_02_ex3

import lbsim

# %% [markdown]
# ## 1. Heterogeneous servers, variable request sizes
#
# `scenarios/algorithms.yaml`: six servers plus two twice as fast (weight 2), 76% busy,
# lognormal request sizes (cv 2), 5000 clients in 400 subnets, 10% of them behind two NAT
# gateways. Five simulated minutes are enough to see the ranking.

# %%
algorithms = lbsim.run("../scenarios/algorithms.yaml", duration="5m", warmup="30s")
algorithms

# %%
ax = algorithms.plot.cdf()

# %%
ax = algorithms.plot.servers()

# %% [markdown]
# Random and plain round robin ignore that two servers are twice as fast, so the slow ones
# are overloaded; weighted round robin fixes the split but not the luck of big requests;
# least connections and least response time react to how busy each server is. IP hash pins
# every client, and every client behind one NAT gateway, to one server, whatever its load:
# the per-server plot shows the skew. (`load imbalance` is requests of the busiest server
# over the mean; here the two fast servers *should* get twice the share, so a good
# algorithm scores about 1.6, not 1.)
#
# ## 2. Homogeneous servers, equal requests
#
# Change the workload and the ranking changes. With identical servers and constant request
# sizes, taking turns is nearly perfect: round robin spaces each server's arrivals evenly.

# %%
even = lbsim.make_scenario(
    name="even",
    seed=3,
    duration="5m",
    warmup="30s",
    clients={
        "arrivals": {"process": "poisson", "rate": "68/s"},
        "service": {"dist": "deterministic", "value": "100ms"},
    },
    servers=[{"name": "web", "count": 8, "workers": 1}],
    compare={"balancer.algorithm": ["random", "round_robin", "least_connections", "power_of_two"]},
)
lbsim.run(even)

# %% [markdown]
# ## 3. The supermarket model: power of d choices
#
# n servers, Poisson arrivals at rate λn, exponential service of mean 1; each arrival samples
# d servers and joins the shortest queue. As n → ∞ the mean time in the system is
# (Mitzenmacher, *The Power of Two Choices in Randomized Load Balancing*, 2001):
#
# $$T_d(\lambda) = \sum_{i \ge 1} \lambda^{(d^i - d)/(d - 1)}$$
#
# At λ = 0.9: d = 1 (random) gives 1/(1 − λ) = 10, d = 2 gives 2.61, d = 3 gives 2.03.
# Going from one choice to two is an exponential improvement; from two to three, a constant.
# Here are 100 servers at λ = 0.9 (`power_of_two` samples `choices` servers as Envoy does,
# with replacement, and keeps the one with the fewest active requests).


# %%
def supermarket(lam, d, terms=30):
    if d == 1:
        return 1 / (1 - lam)
    return sum(lam ** ((d**i - d) / (d - 1)) for i in range(1, terms))


market = lbsim.make_scenario(
    name="supermarket",
    seed=1,
    duration="2000s",
    warmup="200s",
    clients={
        "arrivals": {"process": "poisson", "rate": 90.0},
        "service": {"dist": "exponential", "mean": 1.0},
    },
    servers=[{"name": "q", "count": 100, "workers": 1}],
    compare={
        "balancer.algorithm": [
            "random",
            {"name": "power_of_two", "choices": 2},
            {"name": "power_of_two", "choices": 3},
        ]
    },
)
shop = lbsim.run(market)
for d, row in zip((1, 2, 3), shop.summary.itertuples(), strict=True):
    print(f"d = {d}: simulated {row.latency_mean:5.2f}   T_d(0.9) = {supermarket(0.9, d):5.2f}")

# %% [markdown]
# d = 2 and 3 land within a few percent of the limit (100 servers is not infinity, and the
# run is finite). Random, d = 1, is 100 independent M/M/1 queues at ρ = 0.9: its mean is
# the noisiest (see lesson 01) and a few thousand seconds leave it below 10.
#
# ## 4. Watch the queues
#
# The animation below shows each server's requests in service (dark) and waiting (light)
# over one minute of the supermarket with d = 2; the panel underneath is requests and failures
# per second. `result.animate(variant, start, end)` renders as a player in Jupyter;
# `.save("queues.gif")` writes a GIF (`lbsim run --animate queues.gif` does it from the shell).

# %%
small = lbsim.run(
    market,
    duration="120s",
    warmup="0s",
    servers=[{"name": "q", "count": 12, "workers": 1}],
    clients__arrivals__rate=10.8,
)
small.animate("power_of_two(choices=2)", 60, 90, frames=30)

# %% [markdown]
# With a live kernel you can also play with load and algorithm (this needs `ipywidgets`; the
# cell does nothing without it).

# %%
try:
    import ipywidgets as widgets
except ImportError:
    widgets = None

if widgets is not None:

    def explore(load=0.8, algorithm="power_of_two"):
        run = lbsim.run(
            market,
            duration="120s",
            warmup="20s",
            compare=None,
            balancer__algorithm=algorithm,
            clients__arrivals__rate=100 * load,
        )
        print(run.summary[["variant", "latency_mean", "latency_p99", "queue_mean"]])

    widgets.interact(
        explore,
        load=widgets.FloatSlider(value=0.8, min=0.3, max=0.95, step=0.05),
        algorithm=["random", "round_robin", "least_connections", "power_of_two"],
    )

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** Sum the supermarket series for d = 2 at λ = 0.9 (without the helper above).

# %% [solution]
ex1 = sum(0.9 ** (2**i - 2) for i in range(1, 20))
check_02_ex1(ex1)

# %% [markdown]
# **Exercise 2.** From the supermarket run, what is the simulated mean time in the system for
# d = 3, in units of the mean service time (1 s here)?

# %% [solution]
ex2 = shop.summary.set_index("variant").loc["power_of_two(choices=3)", "latency_mean"] / 1.0
check_02_ex2(ex2)

# %% [markdown]
# **Exercise 3.** In the first run (`algorithms`), which algorithm has the worst mean
# latency? Give its name as the scenario spells it.

# %% [solution]
ex3 = algorithms.summary.sort_values("latency_mean").iloc[-1]["variant"]
check_02_ex3(ex3)
