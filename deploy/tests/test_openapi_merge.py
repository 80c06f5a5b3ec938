import openapi_merge


def spec(paths=None, schemas=None, tags=None):
    document = {"openapi": "3.1.0", "info": {"title": "t", "version": "0"}, "paths": paths or {}}
    if schemas is not None:
        document["components"] = {"schemas": schemas}
    if tags is not None:
        document["tags"] = tags
    return document


def op(ref=None, tags=None):
    operation = {"responses": {"200": {"description": "ok"}}}
    if ref:
        schema = {"$ref": f"#/components/schemas/{ref}"}
        operation["responses"]["200"]["content"] = {"application/json": {"schema": schema}}
    if tags:
        operation["tags"] = tags
    return operation


def test_per_process_paths_are_left_out():
    merged = openapi_merge.merge(
        {
            "intake": spec(
                {
                    "/healthz": {"get": op()},
                    "/readyz": {"get": op()},
                    "/metrics": {"get": op()},
                    "/v1/tickets": {"get": op()},
                }
            )
        }
    )

    assert list(merged["paths"]) == ["/v1/tickets"]


def test_an_operation_without_tags_is_tagged_with_its_service():
    merged = openapi_merge.merge(
        {"intake": spec({"/v1/tickets": {"get": op(), "post": op(tags=["tickets"])}})}
    )

    assert merged["paths"]["/v1/tickets"]["get"]["tags"] == ["intake"]
    assert merged["paths"]["/v1/tickets"]["post"]["tags"] == ["tickets"]
    assert [t["name"] for t in merged["tags"]] == ["intake", "tickets"]


def test_identical_schemas_are_kept_once():
    problem = {"type": "object", "properties": {"title": {"type": "string"}}}
    merged = openapi_merge.merge(
        {
            "intake": spec({"/v1/tickets": {"get": op("Problem")}}, {"Problem": problem}),
            "kb": spec({"/v1/kb/articles": {"get": op("Problem")}}, {"Problem": problem}),
        }
    )

    assert merged["components"]["schemas"] == {"Problem": problem}
    ref = merged["paths"]["/v1/kb/articles"]["get"]["responses"]["200"]["content"]
    assert ref["application/json"]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_conflicting_schemas_get_the_service_prefix_and_refs_follow():
    merged = openapi_merge.merge(
        {
            "intake": spec({"/v1/tickets": {"get": op("Page")}}, {"Page": {"type": "object"}}),
            "kb": spec({"/v1/kb/articles": {"get": op("Page")}}, {"Page": {"type": "array"}}),
        }
    )

    assert set(merged["components"]["schemas"]) == {"intake.Page", "kb.Page"}
    content = merged["paths"]["/v1/kb/articles"]["get"]["responses"]["200"]["content"]
    assert content["application/json"]["schema"]["$ref"] == "#/components/schemas/kb.Page"


def test_a_schema_that_points_at_a_conflicting_one_is_prefixed_too():
    wrapper = {"type": "object", "properties": {"item": {"$ref": "#/components/schemas/Item"}}}
    merged = openapi_merge.merge(
        {
            "intake": spec({}, {"Wrapper": wrapper, "Item": {"type": "string"}}),
            "kb": spec({}, {"Wrapper": wrapper, "Item": {"type": "integer"}}),
        }
    )

    schemas = merged["components"]["schemas"]
    assert set(schemas) == {"intake.Wrapper", "intake.Item", "kb.Wrapper", "kb.Item"}
    assert schemas["kb.Wrapper"]["properties"]["item"]["$ref"] == "#/components/schemas/kb.Item"


def test_a_path_claimed_twice_keeps_the_first_service():
    merged = openapi_merge.merge(
        {
            "intake": spec({"/v1/x": {"get": op()}}),
            "kb": spec({"/v1/x": {"post": op()}}),
        }
    )

    assert list(merged["paths"]["/v1/x"]) == ["get"]
