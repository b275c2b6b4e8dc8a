"""Webhooks that cannot be aimed inward, failures told as categories, secrets encrypted at
rest, and the Standard Webhooks signature: real receivers on 127.0.0.1 (http and https),
the system resolver where a name must really resolve, and resolvers the tests control
(passed to ``send``) where a name must answer something a test chooses (a public address,
then a loopback one: DNS rebinding)."""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import ssl
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import standardwebhooks

from graph.audits.clock import ManualClock
from graph.audits.model import Delivery
from graph.audits.signing import standard_key, verify, verify_standard
from service.routes.audits import _new_secret
from service.secrets import KEY_FILE, SecretBox, SecretUnreadable, derive, parse_key, secret_box, server_key
from service.settings import Settings
from service.webhooks import global_address, numeric_host, public_error, send, url_problem
from tests.audits.receiver import Receiver
from tests.audits.test_scheduler import (SECRET, T0, demo, make_scheduler, new_audit,  # noqa: F401 (fixtures)
                                         results, step)
from tests.conftest import ROOT

NOW = datetime.now(timezone.utc).replace(microsecond=0)
CATEGORY = re.compile(r"(timeout|refused|dns|tls|blocked|error|http \d{3})")
#: a globally routable address nothing in these tests listens on (PCP anycast, RFC 7723)
PUBLIC = "192.0.0.9"
KEY_A, KEY_B = "a1" * 32, "b2" * 32


