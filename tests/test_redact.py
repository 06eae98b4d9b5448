"""Secret redaction: recall on planted secrets, survival of ids, idempotence, trajectory fields."""

from __future__ import annotations

import base64
import json
import random
import string
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trace2skill.ingest import read_file
from trace2skill.redact import KINDS, key_kind, redact_text, redact_trajectory
from trace2skill.schema import Step, Trajectory

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "airline"

ALNUM = string.ascii_letters + string.digits
B64URL = ALNUM + "_-"


def rand(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def b64url(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")


def pem(rng: random.Random, label: str, lines: int, newline: str = "\n") -> str:
    body = newline.join(rand(rng, 64, ALNUM + "+/") for _ in range(lines))
    return f"-----BEGIN {label}-----{newline}{body}{newline}{rand(rng, 20, ALNUM + '+/')}=={newline}-----END {label}-----"


# --- planted secrets ------------------------------------------------------------------
# Each item: (kind expected in the counts, the secret, the text that carries it).


def format_secrets(rng: random.Random) -> list[tuple[str, str]]:
    """(kind, secret) of realistic tokens in each supported format, several variants each."""
    jwt_header = b64url({"alg": "RS256", "typ": "JWT", "kid": rand(rng, 16)})
    jwt_payload = b64url({"sub": "user_8812", "iss": "https://auth.example.com/", "exp": 1735689600, "scope": "read write"})
    return [
        ("openai_api_key", "sk-proj-" + rand(rng, 74, B64URL) + "T3BlbkFJ" + rand(rng, 74, B64URL)),
        ("openai_api_key", "sk-" + rand(rng, 20) + "T3BlbkFJ" + rand(rng, 20)),
        ("openai_api_key", "sk-svcacct-" + rand(rng, 120, B64URL)),
        ("openai_api_key", "sk-admin-" + rand(rng, 120, B64URL)),
        ("openai_api_key", "sk-" + rand(rng, 32, "0123456789abcdef")),  # DeepSeek-style sk-<hex>
        ("anthropic_api_key", "sk-ant-api03-" + rand(rng, 93, B64URL) + "AA"),
        ("anthropic_api_key", "sk-ant-admin01-" + rand(rng, 93, B64URL) + "AA"),
        ("aws_access_key_id", "AKIA" + rand(rng, 16, string.ascii_uppercase + "234567")),
        ("aws_access_key_id", "ASIA" + rand(rng, 16, string.ascii_uppercase + "234567")),
        ("aws_access_key_id", "AKIAIOSFODNN7EXAMPLE"),
        ("gcp_api_key", "AIza" + rand(rng, 35, B64URL)),
        ("github_token", "ghp_" + rand(rng, 36)),
        ("github_token", "gho_" + rand(rng, 36)),
        ("github_token", "ghu_" + rand(rng, 36)),
        ("github_token", "ghs_" + rand(rng, 36)),
        ("github_token", "ghr_" + rand(rng, 36)),
        ("github_token", "github_pat_11" + rand(rng, 20, string.ascii_uppercase + string.digits) + "_" + rand(rng, 59)),
        ("gitlab_token", "glpat-" + rand(rng, 20, B64URL)),
        ("slack_token", f"xoxb-{rng.randrange(10**11, 10**12)}-{rng.randrange(10**12, 10**13)}-{rand(rng, 24)}"),
        ("slack_token", f"xoxp-{rng.randrange(10**11, 10**12)}-{rng.randrange(10**11, 10**12)}-{rng.randrange(10**12, 10**13)}-{rand(rng, 32, '0123456789abcdef')}"),
        ("slack_token", f"xoxa-2-{rng.randrange(10**11, 10**12)}-{rand(rng, 30)}"),
        ("slack_token", f"xoxr-{rng.randrange(10**11, 10**12)}-{rand(rng, 40)}"),
        ("slack_token", f"xoxs-{rng.randrange(10**11, 10**12)}-{rand(rng, 40)}"),
        ("slack_token", f"xapp-1-A{rand(rng, 10, string.ascii_uppercase + string.digits)}-{rng.randrange(10**12, 10**13)}-{rand(rng, 64, '0123456789abcdef')}"),
        ("stripe_key", "sk_live_" + rand(rng, 99)),
        ("stripe_key", "rk_live_" + rand(rng, 24)),
        ("stripe_key", "sk_test_" + rand(rng, 24)),
        ("huggingface_token", "hf_" + rand(rng, 34, string.ascii_letters)),
        ("npm_token", "npm_" + rand(rng, 36)),
        ("jwt", f"eyJ{jwt_header[3:]}.{jwt_payload}.{rand(rng, 342, B64URL)}"),
        ("private_key", pem(rng, "RSA PRIVATE KEY", 25)),
        ("private_key", pem(rng, "PRIVATE KEY", 26)),
        ("private_key", pem(rng, "EC PRIVATE KEY", 3)),
        ("private_key", pem(rng, "OPENSSH PRIVATE KEY", 6)),
        ("private_key", pem(rng, "ENCRYPTED PRIVATE KEY", 12)),
    ]


def planted(rng: random.Random) -> list[tuple[str, str, str]]:
    """(kind, secret, carrier text) for every kind in every position it is supported in."""
    items: list[tuple[str, str, str]] = []
    for kind, secret in format_secrets(rng):
        items += [
            (kind, secret, f"Sure, I'll use the key {secret} for the request."),  # free text
            (kind, secret, json.dumps({"command": f"deploy --key {secret} --region us-east-1"})),  # JSON-in-string args
            (kind, secret, json.dumps({"env": {"SERVICE_CREDENTIAL_VALUE": secret}})),  # JSON value, non-keyword key
            (kind, secret, f"export SERVICE_TOKEN={secret}\nexport REGION=eu-west-1\n"),  # env dump
            (kind, secret, json.dumps(json.dumps({"api_key": secret}))),  # JSON inside a JSON string
        ]
    rsa = format_secrets(rng)[30][1]
    escaped_pem = pem(rng, "PRIVATE KEY", 26, newline="\\n")
    service_account = {
        "type": "service_account",
        "project_id": "acme-prod-381212",
        "private_key_id": rand(rng, 40, "0123456789abcdef"),
        "private_key": escaped_pem.replace("\\n", "\n") + "\n",
        "client_email": "deployer@acme-prod-381212.iam.gserviceaccount.com",
        "client_id": "1043" + rand(rng, 17, string.digits),
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    aws_secret = rand(rng, 40, ALNUM + "/+")
    aws_secret2 = rand(rng, 40, ALNUM + "/+")
    aws_secret3 = rand(rng, 40, ALNUM + "/+")
    bearer = rand(rng, 40, B64URL)
    bearer2 = "ya29.a0" + rand(rng, 150, B64URL)
    basic = base64.b64encode(b"deploy-bot:Tr0ub4dor&3").decode()
    items += [
        ("private_key", escaped_pem.split("\\n")[3], f"cat key.json\n{json.dumps(service_account, indent=2)}"),
        ("private_key", rsa.split("\n")[5], json.dumps({"path": "~/.ssh/id_rsa", "content": rsa})),
        ("aws_secret_access_key", aws_secret, f"[default]\naws_access_key_id = AKIA{rand(rng, 16, string.ascii_uppercase)}\naws_secret_access_key = {aws_secret}\n"),
        ("aws_secret_access_key", aws_secret2, f"AWS_SECRET_ACCESS_KEY={aws_secret2}\nAWS_DEFAULT_REGION=us-east-1"),
        ("aws_secret_access_key", aws_secret3, json.dumps({"Credentials": {"AccessKeyId": "ASIA" + rand(rng, 16, string.ascii_uppercase), "SecretAccessKey": aws_secret3, "SessionToken": rand(rng, 300, ALNUM + "/+")}}, indent=4)),
        ("bearer_token", bearer, f"curl -H 'Authorization: Bearer {bearer}' https://api.example.com/v1/orders"),
        ("bearer_token", bearer2, json.dumps({"headers": {"Authorization": f"Bearer {bearer2}", "Accept": "application/json"}})),
        ("bearer_token", bearer, f"GET /v1/me HTTP/1.1\nHost: api.example.com\nauthorization: bearer {bearer}\n"),
        ("basic_auth", basic, f"Authorization: Basic {basic}"),
        ("url_password", "Pa55w0rd!", "DATABASE_URL=postgres://app:Pa55w0rd!@db.internal.example.com:5432/prod"),
        ("url_password", "tok3nValue", json.dumps({"remote": "https://ci-bot:tok3nValue@github.com/acme/app.git"})),
        ("url_password", "s3cr3t", "connecting to redis://:s3cr3t@cache.internal:6379/0 ..."),
        ("url_password", "hunter2", "mongodb+srv://admin:hunter2@cluster0.ab1cd.mongodb.net/?retryWrites=true"),
        ("url_password", "p@ss:word", "amqp://guest:p@ss:word@rabbit:5672/"),
        ("password", "hunter2", "password=hunter2"),
        ("password", "Summer2024!", json.dumps({"username": "jdoe", "password": "Summer2024!"})),
        ("password", "correct horse battery staple", json.dumps({"password": "correct horse battery staple"})),
        ("password", "supersecret", "DB_PASSWORD=supersecret\nDB_HOST=localhost\n"),
        ("password", "letmein", "POSTGRES_PASSWORD=letmein"),
        ("password", "s3cr3t!", "mysql:\n  user: root\n  password: s3cr3t!\n"),
        ("password", "Tr0ub4dor&3", 'db.connect(user="admin", password="Tr0ub4dor&3")'),
        ("password", "qwerty123", "mysql -u root --password=qwerty123 shop"),
        ("password", "pa$$w0rd", "Server=db;Database=shop;User Id=sa;Password=pa$$w0rd;"),
        ("password", "changeme99", "SMTP_PASS=changeme99"),
        ("password", "rootpw1", "MYSQL_PWD=rootpw1 mysqldump shop"),
        ("password", "n0t-in-git", "passwd: n0t-in-git"),
        ("password", "open sesame 42", "'passphrase' => 'open sesame 42',"),
        ("password", "Winter2023", json.dumps(json.dumps({"new_password": "Winter2023"}))),
        ("api_key", "a1b2c3d4e5f6a7b8c9d0", "API_KEY=a1b2c3d4e5f6a7b8c9d0"),
        ("api_key", "9f8e7d6c5b4a39281706", json.dumps({"api_key": "9f8e7d6c5b4a39281706"})),
        ("api_key", "c2VjcmV0a2V5MTIz", "X-API-Key: c2VjcmV0a2V5MTIz"),
        ("api_key", "mailgun-7f3e9a1b", 'apiKey: "mailgun-7f3e9a1b"'),
        ("api_key", "ZXhhbXBsZWtleQ42", "https://maps.example.com/api/geocode?address=Paris&api_key=ZXhhbXBsZWtleQ42&lang=fr"),
        ("api_key", "0d9c8b7a6f5e", "The integration settings show API Key: 0d9c8b7a6f5e"),
        ("token", "d41d8cd98f00b204e980", "GITLAB_TOKEN=d41d8cd98f00b204e980"),
        ("token", "rt-5e884898da28", json.dumps({"access_token": "at-9a0364b9e99b", "refresh_token": "rt-5e884898da28", "token_type": "Bearer"})),
        ("token", "at-9a0364b9e99b", json.dumps({"access_token": "at-9a0364b9e99b", "refresh_token": "rt-5e884898da28", "token_type": "Bearer"})),
        ("token", "8c3f1e2d", "token: 8c3f1e2d"),
        ("token", "x9Kq2mPz", "https://hooks.example.com/notify?token=x9Kq2mPz&channel=ops"),
        ("secret", "cs_7d1f3a9e", json.dumps({"client_id": "web-app", "client_secret": "cs_7d1f3a9e"})),
        ("secret", "django-insecure-4h$k2", "SECRET_KEY=django-insecure-4h$k2"),
        ("secret", "w3bh00k-s1gn", "webhook_secret: w3bh00k-s1gn"),
        ("secret", "Zm9vYmFyYmF6", "ENCRYPTION_KEY=Zm9vYmFyYmF6"),
        ("secret", "jwtS3cretValue", '{\\"jwt_secret\\": \\"jwtS3cretValue\\"}'),
        ("secret", "k8s-cred-99", "credentials: k8s-cred-99"),
    ]
    return items


def fields(carrier: str) -> list[Trajectory]:
    """One trajectory per field type, each carrying ``carrier`` in that field only."""
    base_steps = [
        Step(index=0, role="system", content="You are a deployment agent."),
        Step(index=1, role="user", content="Deploy the app."),
    ]

    def traj(tag: str, task: str = "Deploy the app.", steps: list[Step] | None = None, metadata: dict | None = None) -> Trajectory:
        return Trajectory(id=f"t-{tag}", source_format="test", task=task, steps=steps or base_steps, metadata=metadata or {})

    return [
        traj("task", task=f"Use this: {carrier}"),
        traj("system", steps=[Step(index=0, role="system", content=f"Credentials for the tools:\n{carrier}"), *base_steps[1:]]),
        traj("user", steps=[base_steps[0], Step(index=1, role="user", content=carrier)]),
        traj("reasoning", steps=[*base_steps, Step(index=2, role="assistant", kind="reasoning", content=f"The env shows {carrier}; use it.")]),
        traj("tool_args", steps=[*base_steps, Step(index=2, role="assistant", kind="tool_call", tool_name="bash", tool_args=json.dumps({"cmd": carrier}), tool_call_id="call_1")]),
        traj("observation", steps=[*base_steps, Step(index=2, role="tool", kind="observation", content=f"$ env\n{carrier}\n$ ", tool_name="bash", tool_call_id="call_1")]),
        traj("metadata", metadata={"info": {"log": [f"step 3: {carrier}"]}, "note": carrier}),
    ]


def leaked(secret: str, text: str) -> bool:
    """True if ``secret`` (or, for a long one, any 12-character piece of it) appears in ``text``."""
    if secret in text or json.dumps(secret)[1:-1] in text:
        return True
    if len(secret) <= 16:
        return False
    return any(secret[i : i + 12] in text for i in range(0, len(secret) - 12, 4))


def test_recall_is_total_on_planted_secrets() -> None:
    rng = random.Random(8)
    items = planted(rng)
    kinds_seen: set[str] = set()
    misses = []
    for kind, secret, carrier in items:
        for traj in fields(carrier):
            out = redact_trajectory(traj)
            dumped = json.dumps(out.to_row(), ensure_ascii=False)
            counts = out.metadata["redactions"]
            if leaked(secret, dumped) or counts.get(kind, 0) < 1:
                misses.append((kind, traj.id, carrier[:120], counts))
            kinds_seen.add(kind)
    assert not misses, f"{len(misses)} of {len(items) * 7} planted secrets leaked or misnamed: {misses[:5]}"
    assert kinds_seen == set(KINDS)


def test_context_around_secrets_is_kept() -> None:
    assert redact_text("postgres://app:Pa55w0rd!@db.example.com:5432/prod")[0] == (
        "postgres://app:[REDACTED:url_password]@db.example.com:5432/prod"
    )
    assert redact_text('{"user": "jdoe", "password": "Summer2024!"}')[0] == '{"user": "jdoe", "password": "[REDACTED:password]"}'
    assert redact_text('{\\"password\\": \\"Summer2024!\\"}')[0] == '{\\"password\\": \\"[REDACTED:password]\\"}'
    assert redact_text("Authorization: Bearer abcdefghijkl0123456789")[0] == "Authorization: Bearer [REDACTED:bearer_token]"
    assert redact_text("OPENAI_API_KEY=sk-proj-abcdEFGH1234ijklMNOP5678")[0] == "OPENAI_API_KEY=[REDACTED:openai_api_key]"
    text, counts = redact_text("keys: AKIAIOSFODNN7EXAMPLE and ghp_" + "a1B2" * 9 + ".")
    assert text == "keys: [REDACTED:aws_access_key_id] and [REDACTED:github_token]."
    assert counts == Counter({"aws_access_key_id": 1, "github_token": 1})


def test_key_kind_names_credential_keys_only() -> None:
    assert key_kind("AWS_SECRET_ACCESS_KEY") == "aws_secret_access_key"
    assert key_kind("SecretAccessKey") == "aws_secret_access_key"
    assert key_kind("db_password") == "password"
    assert key_kind("GITHUB_TOKEN") == "token"
    assert key_kind("x-api-key") == "api_key"
    assert key_kind("client_secret") == "secret"
    for key in ("max_tokens", "token_type", "password_hint", "user_id", "secret_name", "first_pass", "PWD", "keyword"):
        assert key_kind(key) is None, key


# --- false positives ----------------------------------------------------------------------

KNOWN_IDS = ("VA5SGQ", "mia_li_3668", "HAT170", "4WQ150", "3YF8KA", "benjamin_clark_7716", "credit_card_6620418")
FIRST = ("mia", "noah", "olivia", "liam", "emma", "sophia", "ivan", "aarav", "chen", "fatima", "yusuf", "amelia")
LAST = ("li", "garcia", "smith", "kim", "nguyen", "patel", "rossi", "muller", "silva", "khan", "brown", "lopez")
AIRPORTS = ("JFK", "LAX", "SFO", "ORD", "ATL", "SEA", "BOS", "MIA", "DEN", "DFW", "EWR", "PHX")


def clean_ids(rng: random.Random) -> dict[str, str]:
    """One id-like token of each family seen in airline and SWE trajectories."""
    user = f"{rng.choice(FIRST)}_{rng.choice(LAST)}_{rng.randrange(1000, 10000)}"
    return {
        "reservation": rand(rng, 6, string.ascii_uppercase + string.digits),
        "user": user,
        "flight": f"HAT{rng.randrange(1, 400):03d}",
        "payment": rng.choice(("credit_card_", "gift_card_", "certificate_")) + str(rng.randrange(10**6, 10**7)),
        "sha": rand(rng, 40, "0123456789abcdef"),
        "short_sha": rand(rng, 7, "0123456789abcdef"),
        "uuid": "-".join(rand(rng, n, "0123456789abcdef") for n in (8, 4, 4, 4, 12)),
        "call_id": "call_" + rand(rng, 24),
        "b64_id": rand(rng, 22, B64URL),
        "request_id": "req_" + rand(rng, 24),
        "msg_id": "msg_01" + rand(rng, 22),
        "path": f"/home/{user}/src/{rng.choice(('django', 'sympy', 'astropy'))}/{rng.choice(('core', 'utils', 'io'))}/{rand(rng, 6, string.ascii_lowercase)}.py",
        "url": f"https://github.com/acme/{rand(rng, 6, string.ascii_lowercase)}/blob/{rand(rng, 40, '0123456789abcdef')}/src/app.py#L{rng.randrange(1, 900)}",
        "url_port": f"http://localhost:{rng.randrange(1024, 65535)}/api/v1/items?page={rng.randrange(1, 9)}&sort=asc",
        "email": f"{user}@example.com",
        "iso_date": f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T{rng.randrange(24):02d}:00:00Z",
        "docker_digest": "sha256:" + rand(rng, 64, "0123456789abcdef"),
        "instance": f"{rng.choice(('django', 'sympy', 'astropy'))}__{rng.choice(('django', 'sympy', 'astropy'))}-{rng.randrange(10000, 30000)}",
        "version": f"v{rng.randrange(0, 5)}.{rng.randrange(0, 30)}.{rng.randrange(0, 10)}",
        "mixed_code": rand(rng, 12, string.ascii_uppercase + string.digits),
    }


def airline_text(rng: random.Random, ids: dict[str, str]) -> str:
    origin, dest = rng.sample(AIRPORTS, 2)
    return rng.choice(
        (
            f"My user id is {ids['user']} and I want to change reservation {ids['reservation']}.",
            json.dumps({"reservation_id": ids["reservation"], "user_id": ids["user"], "origin": origin, "destination": dest,
                        "flights": [{"flight_number": ids["flight"], "date": "2024-05-20", "price": rng.randrange(80, 900)}],
                        "payment_history": [{"payment_id": ids["payment"], "amount": rng.randrange(80, 900)}], "cabin": "economy"}),
            f"Flight {ids['flight']} from {origin} to {dest} departs at 09:40; your booking {ids['reservation']} is basic economy.",
            json.dumps({"user_id": ids["user"], "payment_method_id": ids["payment"], "email": ids["email"], "membership": "gold"}),
            "Basic economy flights cannot be modified. Token of appreciation: none. Password reset is not something I can do.",
        )
    )


def swe_text(rng: random.Random, ids: dict[str, str]) -> str:
    return rng.choice(
        (
            f"commit {ids['sha']}\nAuthor: Dev <{ids['email']}>\nDate: {ids['iso_date']}\n\n    Fix token parsing ({ids['short_sha']})",
            f"$ git log --oneline\n{ids['short_sha']} Fix password hashing\n$ cat {ids['path']}\n"
            "def check_password(self, raw_password):\n    password = self.password\n    token = request.headers.get('X-Token')\n"
            "    return authenticate(username=username, password=password, token=token)\n",
            f"Traceback (most recent call last):\n  File \"{ids['path']}\", line 42, in <module>\n    api_key=settings.API_KEY, max_tokens=1024,\nKeyError: 'secret'",
            json.dumps({"id": ids["call_id"], "object": "chat.completion", "usage": {"prompt_tokens": 812, "completion_tokens": 96, "total_tokens": 908},
                        "request_id": ids["request_id"], "message_id": ids["msg_id"]}),
            f"Open {ids['url']} and {ids['url_port']}; image {ids['docker_digest']}; trace {ids['uuid']} span {ids['b64_id']}.",
            f"Running tests for {ids['instance']} at {ids['version']}: def login(password: str, token: Optional[str] = None) -> bool: ...",
            f"kind: Secret\nmetadata:\n  name: db-creds\nsecret_name: db-creds\ntoken_type: bearer\nis_secret: true\npassword_hint: your pet\ncode {ids['mixed_code']}",
        )
    )


def test_ids_survive_in_clean_airline_and_swe_text() -> None:
    rng = random.Random(1234)
    total = survived = 0
    redactions: Counter[str] = Counter()
    for i in range(3000):
        ids = clean_ids(rng)
        text = (airline_text if i % 2 else swe_text)(rng, ids) + " " + " ".join(KNOWN_IDS)
        out, counts = redact_text(text)
        redactions += counts
        for token in (*ids.values(), *KNOWN_IDS):
            if token in text:
                total += 1
                survived += token in out
        for known in KNOWN_IDS:
            assert known in out
    assert total > 10_000
    assert survived / total >= 0.99, (survived, total, redactions)
    assert sum(redactions.values()) == 0, redactions


def test_example_trajectories_lose_nothing() -> None:
    count = 0
    for path in sorted(EXAMPLES.iterdir()):
        for record in read_file(path):
            assert isinstance(record, Trajectory)
            out = redact_trajectory(record)
            assert "redactions" not in out.metadata
            assert out == record
            count += 1
    assert count > 0


# --- trajectory handling ------------------------------------------------------------------


def test_redact_trajectory_counts_only_and_leaves_input_alone() -> None:
    secret = "ghp_" + "Z9y8X7w6" * 4 + "AbCd"
    traj = Trajectory(
        id="t-1",
        source_format="test",
        task=f"push with {secret}",
        steps=[
            Step(index=0, role="user", content="hi"),
            Step(index=1, role="assistant", kind="tool_call", tool_name="bash", tool_args=json.dumps({"cmd": f"GH_TOKEN={secret} git push"})),
            Step(index=2, role="tool", kind="observation", content="ok"),
        ],
        metadata={
            "tools": [{"name": "bash"}],
            "api_key": "plain-value-without-digits",
            "n": 3,
            "nested": {"password": "hunter"},
            "logprobs": [{"token": "Hello", "logprob": -0.1}],
        },
    )
    out = redact_trajectory(traj)
    assert traj.task == f"push with {secret}"  # input untouched
    assert out.task == "push with [REDACTED:github_token]"
    assert out.steps[1].tool_args == json.dumps({"cmd": "GH_TOKEN=[REDACTED:github_token] git push"})
    assert out.steps[0] is traj.steps[0]
    assert out.metadata["api_key"] == "[REDACTED:api_key]"  # a value stored under a credential key
    assert out.metadata["nested"] == {"password": "[REDACTED:password]"}
    assert out.metadata["n"] == 3 and out.metadata["tools"] == [{"name": "bash"}]
    assert out.metadata["logprobs"] == [{"token": "Hello", "logprob": -0.1}]  # a word-piece, not a credential
    assert out.metadata["redactions"] == {"api_key": 1, "github_token": 2, "password": 1}
    assert secret not in json.dumps(out.to_row())
    again = redact_trajectory(out)
    assert again.metadata["redactions"] == out.metadata["redactions"]
    assert again.model_dump() == out.model_dump()


@pytest.mark.parametrize(
    "text",
    [
        "password=password",
        "password: str",
        "def f(token: Optional[str] = None, api_key=os.environ['KEY']): ...",
        '{"token": null, "secret": false, "password": ""}',
        "PASSWORD=${DB_PASSWORD}",
        '"api_key": "<your-api-key>"',
        "password: ********",
        "Authorization: Bearer $TOKEN",
        "Basic economy and Bearer authentication",
        "https://user@example.com:8080/path",
        "ssh://git@github.com:22/org/repo.git",
        "task-runner-with-a-very-long-kebab-case-name",
        "max_tokens=1024 total_tokens: 3000",
        "risk-assessment-2024-05-15-quarterly-report",
        "eyJust kidding",
    ],
)
def test_code_and_placeholders_are_not_secrets(text: str) -> None:
    assert redact_text(text) == (text, Counter())


# --- properties ---------------------------------------------------------------------------

FRAGMENTS = [
    "sk-", "sk-ant-", "ghp_", "github_pat_", "xoxb-", "hf_", "AKIA", "AIza", "eyJ", ".eyJ", "-----BEGIN PRIVATE KEY-----",
    "-----END PRIVATE KEY-----", "Bearer ", "Basic ", "://", "@", ":", "=", '"', "'", "\\", "\\\"", " ", "\n", "password",
    "API_KEY", "token", "secret", "[REDACTED:token]", "{", "}", "$", "ab12", "ZZ99", "0123456789abcdef", "_", "-",
    "AKIAIOSFODNN7EXAMPLE", "ghp_" + "a1B2" * 9, "sk-proj-abcDEF123456789012345", "//u:p1@h", "://user:", "DB_PASSWORD=",
    "Authorization: Bearer ", "dXNlcjpwYXNzd29yZA==", '\\\\\\"', "=>", ":=", "[", "]", '"password": "', "x-api-key: ",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)), max_size=40).map("".join))
