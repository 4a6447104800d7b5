"""Shared fixtures: the demo sample, a throw-away copy of the project, and the real export when present."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pandas as pd
import pytest

from severity.data.ingest import parse_events
from severity.data.split import split_by_time
from severity.data.target import label_events
from severity.features import AviationFeatureEngineer, FeatureSettings

# No telemetry from anything the tests start, in this process or its children; BentoML's
# model store in a temp dir (set before anything imports bentoml), never the user's ~/bentoml.
os.environ.update(DO_NOT_TRACK="1", BENTOML_DO_NOT_TRACK="true", KEDRO_DISABLE_TELEMETRY="true")
# Under pytest-xdist every worker of one run shares the store, so a model packaged by the worker that trained the
# shared project is found by the others.
_RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID")
if _RUN_ID:
    os.environ["BENTOML_HOME"] = str(Path(tempfile.gettempdir()) / f"severity-tests-bentoml-{_RUN_ID}")
    Path(os.environ["BENTOML_HOME"]).mkdir(exist_ok=True)
else:
    os.environ["BENTOML_HOME"] = tempfile.mkdtemp(prefix="severity-tests-bentoml-")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEMO_SAMPLE = PROJECT_ROOT / "data" / "01_raw" / "synthetic_ntsb_demo.csv"
REAL_EXPORT = PROJECT_ROOT.parent / "shared" / "data" / "ntsb" / "AviationData.csv"
DATA_LAYERS = (
    "01_raw",
    "02_intermediate",
    "03_primary",
    "04_feature",
    "05_model_input",
    "06_models",
    "07_model_output",
    "08_reporting",
)

SMALL_FEATURES = FeatureSettings(min_category_count=5, target_encoding_folds=3)
needs_real_export = pytest.mark.skipif(not REAL_EXPORT.exists(), reason=f"{REAL_EXPORT} not present")


def read_raw(path: Path) -> pd.DataFrame:
    """Read an export the way the catalog does (all strings, no NA guessing)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="session")
def demo_raw() -> pd.DataFrame:
    return read_raw(DEMO_SAMPLE)


def make_project_copy(tmp_path: Path) -> Path:
    """A copy of the project's configuration, notebooks and demo data in a temp dir.

    Sessions run here write their data, MLflow store and Kedro-Viz build into the temp dir,
    never into the working tree.
    """
    root = tmp_path / "severity"
    root.mkdir()
    for name in ("conf", "notebooks"):
        shutil.copytree(PROJECT_ROOT / name, root / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for name in ("pyproject.toml", "bentofile.yaml"):
        shutil.copy2(PROJECT_ROOT / name, root / name)
    for layer in DATA_LAYERS:
        (root / "data" / layer).mkdir(parents=True)
    shutil.copy2(DEMO_SAMPLE, root / "data" / "01_raw" / DEMO_SAMPLE.name)
    (root / "src").mkdir()  # Kedro checks that the source dir exists; the package itself is installed
    return root


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    return make_project_copy(tmp_path)


def run_session(
    project_path: Path,
    pipeline: str,
    env: str | None = None,
    runtime_params: dict | None = None,
    node_names: list[str] | None = None,
):
    """Run like `kedro run` from the project root (relative paths, the SQLite store, resolve there)."""
    import mlflow
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project_path)
    try:
        with (
            contextlib.chdir(project_path),
            KedroSession.create(project_path=project_path, env=env, runtime_params=runtime_params) as session,
        ):
            return session.run(pipeline_names=[pipeline], node_names=node_names)
    finally:
        # kedro-mlflow leaves its run on MLflow's fluent stack, where the next session in this
        # process would resume it; a `kedro run` process ends it by exiting.
        while mlflow.active_run():
            mlflow.end_run()


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that need the shared demo training are `slow` (it is a whole Kedro run) and run after the others (a
    stable sort: each keeps its order), so that under pytest-xdist one worker trains while the other runs the rest."""
    for item in items:
        if "trained_project" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: "trained_project" in getattr(item, "fixturenames", ()))


def train_demo_project(tmp_path: Path) -> Path:
    root = make_project_copy(tmp_path)
    # The `ci` environment: a 6-trial study and fewer bootstrap resamples; nothing else changes.
    run_session(root, "training", env="ci")
    return root


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory) -> Path:
    """The training pipeline run once on the demo sample, in its own project copy; shared by the tests that read it.

    Under pytest-xdist the first worker to ask trains it once for the whole run, under a file lock, and every worker
    gets its own copy: tests write into this project (inference and monitoring runs), and two workers must not write
    into one.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return train_demo_project(tmp_path_factory.mktemp("trained"))
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent
    source, done = shared / "trained", shared / "trained.done"
    with FileLock(shared / "trained.lock"):
        if not done.exists():
            source.mkdir()
            train_demo_project(source)
            done.touch()
    return copy_trained_project(source / "severity", tmp_path_factory.mktemp("trained"))


