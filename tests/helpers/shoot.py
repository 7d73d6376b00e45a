"""Screenshot of the page: `python tests/helpers/shoot.py HOME OUT.png [WIDTH HEIGHT] [QUERY]`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from webserver import WebServer, launch_chromium  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402


def main():
    home, out = Path(sys.argv[1]), sys.argv[2]
    width = int(sys.argv[3]) if len(sys.argv) > 3 else 1280
    height = int(sys.argv[4]) if len(sys.argv) > 4 else 800
    query = sys.argv[5] if len(sys.argv) > 5 else ""
    server = WebServer(home)
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(server.login)
            page.wait_for_selector("#rows tr")
            if query:
                page.goto(server.base + "/" + query)
                page.wait_for_selector("#rows tr")
            page.wait_for_selector("#bars .bar")
            page.wait_for_timeout(300)
            page.screenshot(path=out)
            browser.close()
    finally:
        server.stop()
    print(server.text())


if __name__ == "__main__":
    main()
