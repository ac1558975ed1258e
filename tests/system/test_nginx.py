"""The nginx configuration of ``docs/operations.md``, as written there, in front of a real server
(issue 15, M5): the console's live connection, phone photos, the app's JSON 413 and the
client's address in the audit log all pass through it.

The block is read from the document, so the two cannot drift apart. The test changes only what
must differ on a test machine: the listening port, the upstream addresses and the certificate
paths (a self-signed certificate made here with ``openssl``). nginx runs as a child process
with its own prefix, pid file and logs in a temporary folder.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import ssl
import struct
import subprocess
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets
from sqlalchemy import select

from tests.conftest import free_port
from tests.factories import PASSWORD, bearer, make_county_with_two_towns
from yingji.core.audit import AuditEntry
from yingji.core.db import Database

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
OPENSSL = shutil.which("openssl")
#: the address the test's client connects from: not nginx's own (127.0.0.1), so the audit log
#: shows whose address came through
CLIENT_ADDRESS = "127.0.0.2"

pytestmark = pytest.mark.skipif(
    NGINX is None or OPENSSL is None,
    reason="nginx (or openssl, for its certificate) is not installed: "
    "apt-get install nginx-light openssl (.ci/run installs both)",
)


def documented_block() -> str:
    """The one ``nginx`` block of docs/operations.md."""
    text = (ROOT / "docs/operations.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```nginx\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) == 1, "docs/operations.md should hold exactly one nginx block"
    return blocks[0]


def adapted(block: str, *, listen: int, upstream: str, certificate: Path, key: Path) -> str:
    """The documented block with this machine's ports, upstream and certificate: nothing else."""
    changed, listens = re.subn(r"listen 443 ssl", f"listen 127.0.0.1:{listen} ssl", block)
    assert listens == 1, "the documented block listens on 443 with TLS"
    changed, servers = re.subn(r"server 127\.0\.0\.1:80\d\d;", f"server {upstream};", changed)
    assert servers >= 1, "the documented upstream names its app servers"
    changed = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {certificate};", changed)
    changed = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", changed)
    return changed


@dataclass
class Proxy:
    base: str
    origin: str
    host: str
    log: Path


