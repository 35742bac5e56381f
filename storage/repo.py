"""Every query reelbot makes, behind one object: :class:`Repository`. Methods are blocking SQLAlchemy Core, run
on the DB thread via ``@threaded`` (``await repo.admit(...)``; the blocking original is ``.sync``).

Storage knows nothing of the engine's rules: admission gets the limits as numbers and answers with the job
or a :class:`Refusal`; the engine turns that into words.

The queries live in modules named after their job, one class each, and ``Repository`` is all of them:

- ``storage/admission.py``  admit a job and reserve its cost, or refuse it; the cheap precheck
- ``storage/jobs.py``       attempts, closing a job with its books settled, recovery, reading a job
- ``storage/deliveries.py`` the outbox: news waiting for its front end
- ``storage/workers.py``    distributed mode's workers and their heartbeats
- ``storage/reports.py``    usage, counts, spend, the busiest users, whether the books balance
- ``storage/files.py``      which jobs' files may be deleted, and file names that belong to no job
- ``storage/users.py``      what users chose for themselves (their language), what admins set (ban, limits)
- ``storage/links.py``      one person's identities on several platforms as one account (/link, /unlink)
- ``storage/listings.py``   the admins' pages: jobs under a filter, users with their numbers
- ``storage/moderation.py`` the words admins block in prompts, results deleted on request
- ``storage/places.py``     what admins switched on per server or chat (the progress preview)
- ``storage/records.py``    the values callers exchange with storage (Limits, NewJob, Refusal, ...)
- ``storage/calendar.py``   where "today" and "this month" start in the community's time zone
- ``storage/statements.py`` the tables, the prepared statements, and ``Store``, the base of every part

Callers import from here: ``from storage.repo import Repository, Limits, NewJob, ...``.
"""

from __future__ import annotations

from storage.admission import AdmissionQueries
from storage.calendar import Calendar
from storage.deliveries import DeliveryQueries
from storage.files import FileQueries
from storage.jobs import JobQueries
from storage.links import Identity, LinkAnswer, LinkQueries, TryLimits
from storage.listings import ListingQueries
from storage.moderation import ModerationQueries
from storage.places import PlaceQueries
from storage.records import (
    Admitted,
    AttemptEnd,
    Limits,
    NewJob,
    Paged,
    RecoveryReport,
    Refusal,
    ScopeCounts,
    Usage,
    UserRow,
    effective_limits,
)
from storage.reports import ReportQueries
from storage.users import UserQueries
from storage.workers import WorkerQueries

__all__ = [
    "Admitted", "AttemptEnd", "Calendar", "Limits", "NewJob", "Paged", "RecoveryReport", "Refusal",
    "Repository", "ScopeCounts", "Usage", "UserRow", "effective_limits",
    "Identity", "LinkAnswer", "TryLimits",
]


class Repository(AdmissionQueries, JobQueries, DeliveryQueries, WorkerQueries, ReportQueries, FileQueries,
                 UserQueries, ListingQueries, ModerationQueries, PlaceQueries, LinkQueries):
    """Every query reelbot makes: ``Repository(db, Calendar(zone))``, then ``await repo.admit(...)``,
    ``repo.finish(...)``, ...

    Each base class holds one concern's queries (see this module's docstring); all share the database and
    the prepared statements through :class:`storage.statements.Store`.
    """
