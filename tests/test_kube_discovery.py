"""The discovery cache belongs to one API client: two clients (two clusters) never share
one, and a client's cache goes with it. Its copy on disk lets a new process start from what
the last one discovered, and is ignored when it is old, broken or planted."""

from __future__ import annotations

import gc
import json
import logging
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from bot import kube
from bot.kube import discovery
from bot.kube.discovery import Discovery, for_api
from bot.kube.discovery_cache import FOLDER, MAX_BYTES, TTL_SECONDS, DiskCache
from tests.fakes.k8s_server import FIXTURES, FakeKubernetes


def _fetch(path: str, what: str) -> Any:
    raise AssertionError("nothing is fetched until a type is resolved")


def test_each_client_has_its_own_discovery_and_it_goes_with_the_client() -> None:
    first, second = client.ApiClient(), client.ApiClient()
    mine = for_api(first, _fetch, "https://a:6443")
    assert for_api(first, _fetch, "https://a:6443") is mine
    assert for_api(second, _fetch, "https://a:6443") is not mine
    held = len(discovery._by_api)
    del first, mine
    gc.collect()
    assert len(discovery._by_api) == held - 1  # nothing left for a reused address


# The copy on disk: a new process starts from what the last one discovered.

@pytest.fixture
def cluster_api(tmp_path: Path) -> Iterator[tuple[FakeKubernetes, kube.Api]]:
    fake = FakeKubernetes().start()
    api = kube.connect(str(fake.kubeconfig(tmp_path / "kc"))).api()
    yield fake, api
    fake.stop()


def new_process(api: kube.Api, root: Path, **clock: Callable[[], float]) -> Discovery:
    """The Discovery a new process builds: nothing in memory, the copy under `root`."""
    return Discovery(lambda path, what: kube.request(api, path, what=what),
                     disk=DiskCache(kube.server(api), root, **clock))


def test_a_new_process_starts_from_the_saved_discovery(
        cluster_api: tuple[FakeKubernetes, kube.Api], tmp_path: Path) -> None:
    fake, api = cluster_api
    first = new_process(api, tmp_path / "cache").resolve("certificates")  # a CRD's type
    asked = len(fake.discovery_requests())
    assert asked >= 10  # the core group, the group list and each group's resources
    saved = DiskCache(kube.server(api), tmp_path / "cache").path
    assert saved.parent.parent.name == FOLDER
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
    again = new_process(api, tmp_path / "cache")
    assert again.resolve("certificates") == first
    assert again.resolve("deploy")[0].group_version == "apps/v1"
    assert len(fake.discovery_requests()) == asked  # not one more request


def test_a_type_missing_from_the_saved_copy_is_asked_for_at_once(tmp_path: Path) -> None:
    """A CRD installed after the copy was saved: the next process finds it."""
    fake = FakeKubernetes([FIXTURES / "cluster.yaml"]).start()
    try:
        api = kube.connect(str(fake.kubeconfig(tmp_path / "kc"))).api()
        new_process(api, tmp_path / "cache").resolve("pods")
        fake.load(FIXTURES / "crds.yaml")  # Argo Rollouts, cert-manager… installed now
        found = new_process(api, tmp_path / "cache").resolve("rollouts")
        assert found[0].group_version == "argoproj.io/v1alpha1"
        fake.requests.clear()
        assert new_process(api, tmp_path / "cache").resolve("ro") == found  # saved again
        assert fake.discovery_requests() == []
    finally:
        fake.stop()


def test_an_old_copy_or_another_servers_is_not_used(
        cluster_api: tuple[FakeKubernetes, kube.Api], tmp_path: Path) -> None:
    fake, api = cluster_api
    now = [1_000_000.0]
    new_process(api, tmp_path / "cache", clock=lambda: now[0]).resolve("pods")
    fake.requests.clear()
    now[0] += TTL_SECONDS + 1
    new_process(api, tmp_path / "cache", clock=lambda: now[0]).resolve("pods")
    assert "/apis" in fake.discovery_requests()  # older than kubectl's six hours: asked again
    cache = DiskCache(kube.server(api), tmp_path / "cache")
    other = DiskCache("https://10.9.9.9:6443", tmp_path / "cache")
    other.path.write_bytes(cache.path.read_bytes())  # a copy that names another server
    assert other.load() is None


def _write(path: Path, content: bytes | str, mode: int = 0o600) -> None:
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    path.chmod(mode)


