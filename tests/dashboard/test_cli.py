"""``cognirace replay --open`` and the demo point at the race's dashboard."""

from __future__ import annotations

import io

from rich.console import Console

from cognirace.cli.replay_cmd import dashboard_url, open_dashboard


def test_the_dashboard_url_opens_the_race_directly() -> None:
    assert dashboard_url("http://127.0.0.1:8005/", "cota R2/x") == \
        "http://127.0.0.1:8005/dashboard?race=cota%20R2%2Fx"


def test_open_prints_the_url_and_opens_it_or_says_how() -> None:
    opened: list[str] = []
    out = io.StringIO()
    page = open_dashboard("http://127.0.0.1:8005", "barber-R1", Console(file=out),
                          opener=lambda url: opened.append(url) or True)
    assert opened == [page] and page in out.getvalue()
    out = io.StringIO()
    open_dashboard("http://127.0.0.1:8005", "barber-R1", Console(file=out, width=200),
                   opener=lambda url: False)
    assert "open the URL above yourself" in out.getvalue()
