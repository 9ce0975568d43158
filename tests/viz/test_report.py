"""``fastrl report``: one self-contained page, checked in a real headless Chromium where Debian's is installed."""

from __future__ import annotations

import re
import shutil
import time

import pytest

from fastrl.cli import main

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def catch_report(catch_run, tmp_path_factory):
    page = tmp_path_factory.mktemp("report") / "catch.html"
    assert main(["report", str(catch_run), "--out", str(page), "--states", "40", "--video-steps", "30"]) == 0
    return page


def test_the_page_is_self_contained_and_holds_every_part(catch_report):
    text = catch_report.read_text()
    assert not re.search(r"""(src|href)=["'](?!data:)""", text)  # nothing loaded from elsewhere
    assert text.count("data:video/mp4;base64,") == 1
    assert text.count("data:image/png;base64,") == 7  # 3 curves, saliency, t-SNE, filters, heat map
    for part in ("git sha", "Config", "&quot;preset&quot;: &quot;dqn-catch&quot;", "evaluations&#x27; mean ± std"):
        assert part in text, part


def test_a_run_without_checkpoint_is_refused_in_one_line_unless_no_agent(catch_run, tmp_path, capsys):
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "meta.json", "metrics.jsonl", "episodes.jsonl"):
        (bare / name).write_bytes((catch_run / name).read_bytes())
    assert main(["report", str(bare)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fastrl report: error: no checkpoint in") and "\n" not in err
    assert main(["report", str(bare), "--no-agent"]) == 0
    text = (bare / "report.html").read_text()
    assert "data:video/mp4" not in text and text.count("data:image/png;base64,") == 3
    assert main(["report", str(bare), "--out", str(bare / "page.txt"), "--no-agent"]) == 2
    assert "expected a path ending in .html" in capsys.readouterr().err


@pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                    reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)")
def test_chromium_plays_the_video_and_loads_every_image(catch_report, tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the dev extra)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required",
                 "--window-size=1200,2400"):
        options.add_argument(flag)
    browser = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    try:
        browser.get(catch_report.as_uri())
        images = browser.execute_script(
            "return [...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight]);")
        assert len(images) == 7 and all(done and w > 100 and h > 100 for done, w, h in images), images
        deadline, played = time.monotonic() + 20, 0.0
        while time.monotonic() < deadline and played <= 0.2:
            played = browser.execute_script(
                "const v = document.querySelector('video'); if (v.paused) v.play(); return v.currentTime;")
            time.sleep(0.2)
        error = browser.execute_script("const v = document.querySelector('video'); return v.error && v.error.code;")
        assert error is None and played > 0.2, (error, played)
        width = browser.execute_script("return document.querySelector('video').videoWidth;")
        assert width > 0
        assert browser.save_screenshot(str(tmp_path / "report.png"))
        assert (tmp_path / "report.png").stat().st_size > 10_000
    finally:
        browser.quit()
