"""What `afterclose serve` runs: the scheduler and its ticks (schedule.py), the health report and
the Prometheus metrics (metrics.py). The command itself is jobs/cli/serve.py."""
