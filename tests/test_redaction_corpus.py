"""The redaction corpus: secret formats that must be masked, look-alikes that must stay.

Every value here is made up (built from repeated characters where a vendor checks a
checksum). A secret counts as masked when no 8-character piece of it survives.
"""

from __future__ import annotations

import pytest

from bot.redaction import MASK, redact

A36 = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
HEX32 = "0123456789abcdef" * 2
HEX64 = HEX32 * 2
B64 = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
JWT = ("eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ."
       "c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU")

# (text as a tool or log would show it, the secret inside it)
SECRETS: list[tuple[str, str]] = [
    ("aws_access_key_id = AKIAIOSFODNN7EXAMPL3", "AKIAIOSFODNN7EXAMPL3"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("AWS_SESSION_TOKEN=IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ",
     "IQoJb3JpZ2luX2VjEJr"),
    ("temporary ASIAY34FZKBOKMUTVV7A issued", "ASIAY34FZKBOKMUTVV7A"),
    (f"GITHUB_TOKEN ghp_{A36}", f"ghp_{A36}"),
    (f"oauth gho_{A36}", f"gho_{A36}"),
    (f"user-to-server ghu_{A36}", f"ghu_{A36}"),
    (f"app ghs_{A36}", f"ghs_{A36}"),
    (f"refresh ghr_{A36}", f"ghr_{A36}"),
    ("fine-grained github_pat_11ABCDEFG0abcdefghijKL_mnopqrstuvwxyz0123456789ABCDEF",
     "github_pat_11ABCDEFG0abcdefghijKL"),
    ("CI_JOB glpat-xYz12AbC34dEf56GhI78j", "glpat-xYz12AbC34dEf56GhI78j"),
    ("runner glrt-t1_aBcDeFgHiJkLmNoPqRsT", "glrt-t1_aBcDeFgHiJkLmNoPqRsT"),
    ("bot xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
     "1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"),
    ("user xoxp-123456789012-123456789012-123456789012-abcdef0123456789abcdef",
     "123456789012-abcdef0123456789abcdef"),
    ("app-level xapp-1-A0123456789-1234567890123-abcdef0123456789",
     "A0123456789-1234567890123"),
    ("webhook https://hooks.slack.com/services/T0ABCDEFG/B0HIJKLMN/AbCdEfGhIjKlMnOpQrStUvWx",
     "AbCdEfGhIjKlMnOpQrStUvWx"),
    ("stripe sk_live_51H8abcdEFGHijklMNOPqrstUVWX", "sk_live_51H8abcdEFGHijklMNOPqrstUVWX"),
    ("restricted rk_live_51H8abcdEFGHijklMNOPqrst", "rk_live_51H8abcdEFGHijklMNOPqrst"),
    ("test key sk_test_4eC39HqLyjWDarjtT1zdp7dc", "sk_test_4eC39HqLyjWDarjtT1zdp7dc"),
    ("stripe webhook whsec_1234567890abcdefghijABCDEFGHIJ", "whsec_1234567890abcdefghij"),
    ("maps AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"),
    ("client GOCSPX-1aBcDeFgHiJkLmNoPqRsTuVwXyZ", "GOCSPX-1aBcDeFgHiJkLmNoPqRsTuVwXyZ"),
    ("gcloud ya29.a0AfH6SMBabcdefghijklmnopqrstuvwxyz", "ya29.a0AfH6SMBabcdefghijklmno"),
    ('{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n' + B64
     + '\\n-----END PRIVATE KEY-----\\n"}', B64),
    ("OPENAI_API_KEY=sk-abcdefghijklmnopqrstuvwx1234", "sk-abcdefghijklmnopqrstuvwx1234"),
    ("key sk-proj-abcdefghijklmnopqrstuvwxyz_-12AB", "sk-proj-abcdefghijklmnopqrstuvwxyz"),
    ("anthropic sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-abcdEF",
     "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz"),
    (f"serviceaccount token {JWT}", JWT),
    ("curl -H 'Authorization: Bearer abcdefgh12345678ijkl'", "abcdefgh12345678ijkl"),
    ("Authorization: Basic dXNlcjpzdXBlcnNlY3JldA==", "dXNlcjpzdXBlcnNlY3JldA=="),
    ("authorization: token 0123456789abcdef0123456789abcdef01234567",
     "0123456789abcdef0123456789abcdef01234567"),
    ("DATABASE_URL=postgres://app:S3cr3tPassw0rd@db.internal:5432/app", "S3cr3tPassw0rd"),
    ("mysql://root:toor-pass-99@mysql.prod:3306/orders", "toor-pass-99"),
    ("mongodb+srv://svc:m0ng0-P4ss-word@cluster0.abcde.mongodb.net/db", "m0ng0-P4ss-word"),
    ("REDIS_URL=redis://:r3d1s-s3cr3t-pw@redis:6379/0", "r3d1s-s3cr3t-pw"),
    ("amqp://guest:rabbit-pw-1234@rabbitmq:5672/", "rabbit-pw-1234"),
    ("git clone https://deploy:gl-deploy-pass99@git.example.com/team/repo.git",
     "gl-deploy-pass99"),
    ("-----BEGIN RSA PRIVATE KEY-----\n" + B64 + "\n-----END RSA PRIVATE KEY-----", B64),
    ("-----BEGIN EC PRIVATE KEY-----\n" + B64 + "\n-----END EC PRIVATE KEY-----", B64),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
     "-----END OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"),
    ("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF0abcdefghijklmnopqrstuvwxyz0123\n=abcd\n"
     "-----END PGP PRIVATE KEY BLOCK-----", "lQOYBF0abcdefghijklmnopqrstuvwxyz0123"),
    ("-----BEGIN ENCRYPTED PRIVATE KEY-----\n" + B64 + "\n-----END ENCRYPTED PRIVATE KEY-----",
     B64),
    ("output cut: -----BEGIN PRIVATE KEY-----\n" + B64 + "\n" + B64[::-1], B64[::-1]),
    ("    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFcEFJQkFBS0NB",
     "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQ"),
    (f"users:\n- name: admin\n  user:\n    token: {HEX32}", HEX32),
    ("  user:\n    username: admin\n    password: hunter2-the-return", "hunter2-the-return"),
    ("kind: Secret\ndata:\n  DB_PASS: c3VwZXJzZWNyZXQ=\n", "c3VwZXJzZWNyZXQ="),
    ('{"kind": "Secret", "data": {"tls.key": "LS0tLS1CRUdJTiBFQyBQUklWQVRF"}}',
     "LS0tLS1CRUdJTiBFQyBQUklWQVRF"),
    ("env: DB_PASSWORD=Sup3r$ecret!", "Sup3r$ecret!"),
    ('{"password": "correct horse battery staple"}', "correct horse battery staple"),
    ('{"api_key": "abc,def,ghi-123"}', "abc,def,ghi-123"),
    ("secret: 'value with spaces inside'", "value with spaces inside"),
    ("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + B64 + "==;EndpointSuffix=x",
     B64),
    ("https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sig=AbCdEf%2BGhIjKlMn%3D&se=2026",
     "AbCdEf%2BGhIjKlMn%3D"),
    ("twilio SK" + HEX32, "SK" + HEX32),
    ("sendgrid SG.abcdefghijklmnopqrstuv.ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg",
     "SG.abcdefghijklmnopqrstuv"),
    ("//registry.npmjs.org/:_authToken=npm_" + A36, "npm_" + A36),
    ("password = pypi-AgEIcHlwaS5vcmcCJGFiY2RlZmdoLWlqa2wtbW5vcC1xcnN0LXV2d3h5ejAxMjM0",
     "pypi-AgEIcHlwaS5vcmcCJGFiY2RlZmdo"),
    ('{"auths": {"ghcr.io": {"auth": "dXNlcjpnaHBfc2VjcmV0dG9rZW4xMjM="}}}',
     "dXNlcjpnaHBfc2VjcmV0dG9rZW4xMjM="),
    ("DIGITALOCEAN_TOKEN dop_v1_" + HEX64, "dop_v1_" + HEX64),
    ("shopify shpat_" + HEX32, "shpat_" + HEX32),
    ("mailgun key-" + HEX32, "key-" + HEX32),
    ("VAULT_TOKEN hvs.CAESIAbCdEfGhIjKlMnOpQrStUvWxYz0123", "hvs.CAESIAbCdEfGhIjKlMnOpQr"),
    ("TFC abcdefghijklmn.atlasv1." + "x" * 64, "atlasv1." + "x" * 64),
    ("databricks dapi" + HEX32, "dapi" + HEX32),
    ("telegram 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0", "AAHdqTcvCH1vGWJxfSeofSAs0K5"),
    ("https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz012345",
     "AbCdEfGhIjKlMnOpQrStUvWxYz012345"),
    ("grafana glsa_" + "A" * 32 + "_" + HEX32[:8], "glsa_" + "A" * 32),
    ("newrelic NRAK-" + "A1B2C3D4E5F6G7H8I9J0K1L2M3N", "NRAK-A1B2C3D4E5F6G7H8I9J0K1L2M3N"),
    ("SENTRY_DSN=https://" + HEX32 + "@o123456.ingest.sentry.io/4504", HEX32),
    ("jira ATATT3xFfGF0AbCdEfGhIjKlMnOpQrStUvWxYz", "ATATT3xFfGF0AbCdEfGhIjKlMnOp"),
    ("linear lin_api_" + "a1B2" * 10, "lin_api_" + "a1B2" * 10),
    ("huggingface hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGhIj", "hf_AbCdEfGhIjKlMnOpQr"),
    ("Cookie: session=9f8e7d6c5b4a39281706; csrftoken=abcdef", "9f8e7d6c5b4a39281706"),
    ("X-Api-Key: 0f1e2d3c4b5a69788796a5b4c3d2e1f0", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
    ("mysql -u root --password=Sup3rSecretPw -h db", "Sup3rSecretPw"),
    ("vault login --token s.AbCdEfGhIjKlMnOp12345", "s.AbCdEfGhIjKlMnOp12345"),
    ("PGPASSWORD=pg-pass-0987 psql -h db", "pg-pass-0987"),
    ("MYSQL_PWD=my-pwd-12345 mysqldump", "my-pwd-12345"),
    ("ssh key passphrase: open sesame please", "open sesame please"),
    ("age AGE-SECRET-KEY-1" + "QQQQ" * 14 + "QQ", "AGE-SECRET-KEY-1QQQQ"),
    # added with issue 28: more real formats, and the shapes people type
    ("stripe live key in env STRIPE_SECRET_KEY=sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc" * 2,
     "4eC39HqLyjWDarjtT1zdp7dc"),
    ("slack client token xoxc-123456789012-123456789012-abcdef0123456789",
     "123456789012-abcdef0123456789"),
    ("slack refresh xoxe-1-My0xLTEyMzQ1Njc4OTAtMTIzNDU2Nzg5MC1hYmNkZWY", "My0xLTEyMzQ1Njc4OTAt"),
    ("gitlab-runner register --registration-token GR1348941" + "aB3dE5fG7hI9jK1lM3nO",
     "GR1348941aB3dE5fG7hI9jK1lM3nO"),
    ("gcloud refresh_token: 1//0" + "gAbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
     "gAbCdEfGhIjKlMnOpQrStUvWxYz01"),
    ("azure client secret abc8Q~" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456", "AbCdEfGhIjKlMnOpQrSt"),
    ("AZURE_CLIENT_SECRET=abc8Q~AbCdEfGhIjKlMnOpQrStUvWxYz0123456", "AbCdEfGhIjKlMnOp"),
    ("gitlab PRIVATE-TOKEN: glpat-" + "Ab1Cd2Ef3Gh4Ij5Kl6Mn", "glpat-Ab1Cd2Ef3Gh4Ij5Kl6Mn"),
    ("curl -u deploy:Sup3r-Secret-Pw https://artifacts.example.com", "Sup3r-Secret-Pw"),
    ("curl --user 'ci:An0ther-Secret-9' -X POST", "An0ther-Secret-9"),
    ("connect with db_pass=Pg-Pass-2026 to orders", "Pg-Pass-2026"),
    ("login pw=Tr0ub4dor-and-3", "Tr0ub4dor-and-3"),
    ("DB_PASS: quoted-or-not-42", "quoted-or-not-42"),
    ("redis-cli -h cache --pass r3dis-auth-pass2 ping", "r3dis-auth-pass2"),
    ("jdbc:postgresql://db:5432/app?user=app&password=jdbc-pass-777", "jdbc-pass-777"),
    ("https://api.example.com/v1/items?api_key=abcdef0123456789abcdef", "abcdef0123456789abcdef"),
    ("access_token=ya29.a0AbCdEfGhIjKlMnOpQrStUvWxYz&expires_in=3599", "a0AbCdEfGhIjKlMnOpQr"),
    ('{"client_secret": "gH7-jK9_lM1.nP3~qR5", "client_id": "app"}', "gH7-jK9_lM1.nP3~qR5"),
    ("vault: X-Vault-Token: hvs.CAESIJ0aBcDeFgHiJkLmNoPqRsTuV", "hvs.CAESIJ0aBcDeFgHi"),
    ("git remote https://oauth2:glpat-Zz9Yy8Xx7Ww6Vv5Uu4Tt@gitlab.com/g/p.git",
     "glpat-Zz9Yy8Xx7Ww6Vv5Uu4Tt"),
    ("id_token eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2FjY291bnRzIn0.sIgNaTuRe_abcdefgh",
     "eyJpc3MiOiJodHRwczovL2FjY291bnRzIn0"),
]

# Text that looks like a secret to a careless detector and must pass unchanged.
LOOK_ALIKES: list[str] = [
    "commit 3f7a1c9e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a (HEAD -> main)",
    "short sha 3f7a1c9 merged",
    "image: registry.example.com/checkout@sha256:" + HEX64,
    "request id 123e4567-e89b-12d3-a456-426614174000 failed",
    "checkout-api-7d9f8b6c5d-x2k4p   0/1   CrashLoopBackOff   7 (6d ago)   3d",
    "replicaset checkout-api-7d9f8b6c5d scaled to 3",
    "  config.json: eyJsb2dMZXZlbCI6ImRlYnVnIiwicmVwbGljYXMiOjN9",
    "    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t",
    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "arn:aws:iam::123456789012:role/checkout-api",
    "resourceVersion: \"123456789\"",
    "uid: 5f6b1e8e-2c3d-4e5f-8a9b-0c1d2e3f4a5b",
    "integrity sha512-Sb9oyEdJiSZ0e7nm3n2Y9XqQ3HqWuoyqLpqqSqYe5nHZ6m1O9Mi3ZR5ScE1cKwqb8yw==",
    "https://grafana.example.com/d/abc123/checkout?orgId=1&from=now-1h",
    "postgres://db.internal:5432/app?sslmode=require",
    "secretName: checkout-tls",
    "serviceAccountName: checkout-api",
    "token_expiry_seconds: 3600",
    "passwordMinLength: 12",
    "the token bucket refills at 5/s; password policy requires 12 characters",
    "tokenSecretRef:\n  name: vault-token",
    "md5 9e107d9d372bb6826bd81d3542a419d6 matches",
    "channel C0123ABCDEF user U0456GHIJKL",
    "NAME   READY   STATUS    RESTARTS   AGE\nweb-1  1/1     Running   0          3d",
    "kind: ConfigMap\ndata:\n  LOG_LEVEL: debug\n",
    "desk-top risk-assessment-2026-q4-report",
    "etag: W/\"0815-2a8b4c6d8e0f\"",
    "pod-template-hash: 7d9f8b6c5d",
    "span 00f067aa0ba902b7 took 31ms",
    "authentication: required; authMode: oidc",
    "kubectl get secret db-creds -o jsonpath='{.data}'",
    "secret/db-creds created",
    # added with issue 28: what must stay readable next to the new patterns
    "bypass=true cache=off",
    "  passed: 12, failed: 0",
    "curl -u alice https://example.com",
    "kubectl logs web-1 -c web --user-agent ok",
    "Used resources: 1//2 of quota",
    "pw-spread-123 node pool",
    "    client-id: 4f1a-checkout",
    "tokenExpirationSeconds: 3600",
]


@pytest.mark.parametrize(("text", "secret"), SECRETS, ids=[s[:24] for s, _ in SECRETS])
def test_every_secret_format_is_masked(text: str, secret: str) -> None:
    masked = redact(text)
    assert MASK in masked
    pieces = {secret[i:i + 8] for i in range(0, max(len(secret) - 7, 1), 4)}
    survivors = [p for p in pieces if p in masked]
    assert not survivors, f"{masked!r} still shows {survivors}"


@pytest.mark.parametrize("text", LOOK_ALIKES, ids=[t[:24] for t in LOOK_ALIKES])
def test_look_alikes_pass_unchanged(text: str) -> None:
    assert redact(text) == text


def test_the_corpus_is_as_large_as_promised() -> None:
    assert len(SECRETS) >= 90 and len(LOOK_ALIKES) >= 40


def test_masking_is_stable() -> None:
    once = redact("\n".join(text for text, _ in SECRETS))
    assert redact(once) == once
