"""Local HTTP servers that speak each cloud provider's protocol (``../shared/specs/providers.md``).

Each fake keeps its remote jobs, walks them through the provider's own status flow, and can be scripted:
``plan(outcome=..., polls=...)`` decides how the next job goes (``ok``, ``moderated``, ``failed``, ``slow``
(never finishes), ``expired`` (the result is gone when fetched), ``not_video``, ``malformed``), and
``fail_next(step, status, body, headers)`` answers the next call of a step with an error. Every request is
recorded; requests that break the provider's rules are collected in ``problems`` for the tests to assert on.
"""
