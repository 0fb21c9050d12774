"""Pure helpers of TTAChatMessageHistory: a redis-py client's URL and keyword matching."""

from __future__ import annotations

import pytest
import redis
import redis.asyncio
from redis.credentials import UsernamePasswordCredentialProvider
from tta_memory.errors import InvalidInputError

from tta_memory_langchain._client_url import client_url
from tta_memory_langchain._text_match import rank, stem, terms


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost:6379/0",
        "redis://cache.internal:7000/3",
        "rediss://alice:p%40ss%3Aword@secure.example.com:6380/1",
        "redis://:only-password@h:6379/0",
        "unix:///run/redis/redis.sock",
        "unix:///run/redis/redis.sock?db=2",
    ],
)
def test_client_url_round_trips_through_redis_py(url: str) -> None:
    for cls in (redis.Redis, redis.asyncio.Redis):
        assert client_url(cls.from_url(url)) == url


def test_client_url_of_a_keyword_built_client() -> None:
    client = redis.Redis(host="h", port=1234, db=5, password="s3cret", ssl=True)
    assert client_url(client) == "rediss://:s3cret@h:1234/5"
    assert client_url(redis.Redis(host="::1", port=6379)) == "redis://[::1]:6379/0"


@pytest.mark.parametrize("bad", [object(), "redis://localhost:6379", None])
def test_client_url_refuses_what_is_not_a_client(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="redis_client"):
        client_url(bad)


def test_client_url_refuses_a_credential_provider() -> None:
    provider = UsernamePasswordCredentialProvider("u", "p")
    with pytest.raises(InvalidInputError, match="credential provider"):
        client_url(redis.Redis(host="h", credential_provider=provider))


@pytest.mark.parametrize(
    ("word", "folded"),
    [("learning", "learn"), ("learned", "learn"), ("networks", "network"), ("uses", "use"),
     ("bus", "bus"), ("is", "is"), ("things", "thing"), ("weather", "weather")],
)  # fmt: skip
def test_stem(word: str, folded: str) -> None:
    assert stem(word) == folded


def test_terms_are_lower_case_words() -> None:
    assert terms("What's the WEATHER, today?") == ["what", "s", "the", "weather", "today"]
    assert terms("会话 ünïcødé") == ["会话", "ünïcødé"]


def test_rank_orders_by_distinct_words_then_occurrences_then_position() -> None:
    texts = ["alpha", "beta beta", "alpha beta", "gamma", "beta"]
    assert rank("alpha beta", texts, 10) == [2, 1, 0, 4]
    assert rank("alpha beta", texts, 2) == [2, 1]
    assert rank("delta", texts, 10) == []
    assert rank("", texts, 10) == [] and rank("   ", texts, 10) == []
    assert rank("alpha", texts, 0) == []
