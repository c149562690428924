"""The official Python Azure SDK clients, unmodified, against `azmi emulator`.

Proves that what the emulator serves is what azure-identity (and MSAL under
it) and azure-keyvault-secrets expect of the real services. `run` beside
this file starts the emulator and passes its settings in these variables:

  INTEROP_IMDS            the emulated IMDS base URL (http://127.0.0.1:PORT)
  INTEROP_VAULT_ADDR      where the vault listens (127.0.0.1:PORT)
  INTEROP_CA              the emulator's CA certificate (PEM)
  INTEROP_APP_SERVICE, INTEROP_APP_SERVICE_2017, INTEROP_SERVICE_FABRIC,
  INTEROP_CLOUD_SHELL, INTEROP_ARC
                          each source's variables as the emulator prints
                          them: "NAME=value NAME=value"
  INTEROP_ARC_TOKEN_DIR   the Arc agent's key-file directory; set only when
                          the emulator writes its keys in the directory the
                          SDK insists on (/var/opt/azcmagent/tokens), which
                          `run` arranges in a private mount namespace. Without
                          it the Arc checks are skipped.
  INTEROP_WORKLOAD_IDENTITY
                          workload identity's variables, the same way (the
                          projected token file, client id, tenant, authority)
  INTEROP_ENTRA_ADDR      where the emulated Entra listens (127.0.0.1:PORT;
                          its certificate also names localhost)
  INTEROP_CONNECT_TO      the pins `azmi emulator` prints (vault, authority),
                          for running azmi against the same emulator
  INTEROP_EMULATOR_LOG    the emulator's output, which `run` starts it to
                          write with `azmi -v`: one `DEBUG request: SERVICE
                          METHOD PATH?QUERY` line per request it served
  AZMI                    the azmi binary, for `azmi serve`

The Broker checks start `azmi serve` (a loopback broker fetching from the
emulated IMDS) with two keyed tenants and an [anonymous] grant, and prove
that the same unmodified clients work through it, in IMDS mode and in App
Service mode; that its refusals reach the SDK in a form the SDK reports
(without a request to the emulator); that 50 SDK processes starting
together cost the emulator one token request; and that SIGTERM stops it
cleanly.

No name but the vault's resolves (see `_guarded_getaddrinfo`), and every
address must be loopback, so nothing here can reach the network; the cold
start's processes refuse every name but a loopback address (`COLD_START`),
and `azmi serve` is given the emulated IMDS as its only identity source.
Tokens and secret values are only asserted on, never printed.
"""

import base64
import ipaddress
import json
import logging
import os
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request
from contextlib import contextmanager

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.identity import CredentialUnavailableError, ManagedIdentityCredential, WorkloadIdentityCredential
from azure.keyvault.secrets import SecretClient
from azure.keyvault.secrets._shared import HttpChallengeCache
from requests.exceptions import SSLError

SCOPE = "https://vault.azure.net/.default"
STORAGE_SCOPE = "https://storage.azure.com/.default"
VAULT_HOST = "myvault.vault.azure.net"
VAULT_URL = f"https://{VAULT_HOST}"
# The emulator's demo data (crates/azmi-emulator/src/demo.rs).
SYSTEM_CLIENT_ID = "0d5ad0b2-33b4-4e1c-9a52-5c5b0b3d54e8"
USER_CLIENT_ID = "a5b6c7d8-e9f0-4a1b-8c2d-3e4f5a6b7c8d"
USER_OBJECT_ID = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
USER_RESOURCE_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/azmi-demo"
    "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/azmi-demo"
)
MYSECRET_VERSION = "c0ffee00c0ffee00c0ffee00c0ffee00"
MYSECRET_OLD_VERSION = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
UNKNOWN_CLIENT_ID = "00000000-1111-2222-3333-444444444444"
# A second user-assigned identity federated to the demo pod's service account.
WORKLOAD_CLIENT_ID = "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f"

# Every variable that selects a managed-identity source: each check sets
# exactly its own, since azure-identity reads them when a credential is made
# and MSAL reads them again at each request.
SOURCE_VARIABLES = (
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
)
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def setting(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"interop.py: {name} is not set; run tests/interop/python/run, which starts the emulator")
    return value


def source_settings(name):
    """`NAME=value NAME=value`, as the emulator prints a source, as a dict."""
    return dict(pair.split("=", 1) for pair in setting(name).split())