def test_redact_text_is_idempotent_and_total(text: str) -> None:
    once, counts = redact_text(text)
    twice, counts2 = redact_text(once)
    assert twice == once
    assert counts2 == Counter()
    assert set(counts) <= set(KINDS)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_redact_text_never_raises_on_any_text(text: str) -> None:
    out, _ = redact_text(text)
    assert redact_text(out)[0] == out


def test_read_file_redacts_trajectories_and_quarantined_records(tmp_path: Path) -> None:
    secret = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    good = {"messages": [{"role": "user", "content": f"my token is {secret}"}, {"role": "assistant", "content": "ok"}], "success": True}
    bad = {"messages": [{"role": f"token={secret}", "content": "x"}]}
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n" + '{"broken": "' + secret + "\n")
    records = list(read_file(path))
    assert len(records) == 3 and isinstance(records[0], Trajectory)
    assert records[0].metadata["redactions"] == {"github_token": 2}  # the task and the first step
    for record in records:
        assert secret not in record.model_dump_json()
    assert secret in list(read_file(path, redact=False))[0].model_dump_json()  # the switch is real


def test_a_short_quoted_password_before_a_key_on_the_next_line_is_redacted_alike_twice() -> None:
    once, _ = redact_text('"password": "sk-\nAKIAIOSFODNN7EXAMPLE')
    assert redact_text(once)[0] == once
