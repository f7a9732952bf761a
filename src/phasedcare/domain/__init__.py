"""The pure domain: statecharts, rules, events, commands, policy and working days.

Nothing here does I/O or imports a database, Prefect, a web framework, logging or
cryptography; it decides, and the layers above store and deliver.
"""
