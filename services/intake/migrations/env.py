from sqlmodel import SQLModel

import intake.models  # noqa: F401  (registers the tables)
from intake.settings import Settings
from shared import migrations

migrations.run(Settings(), SQLModel.metadata)