@pytest.fixture
def proxy(live_server: str, tmp_path: Path) -> Iterator[Proxy]:
    assert NGINX is not None and OPENSSL is not None
    prefix = tmp_path / "nginx"
    for folder in ("logs", "temp/body", "temp/proxy", "temp/fastcgi", "temp/uwsgi", "temp/scgi"):
        (prefix / folder).mkdir(parents=True)
    certificate, key = prefix / "yingji.crt", prefix / "yingji.key"
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(certificate)],
        check=True,
        capture_output=True,
    )
    port = free_port()
    block = adapted(
        documented_block(), listen=port, upstream=live_server, certificate=certificate, key=key
    )
    temp = prefix / "temp"
    (prefix / "nginx.conf").write_text(
        f"""daemon off;
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log info;
events {{ worker_connections 64; }}
http {{
  access_log {prefix}/logs/access.log;
  client_body_temp_path {temp}/body;
  proxy_temp_path {temp}/proxy;
  fastcgi_temp_path {temp}/fastcgi;
  uwsgi_temp_path {temp}/uwsgi;
  scgi_temp_path {temp}/scgi;
{block}
}}
"""
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", "stderr"],
        stdout=subprocess.DEVNULL,
        stderr=(prefix / "logs/stderr.log").open("w"),
    )
    try:
        _wait_for_port(port, process, prefix)
        yield Proxy(
            base=f"https://127.0.0.1:{port}",
            origin=f"https://127.0.0.1:{port}",
            host=f"127.0.0.1:{port}",
            log=prefix / "logs",
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], prefix: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            logs = "".join(p.read_text() for p in (prefix / "logs").glob("*.log"))
            pytest.fail(f"nginx did not start:\n{logs}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail("nginx did not listen")


def no_verify() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@pytest.fixture
async def browser(proxy: Proxy) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client as a browser on another machine would be: through nginx, over TLS."""
    transport = httpx.AsyncHTTPTransport(verify=no_verify(), local_address=CLIENT_ADDRESS)
    async with httpx.AsyncClient(transport=transport, base_url=proxy.base, timeout=30) as c:
        yield c


def png_of_size(size: int) -> bytes:
    """A valid PNG of about ``size`` bytes (incompressible pixels, stored uncompressed)."""
    width = 1024
    height = size // (width * 3 + 1) + 1
    row = bytes(range(256)) * (width * 3 // 256)
    raw = b"".join(b"\x00" + row for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 0))
        + chunk(b"IEND", b"")
    )


async def test_a_signed_in_browser_s_live_connection_passes_through_nginx(
    proxy: Proxy, browser: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    signed_in = await browser.post(
        "/api/v1/auth/login", json={"username": "county", "password": PASSWORD}
    )
    assert signed_in.status_code == 200, signed_in.text
    cookie = f"yingji_session={browser.cookies['yingji_session']}"
    async with websockets.connect(
        f"wss://{proxy.host}/ws",
        ssl=no_verify(),
        additional_headers={"Cookie": cookie, "Origin": proxy.origin},
    ) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert hello["type"] == "hello"
    with pytest.raises(websockets.InvalidStatus) as refused:  # another site's page: refused
        async with websockets.connect(
            f"wss://{proxy.host}/ws",
            ssl=no_verify(),
            additional_headers={"Cookie": cookie, "Origin": "https://evil.example"},
        ):
            pass
    assert refused.value.response.status_code == 403


async def test_a_phone_photo_passes_through_nginx(browser: httpx.AsyncClient, db: Database) -> None:
    await make_county_with_two_towns(db)
    officer = await bearer(browser, "county")
    created = await browser.post(
        "/api/v1/intake/reports",
        headers=officer,
        json={"channel": "hotline_119", "external_id": "119-nginx", "text": "路边树倒了"},
    )
    assert created.status_code == 201, created.text
    photo = png_of_size(5 * 1024 * 1024)
    uploaded = await browser.post(
        f"/api/v1/intake/reports/{created.json()['report_id']}/attachments",
        headers=officer,
        files={"file": ("photo.png", photo, "image/png")},
    )
    assert uploaded.status_code == 201, uploaded.text[:500]
    assert uploaded.json()["size"] == len(photo)


async def test_an_oversized_body_gets_the_app_s_json_413_through_nginx(
    proxy: Proxy, browser: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(browser, "admin")
    too_large = await browser.post(
        "/api/v1/units",
        headers={**admin, "Content-Type": "application/json"},
        content=b"[" + b" " * (2 * 1024 * 1024) + b"]",
    )
    assert too_large.status_code == 413
    assert too_large.headers["content-type"] == "application/json"
    assert too_large.json()["error"]["code"] == "payload_too_large"
    assert too_large.json()["error"]["details"] == {"max_bytes": 1024 * 1024}
    # beyond what nginx lets through, nginx answers: in the same envelope, not an HTML page
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", int(proxy.host.rsplit(":", 1)[1]), ssl=no_verify()
    )
    writer.write(
        b"POST /api/v1/intake/reports HTTP/1.1\r\nHost: " + proxy.host.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n"
    )
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(4096), 10)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body)["error"]["code"] == "payload_too_large"


async def test_the_client_s_address_reaches_the_audit_log_through_nginx(
    browser: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    admin = await bearer(browser, "admin")
    created = await browser.post(
        "/api/v1/units",
        headers={**admin, "X-Forwarded-For": "203.0.113.66"},  # a client's claim: not believed
        json={
            "code": "NGX",
            "name": "经代理创建",
            "kind": "department",
            "tier": 1,
            "division_adcode": "331126",
        },
    )
    assert created.status_code == 201, created.text
    async with db.unit_of_work(readonly=True) as session:
        ip = await session.scalar(
            select(AuditEntry.ip).where(AuditEntry.action == "org.unit.created")
        )
    assert ip == CLIENT_ADDRESS
