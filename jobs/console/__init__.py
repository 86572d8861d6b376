"""The admin console: a web page where CRM admins map fields against the live CRM, CS leads edit
and see their playbooks, anyone previews what the next run would do to a deal, reads the run
history and the handoff scorecard (docs/console.md).

Server-rendered (Starlette + Jinja2, htmx for partial updates, no front-end build), on the same
config, mapping, playbook files and state store the jobs use, and through the same code paths:
the mapping is checked as `afterclose check` checks it, playbooks as the loader reads them, the
preview is `afterclose plan`'s dry run. Off unless configured (``[console]``, settings.py).

Its rooms: settings.py (the config section; imported by jobs/config.py, so it imports nothing
heavy), app.py (routes and the security middleware), auth.py (sign-in, sessions, CSRF, roles),
context.py (what every page reads: the config, kept current, and the store), catalog.py (the CRM
fields a mapping key may take: the one seam to the CRM's field list), edits.py (diff, conflict,
write, change log), crm_reads.py (the dry run and the deal read, cached), svg.py (charts and
timelines), pages/ (one module per page), templates/ and static/.
"""
