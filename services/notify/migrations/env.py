from sqlmodel import SQLModel

import notify.models  # noqa: F401  (registers the tables)
from notify.settings import Settings
from shared import migrations

migrations.run(Settings(), SQLModel.metadata)