class Resolver:
    """``socket.getaddrinfo`` answering from a script: the n-th call gets ``answers[n]``
    (the last answer repeats), every call is kept."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        self.calls.append(host)
        ips = self.answers[min(len(self.calls), len(self.answers)) - 1]
        if not ips:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0)) if ":" in ip
                else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in ips]


def delivery(url: str, body: bytes = b'{"event":"audit.run.done"}', attempts=()) -> Delivery:
    return Delivery(id=uuid.uuid4().hex[:16], graph="g", audit="a", run="r", url=url, event="audit.run.done",
                    body=body.decode(), created_at=NOW, attempts=list(attempts))


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(script=(), **kw) -> Receiver:
        r = Receiver(script, **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# the address rules, when a webhook is set ---------------------------------------------------
INWARD = [
    "http://100.64.0.1/", "http://100.127.255.254/hook",  # carrier-grade NAT
    "http://0x7f000001/", "http://2130706433/", "http://127.1/", "http://127.0.1/", "http://0x7f.1/",
    "http://017700000001/", "http://127.0.0.1./", "http://localhost/", "http://LOCALHOST:8080/",
    "http://hooks.localhost/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[::1]/",
    "http://169.254.169.254/latest/meta-data/", "http://2852039166/",  # the metadata address, as a number
    "http://10.0.0.1/", "http://0xa000001/", "http://192.168.1.1/", "http://172.16.0.1/", "http://0.0.0.0/",
    "http://0/", "http://224.0.0.1/", "http://255.255.255.255/", "http://198.18.0.1/", "http://192.0.2.1/",
    "http://[fd00::1]/", "http://[fe80::1]/", "http://[::]/", "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://metadata.internal/", "http://printer.local/", "http://router.home.arpa/",
]


@pytest.mark.parametrize("url", INWARD)
def test_inward_targets_are_refused_when_set(url):
    problem = url_problem(url, allow_private=False)
    assert problem is not None and "CASTLEGATE_WEBHOOK_ALLOW_PRIVATE" in problem, problem


@pytest.mark.parametrize("url", ["http://1.2.3.456/", "http://0x/", "http://1.2.3.4.5/", "http://08.1/",
                                 "http://0x1g.1/", "http://4294967296/", "http://hooks.example.123/"])
def test_a_numeric_host_that_is_no_address_is_refused_whole(url):
    # a resolver would hand these to DNS; a webhook's host is an address or a name
    assert url_problem(url, allow_private=False) is not None
    assert url_problem(url, allow_private=True) is not None


def test_numeric_spellings_are_read_as_libc_reads_them():
    assert {str(numeric_host(h)) for h in ("2130706433", "0x7f000001", "0177.0.0.1", "127.1", "127.0.1",
                                          "0x7f.0.0.1", "127.0.0.1.", "::ffff:127.0.0.1")} == {"127.0.0.1", "::ffff:7f00:1"}
    assert numeric_host("134744072") == ipaddress.ip_address("8.8.8.8")
    assert numeric_host("hooks.example.org") is None and numeric_host("1a.example.org") is None
    assert global_address("::ffff:8.8.8.8") and not global_address("::ffff:10.0.0.1")


def test_public_targets_are_accepted():
    public = Resolver(["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
    assert url_problem("https://hooks.example.org/in", allow_private=False, resolver=public) is None
    assert public.calls == ["hooks.example.org"]
    for url in ("http://8.8.8.8/", "http://134744072/", "https://[2001:4860:4860::8888]:8443/x",
                "http://[::ffff:8.8.8.8]/"):
        assert url_problem(url, allow_private=False) is None, url


def test_a_name_is_refused_if_any_address_is_inward_and_the_answer_names_none():
    mixed = Resolver([PUBLIC, "10.1.2.3"])
    problem = url_problem("https://hooks.example.org/", allow_private=False, resolver=mixed)
    assert "resolves to an address that is not public" in problem
    assert "10.1.2.3" not in problem  # the answer must not map the internal DNS
    # the system resolver: localhost from /etc/hosts is refused as a name and as an address
    assert url_problem("http://localhost/", allow_private=False) is not None


def test_a_name_that_does_not_resolve_is_refused_with_a_clear_message():
    for allow in (False, True):
        problem = url_problem("https://no-such-host.invalid/hook", allow_private=allow)
        assert problem == "no-such-host.invalid does not resolve: a webhook's host must have an address when it is set"


def test_allow_private_lets_inward_addresses_in():
    for url in ("http://127.0.0.1:9/", "http://127.1/", "http://localhost/", "http://100.64.0.1/",
                "http://[::ffff:127.0.0.1]/"):
        assert url_problem(url, allow_private=True) is None, url


# ... and when sending -------------------------------------------------------------------
def test_inward_targets_are_blocked_when_sent_and_nothing_reaches_them(demo, receiver):
    """Records made straight in the store (as before these rules, or by a store edit):
    the scheduler refuses each at send time, sends nothing, and says ``blocked``."""
    store, g = demo
    hook = receiver()
    p = hook.port
    urls = [f"http://0x7f000001:{p}/hook", f"http://2130706433:{p}/hook", f"http://127.1:{p}/hook",
            f"http://localhost:{p}/hook", f"http://[::ffff:127.0.0.1]:{p}/hook", f"http://100.64.0.1:{p}/hook",
            f"http://127.0.0.1:{p}/hook", f"http://0177.0.0.1:{p}/hook"]
    clock = ManualClock(T0)
    audits = [new_audit(store, g, clock, url=u, paused=True) for u in urls]
    for a in audits:
        store.queue_run(g, a.id, clock.now(), f"run-{a.id}")
    s = make_scheduler(store, g, clock, allow_private=False)
    try:
        for _ in range(len(urls) + 1):
            step(s)
    finally:
        s.stop()
    for a in audits:
        [d] = store.list_deliveries(g, a.id)
        assert [(x.error, x.status_code, x.delivered) for x in d.attempts] == [("blocked", None, False)], d.url
    assert hook.requests == []


def test_a_name_is_resolved_once_and_the_checked_address_is_used(receiver):
    """DNS rebinding: the name answers a public address to the check and 127.0.0.1 to a
    second look-up. There is no second look-up: the attempt goes to the public address
    (nothing listens there: it fails) and nothing reaches the receiver on 127.0.0.1."""
    hook = receiver()
    rebinding = Resolver([PUBLIC], ["127.0.0.1"])
    attempt = send(delivery(f"http://rebind.example.org:{hook.port}/hook"), SECRET, NOW, 1.0,
                   allow_private=False, resolver=rebinding)
    assert rebinding.calls == ["rebind.example.org"]
    assert not attempt.delivered and attempt.error in ("timeout", "refused", "error")
    assert hook.requests == []
    # the other way round: the check sees the loopback address and stops there
    rebinding = Resolver(["127.0.0.1"], [PUBLIC])
    attempt = send(delivery(f"http://rebind.example.org:{hook.port}/hook"), SECRET, NOW, 1.0,
                   allow_private=False, resolver=rebinding)
    assert (attempt.error, rebinding.calls) == ("blocked", ["rebind.example.org"])
    assert hook.requests == []


def test_allow_private_still_pins_the_address_it_resolved(receiver):
    """With private targets allowed the check passes anything, and the connection still goes
    to the address of the one look-up, under the URL's own Host."""
    hook = receiver()
    rebinding = Resolver(["127.0.0.1"], ["10.255.255.1"])
    url = f"http://hooks.castlegate.test:{hook.port}/hook?x=1"
    attempt = send(delivery(url), SECRET, NOW, 5.0, allow_private=True, resolver=rebinding)
    assert (attempt.delivered, attempt.status_code, attempt.error) == (True, 204, None)
    assert rebinding.calls == ["hooks.castlegate.test"]
    [req] = hook.requests
    assert req.headers["host"] == f"hooks.castlegate.test:{hook.port}" and req.path == "/hook?x=1"