IMDS = setting("INTEROP_IMDS")
VAULT_IP, VAULT_PORT = setting("INTEROP_VAULT_ADDR").rsplit(":", 1)
CA = setting("INTEROP_CA")
ARC_TOKEN_DIR = os.environ.get("INTEROP_ARC_TOKEN_DIR")
EMULATOR_LOG = setting("INTEROP_EMULATOR_LOG")
AZMI = setting("AZMI")

# --- loopback only ---------------------------------------------------------

_real_getaddrinfo = socket.getaddrinfo


def _guarded_getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    """Resolves the vault's name to the emulator and refuses everything else.

    The vault URL keeps the real name and the default port 443: Key Vault
    clients check that the challenge's resource (https://vault.azure.net)
    covers the vault's host *and port*, so a URL with the emulator's
    ephemeral port would fail that check, and the Host header and TLS server
    name must be the vault's name. Instead the port is mapped here, where
    urllib3 asks for the address: myvault.vault.azure.net:443 answers with
    the emulator's address and port. (Listening on 443 would need root and
    a private namespace; this works anywhere.) Other names: only IP literals
    and localhost, and any answer that is not loopback raises, so no request
    can leave the machine whatever the SDK tries.
    """
    name = host.decode() if isinstance(host, bytes) else host
    name = (name or "").lower().rstrip(".")
    if name == VAULT_HOST:
        if str(port) not in ("443", "https"):
            raise socket.gaierror(socket.EAI_SERVICE, f"interop: {VAULT_HOST} is mapped for port 443 only, not {port}")
        host, port = VAULT_IP, int(VAULT_PORT)
    elif name != "localhost":
        try:
            ipaddress.ip_address(name)
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, f"interop: refusing to resolve {name!r}: loopback only") from None
        flags |= socket.AI_NUMERICHOST
    answers = _real_getaddrinfo(host, port, family, type, proto, flags)
    for answer in answers:
        address = answer[4][0].split("%")[0]
        if not ipaddress.ip_address(address).is_loopback:
            raise socket.gaierror(socket.EAI_NONAME, f"interop: {name!r} resolved to {address}, not loopback")
    return answers


