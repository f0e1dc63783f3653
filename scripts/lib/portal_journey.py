"""The portal's 无房证明 journey as a resident takes it, over HTTP against a running server, with
the standard library only (it runs on a machine where nothing but Python is installed):

    python3 scripts/lib/portal_journey.py http://127.0.0.1:8000 OUT_FOLDER

Signs demo resident 刘佳国 in through the development identity provider's form, asks the portal
(市民服务) for a 无房证明 (preview, then confirm), downloads the PDF from 我的电子证明, and gets
the same certificate again through the JSON API as README's tour does. Writes the two PDFs to
OUT_FOLDER and exits 1 at the first step that does not answer as a resident would expect.
"""

from __future__ import annotations

import html
import http.cookiejar
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

NAME, ID_NUMBER = "刘佳国", "330703199006228351"


class JourneyFailed(Exception):
    pass


def main() -> None:
    base, out = sys.argv[1].rstrip("/"), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    try:
        (out / "portal.pdf").write_bytes(portal_journey(base))
        print("portal: 无房证明 issued and downloaded as a PDF")
        (out / "api.pdf").write_bytes(api_journey(base))
        print("API: 无房证明 issued and downloaded as a PDF")
    except JourneyFailed as failed:
        print(f"journey failed: {failed}", file=sys.stderr)
        sys.exit(1)


def portal_journey(base: str) -> bytes:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    _call(opener, "POST", f"{base}/dev-idp/login", form={"name": NAME, "id_number": ID_NUMBER, "next": "/portal"})
    home = _call(opener, "GET", f"{base}/portal").decode("utf-8")
    form = {"csrf_token": _form_token(home), "proof": "NO_HOUSING", "purpose": "申请公租房"}
    preview = _call(opener, "POST", f"{base}/portal/certificates", form=form).decode("utf-8")
    if "无房证明" not in preview:
        raise JourneyFailed("the preview does not name 无房证明")
    listing = _call(opener, "POST", f"{base}/portal/certificates", form=_confirming_form(preview)).decode("utf-8")
    links = re.findall(r'href="([^"]+\.pdf)"', listing)
    if not links:
        raise JourneyFailed("我的电子证明 lists no PDF")
    return _pdf(_call(opener, "GET", urllib.parse.urljoin(base, links[0]), expect_type="application/pdf"))


def api_journey(base: str) -> bytes:
    opener = urllib.request.build_opener()
    token = json.loads(_call(opener, "POST", f"{base}/dev-idp/token", json_body={"name": NAME, "id_number": ID_NUMBER}))
    holder = {"Authorization": f"Bearer {token['assertion']}"}
    issued = json.loads(_call(opener, "POST", f"{base}/api/v1/me/certificates", headers=holder,
                              json_body={"proof": "NO_HOUSING", "purpose": "申请公租房"}))
    return _pdf(_call(opener, "GET", base + issued["links"]["pdf"], headers=holder, expect_type="application/pdf"))


def _confirming_form(preview: str) -> dict[str, str]:
    """What 确认开具 submits: the hidden fields of the preview's form, as a browser sends them."""
    form = re.search(r'<form[^>]*action="/portal/certificates"[^>]*>(.*?)</form>', preview, re.S)
    if form is None:
        raise JourneyFailed("the preview has no form to confirm")
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(1)))
    if fields.get("confirmed") != "1":
        raise JourneyFailed("the preview's form does not confirm")
    return {name: html.unescape(value) for name, value in fields.items()}


def _form_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if found is None:
        raise JourneyFailed("the page has no form token (not signed in?)")
    return found.group(1)


def _pdf(body: bytes) -> bytes:
    if not body.startswith(b"%PDF-"):
        raise JourneyFailed("the download is not a PDF")
    return body


def _call(opener: urllib.request.OpenerDirector, method: str, url: str, *, form: dict[str, str] | None = None,
          json_body: dict[str, str] | None = None, headers: dict[str, str] | None = None,
          expect_type: str | None = None) -> bytes:
    data, all_headers = None, dict(headers or {})
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif json_body is not None:
        data = json.dumps(json_body).encode()
        all_headers["Content-Type"] = "application/json"
    try:
        with opener.open(urllib.request.Request(url, data=data, headers=all_headers, method=method), timeout=120) as answer:
            body, content_type = answer.read(), answer.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        raise JourneyFailed(f"{method} {url} answered {error.code}: {error.read()[:500]!r}") from None
    if expect_type is not None and not content_type.startswith(expect_type):
        raise JourneyFailed(f"{method} {url} answered {content_type}, not {expect_type}")
    return body


if __name__ == "__main__":
    main()
