import uuid

from shared.ids import new_id


def ticket_body(**overrides) -> dict:
    body = {
        "subject": f"Core switch down {uuid.uuid4().hex[:6]}",
        "description": "All floors lost network access at 09:12.",
        "severity": 1,
        "organization_id": str(new_id()),
    }
    body.update(overrides)
    return body
