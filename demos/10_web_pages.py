"""10 · The web pages: the chat page and the avatar kiosk, driven in a headless browser.

Starts ``attune serve`` on a free loopback port (what ``make run`` starts), opens the chat page
in Chromium, types a message the way a person would, and prints what the page shows: the reply
and, from the inspector, the fused emotion and the chosen strategy. Then it opens the kiosk and
reports the avatar it draws. Screenshots go to ``--out`` (default: a temporary folder).

Needs Playwright's Python package and a Chromium (``make test`` installs Debian's); without a
browser, run ``attune serve`` and open http://127.0.0.1:8765/ and /kiosk yourself.

    python demos/10_web_pages.py [--out FOLDER] [--chromium /usr/bin/chromium]
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(url: str, server: subprocess.Popen) -> None:
    for _ in range(240):  # the models load first
        if server.poll() is not None:
            raise SystemExit("attune serve exited")
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("attune serve did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="folder for the screenshots")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        raise SystemExit("this demo needs playwright: pip install playwright") from None
    if not Path(args.chromium).exists():
        raise SystemExit(f"no Chromium at {args.chromium} (apt-get install chromium)")

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as state:
        out = args.out or Path(state) / "screenshots"
        out.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "ATTUNE_PATHS__STATE_DIR": state}
        server = subprocess.Popen(
            [sys.executable, "-m", "attune.cli", "serve", "--port", str(port)], env=env
        )
        try:
            _wait_until_up(url, server)
            print(f"serving {url}/ and {url}/kiosk")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=args.chromium,
                    headless=True,
                    args=[
                        "--no-sandbox",
                        "--disable-background-networking",
                        "--disable-component-update",
                        "--no-first-run",
                        "--autoplay-policy=no-user-gesture-required",
                    ],
                )
                page = browser.new_page(viewport={"width": 1280, "height": 1100})
                page.goto(url + "/")
                body = page.locator("body")
                expect(body).to_have_attribute("data-state", "idle", timeout=60_000)
                box = page.get_by_label("Message", exact=True)
                box.fill("My best friend moved away and I feel so lonely.")
                box.press("Enter")
                reply = page.locator("li.msg-bot").last
                expect(reply).to_have_attribute("data-status", "done", timeout=180_000)
                print("reply:", reply.locator(".bubble-text").inner_text().strip())
                reply.locator("details.inspector summary").click()
                affect = reply.locator('[data-section="affect"]')
                print("fused:", affect.locator(".insp-lead").first.inner_text().strip())
                print("why:", affect.locator(".explanation").inner_text().strip())
                strategy = reply.locator('[data-section="strategy"]')
                print("strategy:", strategy.locator(".insp-lead strong").inner_text().strip())
                page.screenshot(path=str(out / "chat.png"))

                kiosk = browser.new_page(viewport={"width": 1280, "height": 860})
                kiosk.goto(url + "/kiosk")
                expect(kiosk.locator("body")).to_have_attribute(
                    "data-avatar", "portrait", timeout=60_000
                )
                print("kiosk avatar:", kiosk.locator("body").get_attribute("data-avatar"))
                print("kiosk state:", kiosk.locator("body").get_attribute("data-state"))
                kiosk.screenshot(path=str(out / "kiosk.png"))
                browser.close()
            print("screenshots:", ", ".join(sorted(p.name for p in out.glob("*.png"))))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
