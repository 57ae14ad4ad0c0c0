"""The web page in a real headless Chromium (Debian's ``chromium``, driven by Playwright): upload the example,
see the overlay, and see the 3D viewer draw the mesh. The screenshot lands in the test's tmp dir."""
import io
import shutil
from urllib.parse import urlparse

import numpy as np
import pytest

from .conftest import EXAMPLE

sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright (pip install playwright)")
PIL = pytest.importorskip("PIL.Image")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    with sync_api.sync_playwright() as p:
        # WebGL on the CPU: Chromium's SwiftShader, since CI has no GPU
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox",
                                    # a synthetic camera (a test pattern), allowed without a prompt
                                    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
        yield b
        b.close()


def changed_fraction(png: bytes) -> float:
    """Share of the pixels that differ from the image's most common colour (the viewer's background)."""
    img = np.asarray(PIL.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    colors, counts = np.unique(img, axis=0, return_counts=True)
    background = colors[np.argmax(counts)]
    return float((np.abs(img.astype(int) - background).sum(1) > 24).mean())


def test_upload_shows_overlay_and_mesh(browser, live_url, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    hosts, errors = set(), []
    # data: and blob: URLs (the overlays, the GLB) have no host; every fetch over the network must stay here
    page.on("request", lambda req: urlparse(req.url).scheme in ("http", "https", "ws", "wss")
            and hosts.add(urlparse(req.url).hostname))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live_url + "/")
    assert page.locator("#results").is_hidden()  # until an image is aligned
    page.set_input_files("#file", str(EXAMPLE))
    # the overlay: a decoded image of the example's size
    page.wait_for_function("() => { const i = document.getElementById('overlay');"
                           " return i.complete && i.naturalWidth === 512; }", timeout=120_000)
    assert "face" in page.locator("#message").inner_text()
    # the viewer: model-viewer reports the GLB loaded, then its canvas is drawn
    page.wait_for_function("() => document.getElementById('viewer').loaded === true", timeout=120_000)
    page.wait_for_timeout(1500)  # let the first frames render
    canvas = page.locator("#viewer canvas:visible").first  # Playwright reaches into the shadow DOM
    assert canvas.is_visible()
    shot = canvas.screenshot(path=str(tmp_path / "serve_viewer.png"))
    assert changed_fraction(shot) > 0.01, "the 3D viewer's canvas is blank"  # a face alone covers ~4 %
    # the switcher swaps the overlay; the timing table is filled
    before = page.get_attribute("#overlay", "src")
    page.click("#kinds button[data-kind='depth']")
    assert page.get_attribute("#overlay", "src") != before
    page.click("#kinds button[data-kind='2d_sparse']")
    assert "align" in page.locator("#timing").inner_text()
    # a mesh download re-sends the image to /v1/mesh
    with page.expect_download(timeout=120_000) as download:
        page.click("button[data-mesh='ply']")
    ply = tmp_path / "face.ply"
    download.value.save_as(ply)
    assert ply.read_bytes().startswith(b"ply\n")
    page.screenshot(path=str(tmp_path / "serve_page.png"), full_page=True)
    assert hosts == {"127.0.0.1"}, f"the page fetched from elsewhere: {hosts}"
    assert not errors, errors
    page.close()


def test_webcam_snapshot_is_sent_and_its_error_shown(browser, live_url):
    """Chromium's fake camera shows a test pattern: the snapshot reaches the server (which should find no face in
    it; a detector that does is answered with results) and the page shows the answer."""
    page = browser.new_page()
    page.goto(live_url + "/")
    page.click("#webcam-start")
    page.wait_for_function("() => document.getElementById('video').videoWidth > 0", timeout=30_000)
    with page.expect_response(lambda r: r.url.endswith("/v1/analyze"), timeout=120_000) as response:
        page.click("#snap")
    if response.value.status == 200:
        page.wait_for_function("() => !document.getElementById('results').hidden")
    else:
        assert response.value.status == 422 and response.value.json()["error"] == "no_face"
        page.wait_for_function("() => document.getElementById('message').classList.contains('error')")
    assert "webcam.jpg" in page.locator("#message").inner_text()
    page.click("#webcam-stop")
    assert page.locator("#webcam").is_hidden()
    page.close()