def test_a_dead_address_is_skipped_for_the_next_checked_one(receiver):
    hook = receiver()
    two = Resolver(["127.0.0.2", "127.0.0.1"])
    # nothing listens on the first address at the receiver's port: refused, then the next
    attempt = send(delivery(f"http://two.castlegate.test:{hook.port}/hook"), SECRET, NOW, 5.0,
                   allow_private=True, resolver=two)
    assert attempt.delivered and len(hook.requests) == 1


# https: the pinned address, the name's certificate ---------------------------------------
@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A certificate authority and certificates for hooks.castlegate.test and for another
    name; ``client``: a client context trusting that authority only."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    now = datetime.now(timezone.utc)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("castlegate test CA")).issuer_name(name("castlegate test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    def server(host: str) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(name(host)).issuer_name(ca.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
                .sign(ca_key, hashes.SHA256()))
        pem = folder / f"{host}.pem"
        pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pem)
        return ctx

    client = ssl.create_default_context(cafile=str(folder / "ca.pem"))
    return {"hooks": lambda: server("hooks.castlegate.test"), "other": lambda: server("other.castlegate.test"),
            "client": client}


def test_https_goes_to_the_pinned_address_with_the_name_for_sni_and_the_certificate(receiver, tls):
    hook = receiver(tls=tls["hooks"]())
    resolver = Resolver(["127.0.0.1"], ["10.255.255.1"])
    url = f"https://hooks.castlegate.test:{hook.port}/hook"
    attempt = send(delivery(url), SECRET, NOW, 5.0, allow_private=True, resolver=resolver, verify=tls["client"])
    assert (attempt.delivered, attempt.status_code) == (True, 204), attempt
    assert resolver.calls == ["hooks.castlegate.test"]
    assert hook.server_names == ["hooks.castlegate.test"]
    assert hook.requests[0].headers["host"] == f"hooks.castlegate.test:{hook.port}"


def test_a_certificate_for_another_name_or_authority_is_a_tls_failure(receiver, tls):
    wrong_name = receiver(tls=tls["other"]())
    attempt = send(delivery(f"https://hooks.castlegate.test:{wrong_name.port}/hook"), SECRET, NOW, 5.0,
                   allow_private=True, resolver=Resolver(["127.0.0.1"]), verify=tls["client"])
    assert (attempt.delivered, attempt.error, attempt.status_code) == (False, "tls", None)
    untrusted = receiver(tls=tls["hooks"]())  # the system's authorities do not know the test CA
    attempt = send(delivery(f"https://hooks.castlegate.test:{untrusted.port}/hook"), SECRET, NOW, 5.0,
                   allow_private=True, resolver=Resolver(["127.0.0.1"]))
    assert (attempt.delivered, attempt.error) == (False, "tls")
    assert wrong_name.requests == [] and untrusted.requests == []


