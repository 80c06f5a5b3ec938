from sqlmodel import SQLModel

import kb.models  # noqa: F401  (registers the tables)
from kb.settings import Settings
from shared import migrations

migrations.run(Settings(), SQLModel.metadata)
