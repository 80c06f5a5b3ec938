from sqlmodel import SQLModel

import sla_timer.models  # noqa: F401  (registers the tables)
from shared import migrations
from sla_timer.settings import Settings

migrations.run(Settings(), SQLModel.metadata)
