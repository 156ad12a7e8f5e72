"""Redaction: one test per pattern, and clean text passes unchanged."""

from __future__ import annotations

import json

import pytest

from bot.redaction import MASK, redact, redact_arguments


@pytest.mark.parametrize(("text", "expected"), [
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc", f"Authorization: Bearer {MASK}"),
    ("curl -H 'authorization: bearer abcdefgh12345678'", f"curl -H 'authorization: bearer {MASK}'"),
])
def test_bearer_tokens(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("secret", ["xoxb-123456789012-abcdefghijkl",
                                    "xoxp-1234-5678-abcdefgh", "xapp-1-A0123456-abcdefghij"])
def test_slack_tokens(secret: str) -> None:
    assert redact(f"SLACK said {secret} ok") == f"SLACK said {MASK} ok"


@pytest.mark.parametrize("secret", ["sk-abcdefghijklmnopqrstuvwx1234",
                                    "sk-proj-abcdefghijklmnopqrstuvwxyz_-12"])
def test_openai_keys(secret: str) -> None:
    assert redact(f"key {secret}") == f"key {MASK}"


def test_aws_access_key_ids() -> None:
    assert redact("AKIAIOSFODNN7EXAMPLE in use") == f"{MASK} in use"


def test_aws_secret_in_a_pair() -> None:
    text = "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert redact(text) == f"aws_secret_access_key = {MASK}"


@pytest.mark.parametrize("secret", ["ghp_" + "a1" * 18, "gho_" + "Z" * 36,
                                    "github_pat_11ABCDEFG0123456789_abcdefghijkl"])
def test_github_tokens(secret: str) -> None:
    assert redact(f"token {secret}") == f"token {MASK}"


def test_private_key_blocks() -> None:
    text = ("before\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\nAAAA\n"
            "-----END OPENSSH PRIVATE KEY-----\nafter")
    assert redact(text) == (f"before\n-----BEGIN OPENSSH PRIVATE KEY-----{MASK}"
                            "-----END OPENSSH PRIVATE KEY-----\nafter")


def test_jwts() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9"
    assert redact(f"cookie={jwt}") == f"cookie={MASK}"


@pytest.mark.parametrize(("text", "expected"), [
    ("password=hunter22", f"password={MASK}"),
    ("DB_PASSWORD: s3cr3t!", f"DB_PASSWORD: {MASK}"),
    ('{"api_key": "abc123"}', f'{{"api_key": "{MASK}"}}'),
    ("client_secret='xyz789'", f"client_secret='{MASK}'"),
    ("token: abc.def", f"token: {MASK}"),
])
def test_secret_named_pairs(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_kubernetes_secret_yaml_data() -> None:
    text = ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n"
            "  username: YWRtaW4=\n  ca.crt: LS0tLS1CRUdJTg==\ntype: Opaque\n")
    assert redact(text) == ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n"
                            f"  username: {MASK}\n  ca.crt: {MASK}\ntype: Opaque\n")


def test_kubernetes_secret_json_data() -> None:
    text = json.dumps({"kind": "Secret", "metadata": {"name": "db"},
                       "data": {"username": "YWRtaW4=", "tls.key": "LS0t"}})
    masked = json.loads(redact(text))
    assert masked["data"] == {"username": MASK, "tls.key": MASK}
    assert masked["metadata"] == {"name": "db"}


def test_describes_reference_to_a_secret_key_stays_but_a_literal_value_goes() -> None:
    """kubectl describe names where a variable comes from; that is not the secret."""
    reference = "      API_TOKEN:  <set to the key 'token' in secret 'exporter-token'>"
    assert redact(reference) == reference
    assert redact("      API_TOKEN:  abc123def") == f"      API_TOKEN:  {MASK}"


def test_configmap_data_is_not_touched() -> None:
    text = "kind: ConfigMap\ndata:\n  LOG_LEVEL: debug\n"
    assert redact(text) == text


@pytest.mark.parametrize("text", [
    "pod checkout-api-7d9f (CrashLoopBackOff): exit code 137 (OOMKilled), 5 restarts",
    "NAME   READY   STATUS    RESTARTS   AGE\nweb-1  1/1     Running   0          3d",
    "the token bucket refills at 5/s; password policy requires 12 characters",
    "sha256:9f1ff00854465c0ff33 and commit 1a2b3c4d",
    "",
])
def test_clean_text_passes_unchanged(text: str) -> None:
    assert redact(text) == text


def test_already_masked_text_is_stable() -> None:
    once = redact("token: ghp_" + "a" * 36 + " password=x1y2z3")
    assert redact(once) == once == f"token: {MASK} password={MASK}"


def test_arguments_for_the_audit_mask_secret_keys_deeply() -> None:
    args = {"host": "db", "auth": {"password": "p", "user": "u"}, "headers": [{"token": "t"}]}
    assert json.loads(redact_arguments(json.dumps(args))) == {
        "host": "db", "auth": MASK, "headers": [{"token": MASK}]}