def copy_trained_project(source: Path, tmp_path: Path) -> Path:
    """A copy of a trained project that owns its MLflow store and artifacts: the store records absolute artifact paths,
    which would otherwise still point into (and write into) the original."""
    import sqlite3

    target = tmp_path / "severity"
    shutil.copytree(source, target)
    with contextlib.closing(sqlite3.connect(target / "mlflow.db")) as store, store:
        for table, column in (
            ("experiments", "artifact_location"),
            ("runs", "artifact_uri"),
            ("model_versions", "source"),
            ("model_versions", "storage_location"),
            ("logged_models", "artifact_location"),
        ):
            store.execute(f"UPDATE {table} SET {column} = REPLACE({column}, ?, ?)", (str(source), str(target)))  # noqa: S608
    return target


def packaged_champion_tag(project: Path) -> str:
    """The BentoML tag of the model the project's training packaged (its registered version 1). Not ``:latest``: the
    tests share one model store, where recalibration and history refreshes of project copies package later models."""
    from mlflow import MlflowClient

    from severity.serving.registry import packaged_tag

    uri = f"sqlite:///{project / 'mlflow.db'}"
    version = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version("ntsb-severity-classifier", "1")
    return packaged_tag("1", version.run_id)


@pytest.fixture(scope="session")
def demo_splits(demo_raw):
    labelled, _ = label_events(parse_events(demo_raw)[0])
    train, validation, test, _ = split_by_time(labelled, "2011-01-01", "2013-01-01")
    return train, validation, test


@pytest.fixture(scope="session")
def fitted(demo_splits):
    """A transformer fitted on the demo training split, with validation and test events as history."""
    train, validation, test = demo_splits
    engineer = AviationFeatureEngineer(SMALL_FEATURES)
    train_features = engineer.fit_transform(train, train["fatal"])
    engineer.add_history(pd.concat([validation, test]))
    return engineer, train_features


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_binaries() -> Path | None:
    """The folder of PostgreSQL's server programs (Debian keeps them under /usr/lib/postgresql/<version>/bin)."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    return installed[-1].parent if installed else None


@contextlib.contextmanager
def postgres_server(binaries: Path):
    """A throw-away PostgreSQL server on 127.0.0.1 with an empty database ``optuna``: its SQLAlchemy URL."""
    folder = Path(tempfile.mkdtemp(prefix="severity-postgres-"))
    # initdb and postgres refuse to run as root: run them as the postgres account where we are root.
    as_owner: list[str] = []
    if os.geteuid() == 0:
        as_owner = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    port = free_port()
    data, log = folder / "data", folder / "server.log"

    def run(*command: object) -> None:
        subprocess.run([*as_owner, *map(str, command)], check=True, capture_output=True, timeout=120)

    run(binaries / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
    run(
        binaries / "pg_ctl",
        "-D",
        data,
        "-l",
        log,
        "-w",
        "-o",
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1",
        "start",
    )
    try:
        run(binaries / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "optuna")
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/optuna"
    finally:
        run(binaries / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server on 127.0.0.1 for this test session, with an empty database ``optuna``.

    Skipped where the server is not installed, unless SEVERITY_REQUIRE_POSTGRES is set (CI sets it:
    `.ci/run` installs Debian's postgresql), so CI cannot pass by skipping.
    """
    binaries = postgres_binaries()
    if binaries is None:
        if os.environ.get("SEVERITY_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL is required (SEVERITY_REQUIRE_POSTGRES) but pg_ctl was not found")
        pytest.skip("PostgreSQL server not installed (apt-get install postgresql)")
    with postgres_server(binaries) as url:
        yield url