# what clients see of a failure ------------------------------------------------------------
def test_failures_are_categories_without_details(receiver):
    hook = receiver([500, "hang"])
    port = closed_port()
    cases = [
        (send(delivery(hook.url), SECRET, NOW, 5.0, allow_private=True), "http 500", 500),
        (send(delivery(hook.url), SECRET, NOW, 0.5, allow_private=True), "timeout", None),
        (send(delivery(f"http://127.0.0.1:{port}/hook"), SECRET, NOW, 5.0, allow_private=True), "refused", None),
        (send(delivery(f"http://no-such-host.invalid:{port}/"), SECRET, NOW, 5.0, allow_private=True), "dns", None),
        (send(delivery(f"http://127.0.0.1:{port}/hook"), SECRET, NOW, 5.0, allow_private=False), "blocked", None),
        (send(delivery("ftp://example.org/x"), SECRET, NOW, 5.0, allow_private=True), "blocked", None),
    ]
    hook.release()
    for attempt, category, status in cases:
        assert (attempt.error, attempt.status_code, attempt.delivered) == (category, status, False)
        assert CATEGORY.fullmatch(attempt.error)


def test_a_look_up_that_hangs_is_cut_off_at_the_timeout():
    import threading

    gate = threading.Event()

    def slow(*args, **kw):
        gate.wait(30)
        raise socket.gaierror(socket.EAI_AGAIN, "late")

    try:
        attempt = send(delivery("http://slow.castlegate.test/"), SECRET, NOW, 0.5, allow_private=True, resolver=slow)
    finally:
        gate.set()
    assert attempt.error == "timeout" and 500 <= attempt.duration_ms < 2000


def test_errors_recorded_before_categories_are_shown_as_categories():
    assert [public_error(e) for e in (
        "ConnectError: All connection attempts failed", "ConnectError: [Errno 111] Connection refused",
        "gaierror: [Errno -2] Name or service not known", "HTTP 502", "no answer within 10 s",
        "not sent: hooks.example.org resolves to 10.0.0.7, a private address (CASTLEGATE_WEBHOOK_ALLOW_PRIVATE is off)",
        "ConnectError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", None, "refused", "http 404",
        "not sent: the audit's webhook was removed",
    )] == ["error", "refused", "dns", "http 502", "timeout", "blocked", "tls", None, "refused", "http 404",
           "not sent: the audit's webhook was removed"]



def test_the_api_shows_old_attempts_as_categories_too():
    from graph.audits.model import DeliveryAttempt
    from service.routes.audits import delivery_out

    old = [DeliveryAttempt(number=i + 1, at=NOW, duration_ms=1.0, error=e, delivered=False, status_code=s)
           for i, (e, s) in enumerate([("ConnectError: [Errno 111] Connection refused", None), ("HTTP 500", 500),
                                        ("refused", None)])]
    shown = delivery_out(delivery("http://8.8.8.8/", attempts=old))
    assert [x.error for x in shown.attempts] == ["refused", "http 500", "refused"]


# Standard Webhooks ------------------------------------------------------------------------
def test_a_generated_secret_verifies_with_the_standard_webhooks_package(demo, receiver):
    """The reference package, as a receiver uses it: ``Webhook(secret).verify(body,
    headers)``, on a real delivery at the real time (the package checks it)."""
    store, g = demo
    hook = receiver()
    # the time now, not the module's: the package refuses a timestamp 5 minutes off
    now = datetime.now(timezone.utc).replace(microsecond=0)
    secret = _new_secret()  # what castlegate generates
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret) and len(standard_key(secret)) == 32
    box = SecretBox([parse_key(KEY_A)])
    clock = ManualClock(now)
    a = new_audit(store, g, clock, url=hook.url, paused=True)
    store.update_audit(g, a.id, {"webhook_secret": box.encrypt(secret)})
    store.queue_run(g, a.id, clock.now(), "run-1")
    s = make_scheduler(store, g, clock, secret_box=box)
    try:
        step(s)
        step(s)
    finally:
        s.stop()
    [req] = hook.wait_for(1)
    assert standardwebhooks.Webhook(secret).verify(req.body, req.headers)["run"]["id"] == "run-1"
    assert req.headers["webhook-id"] == req.headers["x-castlegate-delivery"]
    assert req.headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert verify_standard(secret, req.body, req.headers, now=now.timestamp())
    # the castlegate scheme still holds, with the secret's text as its key
    assert verify(secret, req.body, req.headers["x-castlegate-signature"], now=now.timestamp())
    forged = dict(req.headers) | {"webhook-id": "another"}
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(secret).verify(req.body, forged)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook("whsec_" + "A" * 43 + "=").verify(req.body, req.headers)


