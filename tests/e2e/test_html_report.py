"""e2e: ``simulate --html``, rendered by a real headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from shopctl.simulation.html import FLOWS_COLOUR, PAID_COLOUR, PERCENTILE_COLOURS
from tests.database import required_program
from tests.e2e.conftest import Shopctl


def chromium() -> str:
    """Debian's chromium (``make test`` installs it where it can)."""
    return required_program(
        shutil.which("chromium") or shutil.which("chromium-browser"),
        "chromium is not installed (apt-get install chromium): no HTML rendering test",
    )


def screenshot(page: Path, picture: Path) -> None:
    """``page`` as headless Chromium draws it, with every host name unresolvable: a page
    that needed the network would miss what it fetched."""
    subprocess.run(
        [
            chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--host-resolver-rules=MAP * ~NOTFOUND", "--window-size=1200,3000",
            f"--screenshot={picture}", page.as_uri(),
        ],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


def pixels_of(picture: Path, colour: str) -> int:
    """How many pixels of ``picture`` are ``colour`` (#rrggbb, within a little antialiasing)."""
    import matplotlib.image
    import numpy

    image = matplotlib.image.imread(str(picture))[:, :, :3]
    wanted = numpy.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((numpy.abs(image - wanted).max(axis=2) < 0.04).sum())


@pytest.mark.direct_only
def test_the_html_report_draws_its_charts_offline(
    shopctl: Shopctl, admin: str, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    result = shopctl(
        "simulate", "--duration", "3s", "--concurrency", "2", "--decline-rate", "0.2",
        "--cancel-rate", "0.2", "--threshold", "pay.p95<5s", "--html", str(page),
        profile=admin,
    )  # fmt: skip
    assert result.exit_code == 0, result
    text = page.read_text()
    # self-contained: nothing to load, nothing to run
    assert not re.search(r"<script|<link|<img|<iframe|\bsrc=|url\((?!#)", text, re.IGNORECASE)
    assert not re.search(r'href="(?!#)', text)
    for heading in ("Throughput", "Latency per step", "Outcomes", "Thresholds", "Audit"):
        assert f"<h2>{heading}" in text
    assert "pay.p95&lt;5s" in text and "held" in text
    assert text.count("<svg") == 2
    picture = tmp_path / "report.png"
    screenshot(page, picture)
    drawn = {
        name: pixels_of(picture, colour)
        for name, colour in {
            "flows": FLOWS_COLOUR, "paid": PAID_COLOUR, **PERCENTILE_COLOURS
        }.items()
    }  # fmt: skip
    assert all(count > 200 for count in drawn.values()), drawn  # every line was drawn


def test_html_to_an_unwritable_place_is_exit_2_before_the_run(
    shopctl: Shopctl, admin: str, tmp_path: Path
) -> None:
    result = shopctl(
        "simulate", "--orders", "5", "--html", str(tmp_path / "missing" / "r.html"),
        profile=admin,
    )  # fmt: skip
    assert result.exit_code == 2, result
    assert "cannot write" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert shopctl("products", "list", "--search", "SIM-", "--json").json() == []