socket.getaddrinfo = _guarded_getaddrinfo
# Only loopback, and never through a proxy.
for _name in PROXY_VARIABLES:
    os.environ.pop(_name, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "*"
for _name in SOURCE_VARIABLES:
    os.environ.pop(_name, None)
# azure-identity logs each failed get_token as a warning; the negative checks
# expect failures, and an unexpected one fails its check with the message.
logging.getLogger("azure").setLevel(logging.ERROR)

# --- helpers ---------------------------------------------------------------


@contextmanager
def source(**variables):
    """Exactly these managed-identity variables, for the duration."""
    saved = {name: os.environ.pop(name, None) for name in SOURCE_VARIABLES}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name in SOURCE_VARIABLES:
            os.environ.pop(name, None)
            if saved[name] is not None:
                os.environ[name] = saved[name]


def imds():
    return source(AZURE_POD_IDENTITY_AUTHORITY_HOST=IMDS)


def claims(token):
    """The JWT's claims (unverified: the emulator's vault checks the signature)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def emulator_requests():
    """Every request the emulator has served, as it logs them (`azmi -v
    emulator`): (service, method, path and query). Each line is written
    before the request is answered, so a request that got its answer is
    in the log."""
    with open(EMULATOR_LOG, encoding="utf-8", errors="replace") as log:
        return [tuple(line.split()[2:5]) for line in log if line.startswith("DEBUG request: ")]


def imds_token_requests(resource):
    """How many token requests for `resource` the emulated IMDS served
    (the query raw or percent-encoded)."""
    count = 0
    for service, method, target in emulator_requests():
        url = urllib.parse.urlsplit(target)
        if (service, method, url.path) == ("imds", "GET", "/metadata/identity/oauth2/token"):
            count += urllib.parse.parse_qs(url.query).get("resource") == [resource]
    return count


def vault(credential):
    # The SDK caches each vault's challenge for the whole process; forgotten
    # here, every check starts with the 401 challenge, as a new process does.
    HttpChallengeCache.clear()
    # Challenge-resource verification stays on (the default); the emulator's
    # throw-away CA is the only one trusted.
    return SecretClient(VAULT_URL, credential, connection_verify=CA)


class Checks(unittest.TestCase):
    def assert_token(self, token, client_id):
        """A JWT-shaped Key Vault token for `client_id`, valid for a while.
        (Messages name claims, never the token.)"""
        self.assertEqual(token.token.count("."), 2, "the token is not JWT-shaped")
        got = claims(token.token)
        self.assertEqual(got["aud"], "https://vault.azure.net", "audience")
        self.assertEqual(got["appid"], client_id, "the token is for another identity")
        self.assertGreater(token.expires_on, time.time() + 3600, "expires_on is not an hour away or more")


class Guard(unittest.TestCase):
    def test_only_the_vault_and_loopback_resolve(self):
        ip, port = socket.getaddrinfo(VAULT_HOST, 443, type=socket.SOCK_STREAM)[0][4][:2]
        self.assertEqual((ip, port), (VAULT_IP, int(VAULT_PORT)))
        for host in ("example.com", "login.microsoftonline.com", "169.254.169.254"):
            with self.subTest(host=host), self.assertRaises(socket.gaierror):
                socket.getaddrinfo(host, 80)


class Imds(Checks):
    def test_system_assigned_token(self):
        with imds():
            self.assert_token(ManagedIdentityCredential().get_token(SCOPE), SYSTEM_CLIENT_ID)

    def test_user_assigned_token_by_client_id_object_id_and_resource_id(self):
        with imds():
            for identity in (
                {"client_id": USER_CLIENT_ID},
                {"identity_config": {"object_id": USER_OBJECT_ID}},
                {"identity_config": {"resource_id": USER_RESOURCE_ID}},
            ):
                with self.subTest(identity=identity):
                    self.assert_token(ManagedIdentityCredential(**identity).get_token(SCOPE), USER_CLIENT_ID)

    def test_unknown_client_id_is_unavailable(self):
        # IMDS answers 400 "Identity not found"; azure-identity reports the
        # source as unavailable (so a chain would move on), with IMDS's words.
        with imds(), self.assertRaises(CredentialUnavailableError) as caught:
            ManagedIdentityCredential(client_id=UNKNOWN_CLIENT_ID).get_token(SCOPE)
        self.assertIn("Identity not found", str(caught.exception))

    def test_secret_through_the_challenge(self):
        answers = []
        with imds():
            secret = vault(ManagedIdentityCredential()).get_secret("mysecret", raw_response_hook=answers.append)
        self.assertTrue(secret.value == "TOPSECRET", "mysecret is not the demo value")
        statuses = [answer.http_response.status_code for answer in answers]
        self.assertEqual(statuses, [401, 200], "the challenge, then the secret")
        # The service's request id, and the client's echoed, as Key Vault does.
        request, response = answers[-1].http_request, answers[-1].http_response
        self.assertIn("x-ms-request-id", response.headers)
        self.assertEqual(response.headers.get("x-ms-client-request-id"), request.headers["x-ms-client-request-id"])
        self.assertEqual(secret.properties.version, MYSECRET_VERSION)
        self.assertEqual(secret.properties.vault_url, VAULT_URL)
        self.assertEqual(secret.properties.content_type, "text/plain")
        self.assertEqual(secret.properties.tags, {"env": "demo"})
        self.assertTrue(secret.properties.enabled)

    def test_challenge_verification_is_on(self):
        # The emulator's challenge, rewritten on its way in (the per-request
        # hook runs before the challenge policy reads the answer) to name
        # another audience, as a fake vault would to harvest a token: the
        # SDK must refuse before it asks the credential for anything.
        def other_audience(pipeline_response):
            headers = pipeline_response.http_response.headers
            if "WWW-Authenticate" in headers:
                headers["WWW-Authenticate"] = headers["WWW-Authenticate"].replace(
                    "https://vault.azure.net", "https://management.azure.com"
                )

        asked = []

        class Credential:
            def get_token(self, *scopes, **kwargs):
                asked.append(scopes)
                raise AssertionError("the SDK asked for a token")

        with self.assertRaisesRegex(ValueError, "challenge resource 'management.azure.com' does not match"):
            vault(Credential()).get_secret("mysecret", raw_response_hook=other_audience)
        self.assertEqual(asked, [])

    def test_older_version(self):
        with imds():
            secret = vault(ManagedIdentityCredential()).get_secret("mysecret", MYSECRET_OLD_VERSION)
        self.assertTrue(secret.value == "OLDSECRET", "the old version's value is wrong")
        self.assertEqual(secret.properties.version, MYSECRET_OLD_VERSION)

    def test_secret_readable_by_the_user_assigned_identity_only(self):
        with imds():
            secret = vault(ManagedIdentityCredential(client_id=USER_CLIENT_ID)).get_secret("uami-only")
            self.assertTrue(secret.value == "UAMISECRET", "uami-only is not the demo value")
            with self.assertRaises(HttpResponseError) as caught:
                vault(ManagedIdentityCredential()).get_secret("uami-only")
        self.assertEqual(caught.exception.status_code, 403)
        self.assertEqual(caught.exception.error.code, "Forbidden")
        self.assertIn("ForbiddenByRbac", str(caught.exception))

    def test_missing_and_disabled_secrets(self):
        with imds():
            client = vault(ManagedIdentityCredential())
            with self.assertRaises(ResourceNotFoundError) as missing:
                client.get_secret("no-such-secret")
            with self.assertRaises(HttpResponseError) as disabled:
                client.get_secret("disabled-secret")
        self.assertEqual(missing.exception.error.code, "SecretNotFound")
        self.assertEqual(disabled.exception.status_code, 403)
        self.assertIn("SecretDisabled", str(disabled.exception))


class AppService(Checks):
    def setUp(self):
        self.variables = source_settings("INTEROP_APP_SERVICE")

    def test_system_and_user_assigned_tokens(self):
        with source(**self.variables):
            self.assert_token(ManagedIdentityCredential().get_token(SCOPE), SYSTEM_CLIENT_ID)
            self.assert_token(ManagedIdentityCredential(client_id=USER_CLIENT_ID).get_token(SCOPE), USER_CLIENT_ID)
            by_resource_id = ManagedIdentityCredential(identity_config={"resource_id": USER_RESOURCE_ID})
            self.assert_token(by_resource_id.get_token(SCOPE), USER_CLIENT_ID)

    def test_secret(self):
        with source(**self.variables):
            secret = vault(ManagedIdentityCredential()).get_secret("mysecret")
        self.assertTrue(secret.value == "TOPSECRET", "mysecret is not the demo value")

    def test_wrong_identity_header_is_refused(self):
        with source(**dict(self.variables, IDENTITY_HEADER="not-the-header")):
            with self.assertRaises(CredentialUnavailableError) as caught:
                ManagedIdentityCredential().get_token(SCOPE)
        self.assertIn("401", str(caught.exception))


@unittest.skipUnless(ARC_TOKEN_DIR, "INTEROP_ARC_TOKEN_DIR unset: needs a private mount namespace (see run)")
class Arc(Checks):
    def setUp(self):
        self.variables = source_settings("INTEROP_ARC")

    def assert_keys_redeemed(self):
        # The agent accepts each key once and deletes it.
        self.assertEqual(os.listdir(ARC_TOKEN_DIR), [], "a key file was left behind")

    def test_system_assigned_token_through_the_key_file_challenge(self):
        with source(**self.variables):
            self.assert_token(ManagedIdentityCredential().get_token(SCOPE), SYSTEM_CLIENT_ID)
        self.assert_keys_redeemed()

    def test_user_assigned_token_is_confirmed_by_the_agent(self):
        # MSAL fails closed unless the agent echoes the identity it used.
        with source(**self.variables):
            for identity in (
                {"client_id": USER_CLIENT_ID},
                {"identity_config": {"object_id": USER_OBJECT_ID}},
                {"identity_config": {"resource_id": USER_RESOURCE_ID}},
            ):
                with self.subTest(identity=identity):
                    self.assert_token(ManagedIdentityCredential(**identity).get_token(SCOPE), USER_CLIENT_ID)
        self.assert_keys_redeemed()

    def test_secret(self):
        with source(**self.variables):
            secret = vault(ManagedIdentityCredential()).get_secret("mysecret")
        self.assertTrue(secret.value == "TOPSECRET", "mysecret is not the demo value")

    def test_unknown_client_id_is_unavailable(self):
        with source(**self.variables), self.assertRaises(CredentialUnavailableError) as caught:
            ManagedIdentityCredential(client_id=UNKNOWN_CLIENT_ID).get_token(SCOPE)
        self.assertIn("Identity not found", str(caught.exception))


class OtherSources(Checks):
    def test_service_fabric_pinned_by_thumbprint(self):
        variables = source_settings("INTEROP_SERVICE_FABRIC")
        with source(**variables):
            self.assert_token(ManagedIdentityCredential().get_token(SCOPE), SYSTEM_CLIENT_ID)
        wrong = dict(variables, IDENTITY_SERVER_THUMBPRINT="00" * 20)
        with source(**wrong), self.assertRaisesRegex(SSLError, "thumbprint does not match"):
            ManagedIdentityCredential().get_token(SCOPE)

    def test_app_service_2017_as_azure_ml_then_with_its_dates(self):
        # MSAL (which azure-identity's sync credentials use) treats
        # MSI_ENDPOINT + MSI_SECRET as Azure ML, whose expires_on is epoch
        # seconds: `run` starts the emulator with
        # --fault app-service-2017=expiry=integer, so its first answer has
        # that form, and the SDK takes it.
        with source(**source_settings("INTEROP_APP_SERVICE_2017")):
            self.assert_token(ManagedIdentityCredential().get_token(SCOPE), SYSTEM_CLIENT_ID)
            # SDK deviation, not the emulator's: App Service 2017 itself sends
            # expires_on as a date ("06/20/2019 02:57:58 +00:00"), which MSAL's int(expires_on) cannot
            # read; azure-identity's own date parser (_credentials/azure_ml.py
            # _parse_expires_on) is no longer on the sync path. Should the SDK
            # learn dates, this check fails: then make it a success check.
            with self.assertRaisesRegex(ValueError, "invalid literal for int"):
                ManagedIdentityCredential().get_token(SCOPE)

    def test_cloud_shell(self):
        with source(**source_settings("INTEROP_CLOUD_SHELL")):
            self.assert_token(ManagedIdentityCredential().get_token(SCOPE), SYSTEM_CLIENT_ID)


class WorkloadIdentity(Checks):
    """azure-identity's own WorkloadIdentityCredential (its AadClient: one
    POST of the client-credentials grant) against the emulated Entra and
    the token file the emulated kubelet projects: an independent check of
    both. Then azmi against the same emulator, for the same identity."""

    def setUp(self):
        self.variables = source_settings("INTEROP_WORKLOAD_IDENTITY")
        # The SDK is pointed at the emulator by its address; azmi keeps
        # the authority's real name and pins it (INTEROP_CONNECT_TO).
        self.authority = "https://localhost:" + setting("INTEROP_ENTRA_ADDR").rsplit(":", 1)[1]
        self.saved_bundle = os.environ.get("REQUESTS_CA_BUNDLE")
        os.environ["REQUESTS_CA_BUNDLE"] = CA

    def tearDown(self):
        os.environ.pop("REQUESTS_CA_BUNDLE", None)
        if self.saved_bundle is not None:
            os.environ["REQUESTS_CA_BUNDLE"] = self.saved_bundle

    def credential(self, client_id=None, token_file=None):
        return WorkloadIdentityCredential(
            tenant_id=self.variables["AZURE_TENANT_ID"],
            client_id=client_id or self.variables["AZURE_CLIENT_ID"],
            token_file_path=token_file or self.variables["AZURE_FEDERATED_TOKEN_FILE"],
            authority=self.authority,
        )

    def entra_requests(self):
        return sum(1 for service, method, _ in emulator_requests() if (service, method) == ("workload-identity", "POST"))

    def test_token_and_secret(self):
        self.assertEqual(self.variables["AZURE_CLIENT_ID"], USER_CLIENT_ID)
        self.assert_token(self.credential().get_token(SCOPE), USER_CLIENT_ID)
        secret = vault(self.credential()).get_secret("mysecret")
        self.assertEqual(secret.value, "TOPSECRET")

    def test_another_identity_federated_to_the_same_service_account(self):
        self.assert_token(self.credential(client_id=WORKLOAD_CLIENT_ID).get_token(SCOPE), WORKLOAD_CLIENT_ID)

    def test_refusals_reach_the_sdk_as_authentication_errors(self):
        with self.assertRaises(ClientAuthenticationError) as unknown:
            self.credential(client_id=UNKNOWN_CLIENT_ID).get_token(SCOPE)
        self.assertIn("AADSTS700016", str(unknown.exception))
        with tempfile.NamedTemporaryFile("w", suffix=".token") as forged:
            forged.write("eyJhbGciOiJub25lIn0.eyJzdWIiOiJtZSJ9.c2ln\n")
            forged.flush()
            with self.assertRaises(ClientAuthenticationError) as malformed:
                self.credential(token_file=forged.name).get_token(SCOPE)
        self.assertIn("AADSTS50027", str(malformed.exception))

    def test_azmi_gets_the_same_identity_from_the_same_emulator(self):
        before = self.entra_requests()
        env = dict(self.variables)
        env.update(AZMI_CONNECT_TO=setting("INTEROP_CONNECT_TO"), AZMI_CA_FILE=CA)
        for name in ("PATH", "HOME", "XDG_CACHE_HOME", "AZMI_CACHE_DIR"):
            if os.environ.get(name):
                env[name] = os.environ[name]
        done = subprocess.run(
            [AZMI, "token", "--resource", "https://vault.azure.net"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        ours = claims(json.loads(done.stdout)["access_token"])
        sdk = claims(self.credential().get_token(SCOPE).token)
        for claim in ("appid", "oid", "tid", "aud"):
            self.assertEqual(ours[claim], sdk[claim], claim)
        self.assertEqual(self.entra_requests(), before + 2, "one exchange each")


# --- azmi serve ------------------------------------------------------------

# The broker's tenants: alpha has the system-assigned identity, beta the
# user-assigned one (its first identity is its default); IMDS-mode callers
# (no key) get the system-assigned identity, for the vault and storage.
SERVE_CONFIG = f"""\
[[tenant]]
name = "alpha"
key_file = "alpha.key"
identities = ["system-assigned"]
resources = ["https://vault.azure.net"]