def test_a_chosen_secret_is_keyed_by_its_utf8_bytes(receiver):
    hook = receiver()
    secret = "my-own-secret-123456"
    attempt = send(delivery(hook.url), secret, datetime.now(timezone.utc), 5.0, allow_private=True)
    assert attempt.delivered
    [req] = hook.requests
    assert standardwebhooks.Webhook(secret.encode()).verify(req.body, req.headers)
    assert standard_key(secret) == secret.encode()
    # a whsec_ secret that is not base64 of its key (castlegate's generated secrets before
    # this version) is keyed by its text too
    old = "whsec_" + "x-_" * 14
    assert standard_key(old) == old.encode()


# secrets at rest ------------------------------------------------------------------------------
def test_an_encrypted_secret_signs_deliveries_and_a_plaintext_one_from_before_still_does(demo, receiver):
    store, g = demo
    box = SecretBox([parse_key(KEY_A)])
    clock = ManualClock(T0)
    encrypted_hook, plain_hook = receiver(), receiver()
    a = new_audit(store, g, clock, url=encrypted_hook.url, paused=True)
    store.update_audit(g, a.id, {"webhook_secret": box.encrypt(SECRET)})
    b = new_audit(store, g, clock, url=plain_hook.url, paused=True, account="south-00")  # SECRET in the clear
    assert store.get_audit(g, a.id).webhook_secret.startswith("fernet:")
    assert SECRET not in store.get_audit(g, a.id).webhook_secret
    assert store.get_audit(g, b.id).webhook_secret == SECRET
    store.queue_run(g, a.id, clock.now(), "run-a")
    store.queue_run(g, b.id, clock.now(), "run-b")
    s = make_scheduler(store, g, clock, secret_box=box)
    try:
        for _ in range(3):
            step(s)
    finally:
        s.stop()
    for hook in (encrypted_hook, plain_hook):
        [req] = hook.wait_for(1)
        assert verify(SECRET, req.body, req.headers["x-castlegate-signature"], now=T0.timestamp())
        assert verify_standard(SECRET, req.body, req.headers, now=T0.timestamp())


