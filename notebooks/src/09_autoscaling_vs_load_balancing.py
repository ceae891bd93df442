# %% [markdown]
# # 09 · Autoscaling is not load balancing
#
# *"What's the difference between load balancing and auto-scaling?"* They answer different
# questions on different clocks:
#
# * a **load balancer** decides, for every request, *which* of the instances there are
#   serves it. It acts in microseconds and cannot create capacity: with too few instances
#   every algorithm fails.
# * an **autoscaler** decides, every minute or so, *how many* instances there are. It reacts
#   to a metric averaged over a period, after several periods, and then an instance has to
#   boot: minutes, not microseconds.
#
# They work together: the autoscaler launches an instance, the balancer registers it (after
# its health checks pass, with slow start if configured), and on scale-in the balancer stops
# sending it new requests and lets the ones in flight finish before it is terminated.

# %%
import math

from answers import check_09_ex1, check_09_ex2, check_09_ex3

import lbsim

# %% [markdown]
# ## 1. A spike that no algorithm survives
#
# Four instances, one worker each, 200 ms requests, a short queue (a full one answers 503).
# At 5 min the load jumps from 8/s (1.6 busy workers: 40%) to 48/s (9.6 busy workers: 2.4× what
# four instances can serve) for 10 min. Fixed capacity, two balancing algorithms:

# %%
spike = "../scenarios/autoscaling.yaml"
fixed = lbsim.run(
    spike,
    records="none",
    compare={"balancer.algorithm": ["round_robin", "least_connections"]},
    **{"servers.0.autoscale": None},
)
fixed.summary[["variant", "error_rate", "goodput", "latency_p99"]]

# %% [markdown]
# Least connections is the better balancer, yet both reject about half the requests of the
# spike: 4 workers can serve 20 requests a second, and 48 arrive. Balancing only decides who
# gets the excess.
#
# ## 2. The same spike with an autoscaler
#
# `autoscaling.yaml` adds AWS-style target tracking: keep mean CPU at 50%, one datapoint a
# minute, scale out after 3 datapoints above the target, new capacity
# `ceil(instances × CPU / 50)`, new instances left out of the metric for a minute (warm-up).
# It compares 30 s boots, 3 min boots, a 10 min scale-out cooldown, and scaling on requests per
# target instead of CPU.

# %%
scaled = lbsim.run(spike)
scaled.summary[["variant", "error_rate", "instances_peak", "instance_hours", "scale_out_time"]]

# %%
ax = scaled.plot.capacity()

# %% [markdown]
# Read the plot against the shaded demand. Nothing happens for the first 3 minutes of the
# spike (three evaluation periods), then capacity arrives a boot time later, and CPU's
# first step only **doubles** the fleet: a saturated instance reports 100%, never more, so
# `ceil(4 × 100 / 50) = 8` however big the spike. Requests per target does not saturate and
# goes to 20 in one step. A 10 min cooldown blocks the second step; 3 min boots land six
# minutes into the spike.
#
# The decisions are in the event log, with the fleet's counts after each:

# %%
events = scaled.capacity()
events[events["kind"].isin(["scale_out", "scale_in"])]

# %% [markdown]
# ## 3. The reaction time, derived
#
# After a step in the load at time $t_0$ (on a period boundary), target tracking needs
# `evaluation_periods` datapoints above the target, so it decides at
# $t_0 + \text{evaluation\_periods} \times \text{period}$, and the instances serve
# `boot_time` later:
#
# $$t_\text{in service} = t_0 + \text{evaluation\_periods}\cdot\text{period} + \text{boot\_time}$$
#
# With the spike at 300 s, 3 periods of 60 s and 30 s boots that is 510 s. The first
# `instance_ready` of each variant:

# %%
ready = events[events["kind"] == "instance_ready"].groupby("variant")["time"].min()
ready

# %% [markdown]
# Load balancing has nothing to do with this delay; it is the price of deciding on averages
# and of booting machines. That is why real fleets keep headroom (a target of 50–70%, not
# 95%), scale on a metric that does not saturate, and keep boot times short.

# %% [markdown]
# ## 4. Scale-in drains
#
# Scaling in is deliberately slow: target tracking waits for 15 datapoints below 90% of the
# target, longer than this run lasts after the spike. With 3 instead, the fleet shrinks after
# the spike, newest instances first. Each is deregistered (the balancer sends it nothing
# new), drains what it holds, and is terminated when it is empty or its deregistration delay
# (30 s here) is over; `lost=` counts requests it still held then.

# %%
quick = {
    "min": 2,
    "max": 24,
    "metric": "cpu",
    "target": 50,
    "boot_time": "30s",
    "warmup": "1m",
    "deregistration_delay": "30s",
    "scale_in_evaluation_periods": 3,
}
shrink = lbsim.run(spike, compare=None, **{"servers.0.autoscale": quick})
log = shrink.events
draining = log[log["kind"] == "instance_draining"]["detail"]
gone = log[log["kind"] == "instance_terminated"]["detail"]
held = sum(int(detail.rsplit("in_flight=", 1)[1]) for detail in draining)
lost = sum(int(detail.rsplit("lost=", 1)[1]) for detail in gone)
print(f"{len(gone)} instances terminated; they held {held} requests when deregistered, lost {lost}")

# %%
ax = shrink.plot.capacity()

# %% [markdown]
# ## 5. Kubernetes' HPA on the same spike
#
# The HorizontalPodAutoscaler uses the same proportional rule, but evaluates every 15 s and
# acts on one evaluation (unless the ratio is within its 10% tolerance), and scales *down*
# only to the highest recommendation of the last 5 minutes. Same boot time and warm-up:

# %%
hpa = {**quick, "preset": "hpa"}
del hpa["scale_in_evaluation_periods"]
both = lbsim.run(spike, records="none", compare={"servers.0.autoscale": [quick, hpa]})
both.summary[["variant", "error_rate", "instances_peak", "instance_hours"]]

# %% [markdown]
# Deciding after 15 s instead of 3 minutes removes most of the wait before each step, and
# most of the errors; what remains is boot time, warm-up and CPU's saturation. The price is
# in instance-hours: the HPA overshoots a little and its 5-minute stabilisation window keeps
# the peak fleet after the spike.

# %% [markdown]
# ## Exercises
#
# **1.** A target-tracking policy with 1-minute periods, 5 evaluation periods and instances
# that boot in 90 s. The load steps up at t = 600 s, on a period boundary. When is the first
# new instance in service, at the earliest? (seconds)

# %%
answer_1 = ...

# %% [solution]
answer_1 = 600 + 5 * 60 + 90
check_09_ex1(answer_1)

# %% [markdown]
# **2.** Six instances are saturated (CPU 100%) and the target is 40%. What desired
# capacity does one step of target tracking ask for? (instances)

# %%
answer_2 = ...

# %% [solution]
answer_2 = math.ceil(6 * 100 / 40)
check_09_ex2(answer_2)

# %% [markdown]
# **3.** Scaling on requests per target instead: an instance serves 200 ms requests with one
# worker, and you want it 50% busy. What target, in requests per target per 1-minute period,
# gives that?

# %%
answer_3 = ...

# %% [solution]
answer_3 = 0.5 / 0.2 * 60
check_09_ex3(answer_3)