@contextlib.contextmanager
def recording_webhook():
    """An HTTP server on 127.0.0.1 that records the JSON bodies POSTed to it: (url, received bodies)."""
    received: list = []

    class Recorder(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alerts", received
    finally:
        server.shutdown()


@pytest.fixture
def webhook():
    """:func:`recording_webhook` for one test."""
    with recording_webhook() as recorded:
        yield recorded


class SmtpRecorder:
    """What a local SMTP server received: one entry per message (envelope, parsed message, and the TLS cipher of its
    session, None for plain text), and the logins. Its accepted login is ``alerts``/``s3cret``."""

    def __init__(self):
        self.messages: list[dict] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        from email import message_from_bytes
        from email.policy import default

        self.messages.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "message": message_from_bytes(envelope.original_content or envelope.content, policy=default),
                "tls_cipher": session.ssl["cipher"] if session.ssl else None,
            }
        )
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        login = (auth_data.login.decode(), auth_data.password.decode())
        self.logins.append(login)
        # handled=False: aiosmtpd then answers a refused login with 535 (its default leaves the client waiting)
        return AuthResult(success=login == ("alerts", "s3cret"), handled=False)


@contextlib.contextmanager
def running_smtp_server(**options):
    """An aiosmtpd server on 127.0.0.1 with these options of its SMTP class: (host, port, recorder)."""
    from aiosmtpd.controller import Controller

    recorder = SmtpRecorder()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=recorder.authenticate,
        ready_timeout=10,
        **options,
    )
    controller.start()
    try:
        yield "127.0.0.1", controller.port, recorder
    finally:
        controller.stop()


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that accepts any mail and, when asked, a login: (host, port, recorder).
    Without a login it accepts mail too."""
    # plain login on the loopback interface, for the test only
    with running_smtp_server(auth_require_tls=False) as server:
        yield server


def throwaway_certificates(folder: Path, host: str = "127.0.0.1") -> dict[str, Path]:
    """A certificate authority made for one test and a server certificate it signed for ``host`` (an IP address), as
    PEM files: ``ca`` (what a client trusts), ``certificate`` and ``key`` (what the server presents)."""
    import ipaddress
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)

    def issued(subject: str, key, issuer: str, issuer_key, *extensions) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(issuer_key, hashes.SHA256())

    authority_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    signing_only = dict.fromkeys(
        (
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    authority = issued(
        "severity tests CA",
        authority_key,
        "severity tests CA",
        authority_key,
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, **signing_only), True),
    )
    server = issued(
        host,
        server_key,
        "severity tests CA",
        authority_key,
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), False),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
    )
    files = {"ca": folder / "ca.pem", "certificate": folder / "server.pem", "key": folder / "server.key"}
    files["ca"].write_bytes(authority.public_bytes(serialization.Encoding.PEM))
    files["certificate"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


@pytest.fixture
def starttls_smtp_server(tmp_path):
    """A real SMTP server on 127.0.0.1 that takes mail and logins only after STARTTLS, presenting a certificate for
    127.0.0.1 signed by a throwaway CA: (host, port, recorder, the CA's PEM file)."""
    import ssl

    certificates = throwaway_certificates(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(certificates["certificate"], certificates["key"])
    with running_smtp_server(tls_context=tls, require_starttls=True, auth_require_tls=True) as (host, port, recorder):
        yield host, port, recorder, certificates["ca"]
