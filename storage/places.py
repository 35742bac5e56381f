"""What bot admins switched on per place (a Discord server, a Telegram chat): the progress preview."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from storage.db import threaded
from storage.models import PlaceSetting, SQLModel
from storage.statements import Store

places = SQLModel.metadata.tables[PlaceSetting.__tablename__]


class PlaceQueries(Store):
    @threaded
    def preview_places(self) -> set[str]:
        """Every place whose jobs show a preview picture while they run."""
        with self.db.transaction() as conn:
            return set(conn.execute(select(places.c.place).where(places.c.preview.is_(True))).scalars())

    @threaded
    def set_place_preview(self, place: str, on: bool, now: datetime) -> None:
        with self.db.transaction() as conn:
            changed = conn.execute(update(places).where(places.c.place == place)
                                   .values(preview=on, updated_at=now)).rowcount
            if not changed:
                conn.execute(places.insert().values(place=place, preview=on, updated_at=now))
