from tests.helpers import assert_error


def test_unknown_api_path_is_json_404(api_client):
    response = api_client.get("/api/v1/nope/")
    assert_error(response, 404, "not_found")