[[tenant]]
name = "beta"
key_file = "beta.key"
identities = ["client-id:{USER_CLIENT_ID}"]
resources = ["https://vault.azure.net"]

[anonymous]
identities = ["system-assigned"]
resources = ["https://vault.azure.net", "https://storage.azure.com"]
"""
# Its first start compiles the sandboxed component (then cached).
SERVE_START_SECONDS = 60
SERVE_STOP_SECONDS = 30
COLD_START_PROCESSES = 50
COLD_START_SECONDS = 180

# One cold-start process (`python -I -c COLD_START READY GO SCOPE CLIENT_ID`):
# it resolves nothing but loopback addresses, makes its credential, writes a
# byte to READY, waits until GO is closed (every process is released at
# once), asks for a token in IMDS mode and exits 0 if its claims are right.
# It prints no token, only what went wrong.
COLD_START = """\
import base64, ipaddress, json, os, socket, sys

_real_getaddrinfo = socket.getaddrinfo

def loopback_only(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else str(host)
    try:
        loopback = ipaddress.ip_address(name).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise socket.gaierror(socket.EAI_NONAME, f"cold start: refusing to resolve {name!r}: loopback only")
    return _real_getaddrinfo(host, *args, **kwargs)

socket.getaddrinfo = loopback_only
from azure.identity import ManagedIdentityCredential

ready, go, scope, client_id = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
credential = ManagedIdentityCredential()
os.write(ready, b".")
os.close(ready)
os.read(go, 1)
try:
    token = credential.get_token(scope).token
except Exception as e:
    sys.exit(f"get_token: {type(e).__name__}: {e}")
payload = token.split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
if claims.get("aud") != scope.removesuffix("/.default"):
    sys.exit("the token is for another audience")
if claims.get("appid") != client_id:
    sys.exit("the token is for another identity")
"""


def broker_environment():
    """`azmi serve`'s environment: the emulated IMDS as the only identity
    source, PATH, and where the compiled component is cached."""
    env = {"AZURE_POD_IDENTITY_AUTHORITY_HOST": IMDS}
    for name in ("PATH", "HOME", "XDG_CACHE_HOME", "AZMI_CACHE_DIR"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def stop(process):
    """Kills `process` if it still runs (a cleanup after a failure)."""
    if process.poll() is None:
        process.kill()
        process.wait()


class Broker(Checks):
    """The same clients through `azmi serve`, which fetches from the emulated
    IMDS; the tokens are the emulator's, the vault is reached directly."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="azmi-interop-serve-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, ignore_errors=True)
        cls.keys = {}
        for tenant in ("alpha", "beta"):
            cls.keys[tenant] = secrets.token_hex(32)
            path = os.path.join(cls.dir, f"{tenant}.key")
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as key:
                key.write(cls.keys[tenant] + "\n")
            os.chmod(path, 0o600)
        config = os.path.join(cls.dir, "serve.toml")
        with open(config, "w") as file:
            file.write(SERVE_CONFIG)
        cls.output = os.path.join(cls.dir, "serve.out")
        cls.log = os.path.join(cls.dir, "serve.err")
        with open(cls.output, "wb") as out, open(cls.log, "wb") as err:
            cls.broker = subprocess.Popen(
                [AZMI, "-v", "serve", "--config", config],
                env=broker_environment(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        cls.addClassCleanup(stop, cls.broker)
        cls.url = cls.listening()

    @classmethod
    def listening(cls):
        """The broker's URL, from its one listen line."""
        deadline = time.monotonic() + SERVE_START_SECONDS
        while time.monotonic() < deadline and cls.broker.poll() is None:
            with open(cls.output) as out:
                found = re.findall(r"^azmi serve: listening on (http://127\.0\.0\.1:\d+)$", out.read(), re.M)
            if found:
                if len(found) != 1:
                    raise AssertionError(f"azmi serve printed {len(found)} listen lines for one listener")
                return found[0]
            time.sleep(0.1)
        status = cls.broker.poll()
        why = f"no listen line within {SERVE_START_SECONDS} s" if status is None else f"exit {status} before its listen line"
        raise AssertionError(f"azmi serve: {why}; its output:\n{cls.broker_output()}")

    @classmethod
    def broker_output(cls):
        with open(cls.output, errors="replace") as out, open(cls.log, errors="replace") as err:
            return out.read() + err.read()

    @classmethod
    def tearDownClass(cls):
        # SIGTERM: the broker finishes what is in flight and exits 0.
        cls.broker.send_signal(signal.SIGTERM)
        try:
            status = cls.broker.wait(SERVE_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"azmi serve still runs {SERVE_STOP_SECONDS} s after SIGTERM") from None
        if status != 0:
            raise AssertionError(f"azmi serve exited {status} after SIGTERM; its output:\n{cls.broker_output()}")

    def imds_mode(self):
        return source(AZURE_POD_IDENTITY_AUTHORITY_HOST=self.url)

    def app_service_mode(self, key):
        return source(IDENTITY_ENDPOINT=f"{self.url}/msi/token", IDENTITY_HEADER=key)

    def metrics(self):
        """The broker's /metrics samples, by name and labels."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        samples = (line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
        return {name: int(value) for name, value in samples}

    def answered(self, tenant, code=200):
        """Token requests the broker answered `tenant` with `code`."""
        return self.metrics().get(f'azmi_serve_token_requests_total{{tenant="{tenant}",code="{code}"}}', 0)

    @contextmanager
    def answers(self, tenant, code=200, count=1):
        """The block makes the broker answer `tenant` `count` times with `code`."""
        before = self.answered(tenant, code)
        yield
        self.assertEqual(self.answered(tenant, code) - before, count, f"the broker's {code} answers to {tenant}")

    @contextmanager
    def no_emulator_request(self):
        """The block's refusal is the broker's own: the emulator serves nothing."""
        before = len(emulator_requests())
        yield
        self.assertEqual(len(emulator_requests()), before, "the broker asked the emulator for a refused request")

    def test_imds_mode_token_and_secret(self):
        with self.imds_mode(), self.answers("anonymous", count=2):
            self.assert_token(ManagedIdentityCredential().get_token(SCOPE), SYSTEM_CLIENT_ID)
            secret = vault(ManagedIdentityCredential()).get_secret("mysecret")
        self.assertTrue(secret.value == "TOPSECRET", "mysecret is not the demo value")

    def test_app_service_mode_per_tenant(self):
        with self.app_service_mode(self.keys["alpha"]), self.answers("alpha", count=2):
            self.assert_token(ManagedIdentityCredential().get_token(SCOPE), SYSTEM_CLIENT_ID)
            secret = vault(ManagedIdentityCredential()).get_secret("mysecret")
        self.assertTrue(secret.value == "TOPSECRET", "mysecret is not the demo value")
        with self.app_service_mode(self.keys["beta"]), self.answers("beta", count=3):
            by_client_id = ManagedIdentityCredential(client_id=USER_CLIENT_ID)
            self.assert_token(by_client_id.get_token(SCOPE), USER_CLIENT_ID)
            # The tenant's first identity is its default.
            self.assert_token(ManagedIdentityCredential().get_token(SCOPE), USER_CLIENT_ID)
            secret = vault(ManagedIdentityCredential()).get_secret("uami-only")
        self.assertTrue(secret.value == "UAMISECRET", "uami-only is not the demo value")

    def test_identity_outside_the_grant_is_unavailable(self):
        # IMDS's own 400 "Identity not found", in each protocol's shape: the
        # SDK reports the source as unavailable (a chain would move on).
        with self.app_service_mode(self.keys["alpha"]), self.no_emulator_request(), self.answers("alpha", 400):
            with self.assertRaises(CredentialUnavailableError) as caught:
                ManagedIdentityCredential(client_id=USER_CLIENT_ID).get_token(SCOPE)
        self.assertIn("Identity not found", str(caught.exception))
        with self.imds_mode(), self.no_emulator_request(), self.answers("anonymous", 400):
            with self.assertRaises(CredentialUnavailableError) as caught:
                ManagedIdentityCredential(client_id=USER_CLIENT_ID).get_token(SCOPE)
        self.assertIn("Identity not found", str(caught.exception))

    def test_audience_outside_the_grant_is_refused_naming_the_rule(self):
        with self.imds_mode(), self.no_emulator_request(), self.answers("anonymous", 400):
            with self.assertRaises(CredentialUnavailableError) as caught:
                ManagedIdentityCredential().get_token("https://management.azure.com/.default")
        self.assertIn("rule `resources`", str(caught.exception))

    def test_wrong_key_is_refused(self):
        refused = 'azmi_serve_refused_total{reason="identity_header"}'
        before = self.metrics().get(refused, 0)
        with self.app_service_mode(secrets.token_hex(32)), self.no_emulator_request():
            with self.assertRaises(CredentialUnavailableError) as caught:
                ManagedIdentityCredential().get_token(SCOPE)
        self.assertIn("401", str(caught.exception))
        self.assertEqual(self.metrics().get(refused, 0) - before, 1, "the broker's refusals of a key")

    def test_cold_start_of_many_processes_is_one_upstream_request(self):
        resource = STORAGE_SCOPE.removesuffix("/.default")
        self.assertEqual(imds_token_requests(resource), 0, "not a cold start: storage was asked for before")
        upstream = self.metrics()["azmi_upstream_requests_total"]
        env = {name: value for name, value in os.environ.items() if name not in SOURCE_VARIABLES + PROXY_VARIABLES}
        env.update(NO_PROXY="*", no_proxy="*", AZURE_POD_IDENTITY_AUTHORITY_HOST=self.url)
        ready_read, ready = os.pipe()
        go, go_write = os.pipe()
        unclosed = {ready_read, ready, go, go_write}

        def close(fd):
            unclosed.discard(fd)
            os.close(fd)

        children = []
        try:
            for _ in range(COLD_START_PROCESSES):
                children.append(
                    subprocess.Popen(
                        [sys.executable, "-I", "-c", COLD_START, str(ready), str(go), STORAGE_SCOPE, SYSTEM_CLIENT_ID],
                        env=env,
                        pass_fds=(ready, go),
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                    )
                )
            close(ready)
            close(go)
            deadline = time.monotonic() + COLD_START_SECONDS
            # Every process has its credential (or has died: then the pipe
            # ends early); closing GO then releases them all at once.
            started = 0
            while started < COLD_START_PROCESSES and time.monotonic() < deadline:
                if select.select([ready_read], [], [], max(deadline - time.monotonic(), 0))[0]:
                    got = os.read(ready_read, COLD_START_PROCESSES)
                    if not got:
                        break
                    started += len(got)
            close(go_write)
            failures = []
            for child in children:
                try:
                    _, err = child.communicate(timeout=max(deadline - time.monotonic(), 0.1))
                except subprocess.TimeoutExpired:
                    failures.append(f"still running after {COLD_START_SECONDS} s")
                    continue
                if child.returncode != 0:
                    failures.append(f"exit {child.returncode}: {err.decode(errors='replace').strip()[-500:]}")
        finally:
            for fd in list(unclosed):
                close(fd)
            for child in children:
                stop(child)
        self.assertEqual(started, COLD_START_PROCESSES, "processes that made their credential")
        self.assertFalse(failures, f"{len(failures)} of {COLD_START_PROCESSES} got no good token: {sorted(set(failures))}")
        self.assertEqual(imds_token_requests(resource), 1, "the emulator's token requests for storage")
        self.assertEqual(self.metrics()["azmi_upstream_requests_total"] - upstream, 1, "the broker's upstream requests")


if __name__ == "__main__":
    unittest.main(verbosity=2)