def test_rotation_reads_secrets_of_the_previous_key(demo, receiver, tmp_path):
    store, g = demo
    old = Settings.from_env({"CASTLEGATE_SECRET_KEY": KEY_A, "CASTLEGATE_DATA_DIR": str(tmp_path)})
    rotated = Settings.from_env({"CASTLEGATE_SECRET_KEY": KEY_B, "CASTLEGATE_SECRET_KEY_PREVIOUS": KEY_A,
                                 "CASTLEGATE_DATA_DIR": str(tmp_path)})
    forgot = Settings.from_env({"CASTLEGATE_SECRET_KEY": KEY_B, "CASTLEGATE_DATA_DIR": str(tmp_path)})
    stored = secret_box(old).encrypt(SECRET)
    assert secret_box(rotated).decrypt(stored) == SECRET
    assert secret_box(rotated).encrypt(SECRET) != stored
    assert secret_box(forgot).decrypt(secret_box(rotated).encrypt(SECRET)) == SECRET  # written under the new key
    with pytest.raises(SecretUnreadable):
        secret_box(forgot).decrypt(stored)

    clock = ManualClock(T0)
    hook, lost = receiver(), receiver()
    a = new_audit(store, g, clock, url=hook.url, paused=True)
    b = new_audit(store, g, clock, url=lost.url, paused=True, account="south-00")
    for x in (a, b):
        store.update_audit(g, x.id, {"webhook_secret": stored})
    store.queue_run(g, a.id, clock.now(), "run-a")
    store.queue_run(g, b.id, clock.now(), "run-b")
    # a scheduler that lost the old key: the runs run, the webhooks are not sent (never unsigned)
    without = make_scheduler(store, g, clock, secret_box=secret_box(forgot))
    try:
        for _ in range(3):
            step(without)
    finally:
        without.stop()
    assert lost.requests == [] and hook.requests == []
    deliveries = {x.id: store.list_deliveries(g, x.id) for x in (a, b)}
    [da], [db] = deliveries[a.id], deliveries[b.id]
    assert [x.error for x in da.attempts + db.attempts] == ["error", "error"]
    # the key given back as the previous one: both are sent on their next attempt
    clock.advance(timedelta(minutes=1))
    s = make_scheduler(store, g, clock, secret_box=secret_box(rotated))
    try:
        step(s)
    finally:
        s.stop()
    for r in (hook, lost):
        [req] = r.wait_for(1)
        assert verify(SECRET, req.body, req.headers["x-castlegate-signature"], now=clock.now().timestamp())


def test_the_server_key_is_made_once_kept_0600_and_agreed_on_by_processes_starting_together(tmp_path):
    data = tmp_path / "data"
    code = ("import sys; from pathlib import Path; from service.settings import Settings;"
            " from service.secrets import server_key;"
            " print(server_key(Settings(data_dir=Path(sys.argv[1]))).hex())")
    env = {k: v for k, v in os.environ.items() if k not in ("CASTLEGATE_SECRET_KEY", "CASTLEGATE_SECRET_KEY_PREVIOUS")}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(data)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              text=True) for _ in range(6)]
    keys = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(keys) == 1 and len(bytes.fromhex(keys.pop())) == 32
    path = data / KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in data.iterdir()) == [KEY_FILE]  # no temporary files left
    assert server_key(Settings(data_dir=data)) == bytes.fromhex(path.read_text().strip())
    # a configured key wins over the file
    assert server_key(Settings(data_dir=data, secret_key=KEY_A)) == bytes.fromhex(KEY_A)


def test_key_settings_are_hex_or_base64_of_32_bytes_or_more():
    import base64

    raw = os.urandom(40)
    assert parse_key(raw.hex()) == raw
    assert parse_key(base64.urlsafe_b64encode(raw).decode()) == raw
    assert parse_key(base64.urlsafe_b64encode(raw).decode().rstrip("=")) == raw
    for bad in ("ab" * 31, "short", "not a key at all!", base64.urlsafe_b64encode(os.urandom(31)).decode()):
        with pytest.raises(SystemExit) as e:
            Settings.from_env({"CASTLEGATE_SECRET_KEY": bad})
        assert "CASTLEGATE_SECRET_KEY" in str(e.value) and bad not in str(e.value)
    with pytest.raises(SystemExit, match="CASTLEGATE_SECRET_KEY_PREVIOUS"):
        Settings.from_env({"CASTLEGATE_SECRET_KEY_PREVIOUS": "ab"})
    s = Settings.from_env({"CASTLEGATE_SECRET_KEY": KEY_A, "CASTLEGATE_SECRET_KEY_PREVIOUS": KEY_B})
    assert KEY_A not in repr(s) and KEY_B not in repr(s)
    assert s.to_env()["CASTLEGATE_SECRET_KEY"] == KEY_A  # what the worker child gets


def test_derived_keys_differ_per_purpose_and_per_server_key():
    k = parse_key(KEY_A)
    keys = {derive(k, "webhook-secrets"), derive(k, "api-keys"), derive(parse_key(KEY_B), "api-keys")}
    assert len(keys) == 3 and all(len(x) == 32 for x in keys)
    assert derive(k, "api-keys") == derive(k, "api-keys")




@pytest.mark.parametrize("name", ["service.secrets", "service.webhooks"])
def test_the_modules_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
