"""What runs: the pure core (handoff, playbook, planner) and the shell around it
(sync, nps, ledger, config, schedule, cli)."""
