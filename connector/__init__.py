"""Everything that talks to the outside world: CRM adapters, NPS sources, the CRM sandboxes.

``connector`` never imports ``jobs``.
"""