def _shaped(resources: list[Any], server: str) -> str:
    return json.dumps({"server": server, "saved_at": time.time(), "resources": resources})


def _link(path: Path, server: str) -> None:
    _write(path.with_name("elsewhere"), _shaped([POD], server))
    path.symlink_to(path.with_name("elsewhere"))


POD = ["pods", "v1", "Pod", True, ["po"], "pod", ["all"], ["get", "list"]]
HOSTILE: dict[str, Callable[[Path, str], None]] = {
    "not JSON": lambda path, server: _write(path, b"\x00\xffnot json"),
    "a traversal as a plural": lambda path, server: _write(path, _shaped(
        [["../../secrets", "v1", "Pod", True, ["po"], "pod", [], []]], server)),
    "a traversal as a group": lambda path, server: _write(path, _shaped(
        [["pods", "../../api/v1", "Pod", True, ["po"], "pod", [], []]], server)),
    "the wrong types": lambda path, server: _write(path, _shaped(
        [["pods", "v1", "Pod", "yes", ["po"], "pod", [], []]], server)),
    "a traversal as a kind": lambda path, server: _write(path, _shaped(
        [["pods", "v1", "../Pod", True, ["po"], "pod", [], []]], server)),
    "larger than the cap": lambda path, server: _write(path, b" " * (MAX_BYTES + 1)),
    "writable by others": lambda path, server: _write(path, _shaped([POD], server), 0o666),
    "a link to another file": lambda path, server: _link(path, server),
}


@pytest.mark.parametrize("made", HOSTILE, ids=list(HOSTILE))
def test_a_broken_or_planted_copy_is_ignored_and_discovery_asked_again(
        cluster_api: tuple[FakeKubernetes, kube.Api], tmp_path: Path, made: str) -> None:
    fake, api = cluster_api
    cache = DiskCache(kube.server(api), tmp_path / "cache")
    cache.path.parent.mkdir(parents=True)
    HOSTILE[made](cache.path, kube.server(api))
    found = new_process(api, tmp_path / "cache").resolve("po")  # a name the copy has too
    assert (found[0].plural, found[0].group_version) == ("pods", "v1")
    assert "/apis" in fake.discovery_requests()
    fake.requests.clear()
    assert new_process(api, tmp_path / "cache").resolve("pods")[0].path_prefix == "/api/v1"
    assert fake.discovery_requests() == []  # replaced by a good copy


def test_a_cache_that_cannot_be_written_costs_requests_not_the_call(
        cluster_api: tuple[FakeKubernetes, kube.Api], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    fake, api = cluster_api
    caplog.set_level(logging.INFO, "bot.kube.discovery_cache")
    (tmp_path / "a-file").write_text("")
    for _ in range(2):
        assert new_process(api, tmp_path / "a-file").resolve("pods")[0].kind == "Pod"
    assert fake.discovery_requests().count("/apis") == 2
    assert "could not write the discovery cache" in caplog.text


def test_a_user_without_a_home_has_no_copy_and_discovery_still_works(
        cluster_api: tuple[FakeKubernetes, kube.Api], monkeypatch: pytest.MonkeyPatch) -> None:
    """A pod's arbitrary uid: no HOME, no passwd entry."""
    fake, api = cluster_api
    monkeypatch.delenv("KUBECACHEDIR")
    monkeypatch.delenv("HOME")
    monkeypatch.setattr("pwd.getpwuid", lambda uid: (_ for _ in ()).throw(KeyError(uid)))
    assert DiskCache.default(kube.server(api)) is None
    found = Discovery(lambda path, what: kube.request(api, path, what=what),
                      disk=DiskCache.default(kube.server(api))).resolve("pods")
    assert found[0].kind == "Pod" and "/apis" in fake.discovery_requests()


def test_a_discovery_with_a_group_down_is_not_saved(
        cluster_api: tuple[FakeKubernetes, kube.Api], tmp_path: Path) -> None:
    """metrics-server down: its group is missing from this discovery, so no other process
    should start from it."""
    fake, api = cluster_api
    fake.unavailable_groups.add("metrics.k8s.io")
    assert new_process(api, tmp_path / "cache").resolve("pods")
    assert not DiskCache(kube.server(api), tmp_path / "cache").path.exists()
    fake.unavailable_groups.clear()
    new_process(api, tmp_path / "cache").resolve("pods")
    assert DiskCache(kube.server(api), tmp_path / "cache").path.exists()
