"""The discovery cache belongs to one API client: two clients (two clusters) never share
one, and a client's cache goes with it."""

from __future__ import annotations

import gc
from typing import Any

from kubernetes import client

from bot.kube import discovery
from bot.kube.discovery import for_api


def _fetch(path: str, what: str) -> Any:
    raise AssertionError("nothing is fetched until a type is resolved")


def test_each_client_has_its_own_discovery_and_it_goes_with_the_client() -> None:
    first, second = client.ApiClient(), client.ApiClient()
    mine = for_api(first, _fetch)
    assert for_api(first, _fetch) is mine
    assert for_api(second, _fetch) is not mine
    held = len(discovery._by_api)
    del first, mine
    gc.collect()
    assert len(discovery._by_api) == held - 1  # nothing left for a reused address
