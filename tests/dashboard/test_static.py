"""The dashboard's files: vendored libraries match their manifest, nothing points off the
machine, and the page allows no inline script."""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from pathlib import Path

from cognirace.api.app import create_app
from cognirace.api.routes_dashboard import static_dir
from cognirace.api.settings import ServeSettings
from cognirace.api.store import ModelStore

with warnings.catch_warnings():  # Starlette's notice about its httpx-based client
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

URL = re.compile(r"\b(?:https?|wss?)://[^\s\"'`)<>]+")
LOOPBACK = re.compile(r"^(?:https?|wss?)://(?:127\.0\.0\.1|localhost|\[::1\])(?::\d+)?(?:/|$)")
NAMESPACES = ("http://www.w3.org/2000/svg",)
"""XML namespace names: identifiers a browser never fetches."""
MAX_OWN_JS_LINES = 1500
"""Past this, the page moves to Preact with htm."""


def _without_comments(text: str) -> str:
    """JavaScript or CSS with its comments blanked (strings and template literals kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        two = text[i:i + 2]
        if two == "/*":
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif two == "//" and (i == 0 or text[i - 1] != ":"):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text[i] in "'\"`":
            quote, j = text[i], i + 1
            while j < n and text[j] != quote:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def test_vendored_files_match_their_manifest_and_carry_their_licence() -> None:
    vendor = static_dir() / "vendor"
    manifest = json.loads((vendor / "MANIFEST.json").read_text())
    listed = set()
    for name, library in manifest.items():
        assert (vendor / library["licence_file"]).read_text().strip(), name
        assert library["package"].startswith("npm:")
        for path, digest in library["sha256"].items():
            assert hashlib.sha256((vendor / path).read_bytes()).hexdigest() == digest, path
            listed.add(path)
    present = {str(p.relative_to(vendor)) for p in vendor.rglob("*")
               if p.is_file() and p.name != "MANIFEST.json"}
    assert present == listed  # nothing vendored unlisted


def test_no_file_points_to_another_host() -> None:
    found = []
    for path in static_dir().rglob("*"):
        if not path.is_file() or path.suffix not in (".js", ".css", ".html", ".json", ".svg"):
            continue
        text = path.read_text(encoding="utf-8")
        code = _without_comments(text) if path.suffix in (".js", ".css") else text
        for url in URL.findall(code):
            if not LOOPBACK.match(url) and url not in NAMESPACES:
                found.append(f"{path.relative_to(static_dir())}: {url}")
    assert found == []


def test_the_url_check_sees_a_url_in_code_but_not_in_a_comment() -> None:
    code = 'const a = "https://cdn.example.com/x.js"; // https://example.org/why\n/* http://x.y */'
    assert URL.findall(_without_comments(code)) == ["https://cdn.example.com/x.js"]


def test_our_own_scripts_stay_small_enough_for_plain_modules() -> None:
    lines = sum(len(p.read_text().splitlines()) for p in (static_dir() / "js").glob("*.js"))
    assert 0 < lines <= MAX_OWN_JS_LINES


def test_the_page_has_a_csp_without_inline_script(tmp_path: Path) -> None:
    settings = ServeSettings(registry_url=str(tmp_path / "registry"),
                             model_cache_dir=tmp_path / "cache")
    store = ModelStore.open(settings.registry_url, settings.model_cache_dir)
    with TestClient(create_app(settings, store=store)) as client:
        page = client.get("/dashboard")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert re.search(r"<script(?![^>]*\bsrc=)", page.text) is None  # no inline script
        assert client.get("/").json()["links"]["dashboard"] == "/dashboard"
        module = client.get("/dashboard/static/js/app.js")
        assert module.status_code == 200 and "javascript" in module.headers["content-type"]
