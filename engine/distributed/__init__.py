"""Distributed mode (``QUEUE=procrastinate``): the front ends queue jobs in PostgreSQL through procrastinate,
and one ``reelbot worker`` per GPU, on any host, runs them with the same runner as embedded mode.

- ``queue``: the procrastinate app, its one task, defer / cancel / stalled jobs.
- ``notify``: engine events between processes over PostgreSQL LISTEN/NOTIFY.
- ``pool``: the front end's stand-in for the GPUs it does not have (plans and prices local steps).
- ``remote``: the front end's side, ``QueueDispatcher`` (the service's dispatcher there): queue, cross-process
  cancel, the watchdog for dead workers.
- ``worker``: the ``reelbot worker`` process (it runs jobs through ``engine.dispatch.LocalLanes``).
"""
