def test_healthz_answers_without_touching_services(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_reports_sql_redis_and_storage_ready(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"sql": "ok", "redis": "ok", "storage": "ok"}


def test_readyz_is_503_when_redis_is_unreachable(app, client):
    import redis

    from app.extensions import redis_client

    redis_client._client = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["redis"].startswith("error")


def test_readyz_checks_the_queues_own_redis_when_it_has_one(app, client):
    import redis

    from app.extensions import queue_redis

    app.config["QUEUE_REDIS_URL"] = "redis://127.0.0.1:1/0"
    queue_redis._client = redis.Redis.from_url(app.config["QUEUE_REDIS_URL"], socket_connect_timeout=0.2)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["redis"] == "ok"
    assert response.json["checks"]["queue"].startswith("error")
