from sqlmodel import SQLModel

import dispatch.models  # noqa: F401  (registers the tables)
from dispatch.settings import Settings
from shared import migrations

migrations.run(Settings(), SQLModel.metadata)
