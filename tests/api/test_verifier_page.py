"""The public verifier page (电子证明核验) in headless Chromium, as a bank clerk uses it: a 无房证明
shows VALID as a PDF, a pasted credential and a pasted QR payload; a tampered PDF shows INVALID;
after the issuing department revokes it, all three show REVOKED with the reason; bad input is
refused with a Chinese message and status 400."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from api.database import standalone_session
from api.holder_input import HOLDER_ID_NUMBER_INVALID_ZH
from api.settings import Settings
from catalog.city_time import BEIJING
from catalog.versions import read_live_catalog
from exchange.clients import ClientScope, register_client
from demo.data import DemoResident, sample_residents
from tests.support.pdf_tools import page_texts


@pytest.fixture
def resident(settings: Settings) -> DemoResident:
    return sample_residents(settings.sources_dir, 1)[0]


def issued(base: str, person: DemoResident) -> dict:
    """A 无房证明 of `person` in its three forms, issued through the API."""
    assertion = httpx.post(f"{base}/dev-idp/token", json={"name": person.name, "id_number": person.id_number})
    me = {"Authorization": f"Bearer {assertion.json()['assertion']}"}
    response = httpx.post(f"{base}/api/v1/me/certificates", headers=me, timeout=30,
                          json={"proof": "NO_HOUSING", "purpose": "银行开户"})
    assert response.status_code == 201, response.text
    certificate = response.json()
    forms = {kind: httpx.get(base + link, headers=me).content for kind, link in certificate["links"].items()}
    return {**certificate, **forms}


def tampered(pdf: bytes) -> bytes:
    """The PDF with one byte of its first content stream flipped."""
    start = pdf.index(b"stream", pdf.index(b"/Contents")) + len(b"stream\n") + 10
    return pdf[:start] + bytes([pdf[start] ^ 0x01]) + pdf[start + 1:]


def submit(page: Page, base: str, *, pdf: bytes | None = None, credential: str = "", qr: str = "",
           id_number: str = "") -> int:
    """Fill the verifier form as a person does and submit it; the response status."""
    page.goto(f"{base}/verify")
    if pdf is not None:
        page.set_input_files("#pdf", files=[{"name": "证明.pdf", "mimeType": "application/pdf", "buffer": pdf}])
    page.fill("#credential", credential)
    page.fill("#qr", qr)
    page.fill("#id_number", id_number)
    with page.expect_navigation() as navigation:
        page.click("form.verify-form button[type=submit]")
    response = navigation.value
    assert response is not None
    return response.status


def shown_checks(page: Page) -> dict[str, str]:
    rows = page.locator("#checks tbody tr")
    return {rows.nth(i).locator("th").inner_text(): rows.nth(i).locator("td").first.inner_text()
            for i in range(rows.count())}


def test_valid_tampered_and_revoked(browser: Browser, live_server: str, settings: Settings,
                                    resident: DemoResident, tmp_path: Path) -> None:
    certificate = issued(live_server, resident)
    page = browser.new_page()
    page.goto(live_server)
    page.click("header nav >> text=证明核验")
    assert page.locator("h1").inner_text() == "电子证明核验"

    assert submit(page, live_server, pdf=certificate["pdf"], id_number=resident.id_number) == 200
    assert page.locator("#verdict-result").inner_text() == "有效 VALID"
    checks = shown_checks(page)
    assert checks["内容完整性"] == checks["印章证书链"] == checks["证明状态（是否撤销）"] == "通过"
    assert checks["持有人核验"] == "通过"
    content = page.locator("#content").inner_text()
    masked = resident.id_number[:6] + "********" + resident.id_number[-4:]
    assert resident.name in content and masked in content and "金华市不动产登记中心" in content
    assert "无房证明" in content and "银行开户" in content and "截至时间" in content
    assert resident.id_number not in page.content()
    page.screenshot(path=str(tmp_path / "verify-valid.png"), full_page=True)
    assert page.locator("#trust h2").inner_text() == "信任本市电子印章根证书"  # the root by the name it has
    checked = re.fullmatch(r"核验时间：(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})（北京时间）",
                           page.locator("#verdict-time").inner_text())
    assert checked and abs(datetime.strptime(checked[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
                           - datetime.now(timezone.utc)) < timedelta(minutes=2)
    page.emulate_media(media="print")  # the bank keeps the printout: the verdict and when, not the empty forms
    printed = "".join(page_texts(page.pdf(format="A4"), tmp_path))
    page.emulate_media(media="screen")
    assert "有效" in printed and checked[1] in printed and resident.name in printed
    assert "核验另一份证明" not in printed and "方式一" not in printed and "信任本市电子印章根证书" not in printed

    assert submit(page, live_server, pdf=tampered(certificate["pdf"])) == 200
    assert page.locator("#verdict-result").inner_text() == "无效 INVALID"
    assert shown_checks(page)["内容完整性"] == "未通过"
    assert page.locator("#content").count() == 0
    page.screenshot(path=str(tmp_path / "verify-tampered.png"), full_page=True)

    for field, kind in (("credential", "jws"), ("qr", "qr")):
        assert submit(page, live_server, **{field: certificate[kind].decode()}) == 200
        assert page.locator("#verdict-result").inner_text() == "有效 VALID"
        assert shown_checks(page)["持有人核验"] == "未检查"
        assert resident.name in page.locator("#content").inner_text()
    page.screenshot(path=str(tmp_path / "verify-qr.png"), full_page=True)

    with standalone_session(settings.database_url) as session:
        _, token = register_client(session, read_live_catalog(session), certificate["issuer"], "证明管理系统",
                                   [ClientScope.CERTIFICATES_REVOKE])
    revoked = httpx.post(f"{live_server}/api/v1/certificates/{certificate['identifier']}/revocation",
                         headers={"Authorization": f"Bearer {token}"}, json={"reason": "data_changed"})
    assert revoked.status_code == 200, revoked.text

    for form in ({"pdf": certificate["pdf"]}, {"credential": certificate["jws"].decode()},
                 {"qr": certificate["qr"].decode()}):
        assert submit(page, live_server, **form) == 200
        assert page.locator("#verdict-result").inner_text() == "已撤销 REVOKED"
        assert "证明所依据的信息已变更" in page.locator("#verdict").inner_text()
        assert shown_checks(page)["证明状态（是否撤销）"] == "未通过"
        assert page.locator("#content").count() == 0
    page.screenshot(path=str(tmp_path / "verify-revoked.png"), full_page=True)
    page.close()


def test_bad_input_is_refused_in_chinese(browser: Browser, live_server: str, tmp_path: Path) -> None:
    page = browser.new_page()
    assert submit(page, live_server) == 400
    assert page.locator("#verify-error").inner_text() == "请上传电子证明 PDF 文件，或粘贴机读凭证、二维码内容。"

    assert submit(page, live_server, credential="这不是证明") == 400
    assert page.locator("#verify-error").inner_text().startswith("无法识别：所提供的内容不是电子证明")

    assert submit(page, live_server, credential="eyJhbGciOiJFUzI1NiJ9.e30.AAAA", qr="MZ1:AAAA") == 400
    assert "三选一" in page.locator("#verify-error").inner_text()

    too_large = b"%PDF-1.7\n" + bytes(2 * 1024 * 1024)
    assert submit(page, live_server, pdf=too_large) == 413
    assert page.locator("#verify-error").inner_text() == "提交的内容过大：电子证明 PDF 文件不超过 2 MiB。"
    page.screenshot(path=str(tmp_path / "verify-too-large.png"), full_page=True)

    page.goto(f"{live_server}/verify/licenses")  # the same file on the licenses' page: its own words, its form
    page.set_input_files("#file", files=[{"name": "证照.pdf", "mimeType": "application/pdf", "buffer": too_large}])
    with page.expect_navigation() as navigation:
        page.click("form.verify-form button[type=submit]")
    assert navigation.value is not None and navigation.value.status == 413
    assert page.locator("#verify-error").inner_text() == "提交的内容过大：电子证照或加注件的 PDF 文件不超过 2 MiB。"
    assert page.locator("form.verify-form #file").count() == 1
    page.close()


def wrapped(text: str, width: int = 60) -> str:
    """`text` broken into lines as an e-mail or a chat window wraps a long paste."""
    return "\r\n".join(text[i:i + width] for i in range(0, len(text), width)) + "\n"


def test_pasted_forms_with_line_breaks_and_a_mistyped_holder_id(browser: Browser, live_server: str,
                                                                  resident: DemoResident) -> None:
    certificate = issued(live_server, resident)
    page = browser.new_page()
    for form in ({"credential": wrapped(certificate["jws"].decode())}, {"qr": wrapped(certificate["qr"].decode())}):
        assert submit(page, live_server, **form, id_number=resident.id_number) == 200
        assert page.locator("#verdict-result").inner_text() == "有效 VALID"
        assert shown_checks(page)["持有人核验"] == "通过"

    mistyped = resident.id_number[:-1] + ("0" if resident.id_number[-1] != "0" else "1")  # check digit wrong
    assert submit(page, live_server, credential=certificate["jws"].decode(), id_number=mistyped) == 400
    assert page.locator("#verify-error").inner_text() == "持有人公民身份号码格式不正确，请核对后重新输入（也可以不填）。"
    assert page.locator("#verdict").count() == 0
    assert page.locator("#credential").input_value() == certificate["jws"].decode()  # no need to paste it again
    assert page.locator("#id_number").input_value() == ""  # the number typed is not echoed
    # a screen reader is on the field at fault, which says what is wrong with it
    assert page.evaluate("document.activeElement.id") == "id_number"
    field = page.locator("#id_number")
    assert (field.get_attribute("aria-invalid"), field.get_attribute("aria-describedby")) == ("true", "id-number-error")
    page.close()

    # on a phone, with a PDF chosen: the word on the number is where the page opens, beside the field,
    # and says the file must be chosen again (a browser never fills a file field in again)
    phone = browser.new_page(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True)
    assert submit(phone, live_server, pdf=certificate["pdf"], id_number=mistyped) == 400
    beside = phone.locator("#id-number-error")
    expect(beside).to_be_in_viewport()
    assert beside.inner_text() == HOLDER_ID_NUMBER_INVALID_ZH + "所选的 PDF 文件未保留，请重新选择。"
    phone.close()

    api = httpx.post(f"{live_server}/api/v1/verify", json={"qr": certificate["qr"].decode(), "id_number": mistyped})
    assert api.status_code == 400 and api.json()["errors"][0]["pointer"] == "#/id_number"


def test_a_wrapped_address_broken_inside_an_escape_verifies(live_server: str, resident: DemoResident) -> None:
    """The QR code's address pasted from an e-mail that wrapped it, a line break falling inside one
    of its %25 or %20 escapes: the page reads the payload as the API does, not 无法读取. (It failed
    when the payload itself also holds a % followed by two hex digits, as most do.)"""
    from urllib.parse import quote

    for _ in range(8):  # one such payload, within a few issuances
        payload = issued(live_server, resident)["qr"].decode()
        if re.search(r"%[0-9A-F]{2}", payload) and re.search(r"[ %]", payload):
            break
    else:
        raise AssertionError("no payload with a % before two hex digits in 8 issuances")
    address = f"{live_server}/v#{quote(payload, safe='$*+-./:')}"
    escape = re.search(r"%(?:20|25)", address)
    assert escape is not None
    broken = address[:escape.start() + 2] + "\r\n" + address[escape.start() + 2:]
    page = httpx.post(f"{live_server}/verify", data={"qr": broken}, timeout=30)
    verdict = re.search(r'id="verdict-result"[^>]*>([^<]*)<', page.text)
    assert page.status_code == 200 and verdict is not None and verdict[1].strip() == "有效", verdict or page.status_code


def test_a_camera_that_cannot_be_used_is_explained_in_chinese(browser: Browser, live_server: str) -> None:
    """A phone whose camera the visitor did not allow (or that has none): the page says so in
    words, not with the browser's exception name, and how to go on."""
    context = browser.new_context()  # no camera permission; a barcode detector, as phones have one
    context.add_init_script("window.BarcodeDetector = function () { this.detect = async () => []; };")
    page = context.new_page()
    page.goto(f"{live_server}/verify")
    page.click("#scan-qr")
    expect(page.locator("#scan-status")).to_contain_text("请粘贴二维码内容", timeout=10_000)
    told = page.inner_text("#scan-status")
    context.close()
    assert "摄像头" in told and not re.search("[A-Za-z]", told), told


def test_a_scanned_qr_code_opens_the_verdict(browser: Browser, live_server: str, resident: DemoResident,
                                             tmp_path: Path) -> None:
    """What a phone camera does with the certificate's QR code: open the address it holds."""
    certificate = issued(live_server, resident)
    (tmp_path / "certificate.pdf").write_bytes(certificate["pdf"])
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(tmp_path / "certificate.pdf"),
                    str(tmp_path / "page")], check=True)
    [scanned] = {code.text for code in zxingcpp.read_barcodes(Image.open(tmp_path / "page.png"))}  # found once or twice
    address, _, fragment = scanned.partition("#")
    assert address == "http://127.0.0.1:8000/v"  # the installation's public URL
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{live_server}/v#{fragment}")  # the test server listens on another port
    page.wait_for_selector("#verdict")
    assert page.locator("#verdict-result").inner_text().startswith("有效")
    assert "无房证明" in page.locator("#content").inner_text()
    page.close()

    # a phone whose browser runs no script is told what to do with what the address holds
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    still = context.new_page()
    still.goto(f"{live_server}/v#{fragment}")
    assert "完整地址" in still.locator("#noscript-hint").inner_text() and "二维码内容" in still.locator("#noscript-hint").inner_text()
    still.fill("#qr", still.url)  # the address as the address bar gives it
    still.click("form.verify-form button[type=submit]")
    assert still.locator("#verdict-result").inner_text().startswith("有效")
    context.close()

    # the page's own scanner, on a phone whose camera sees the code (a canvas stands in for the
    # camera, a detector that reads what the code holds for the phone's own)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    context.add_init_script(f"""
        window.BarcodeDetector = function () {{ this.detect = async () => [{{ rawValue: {json.dumps(scanned)} }}]; }};
        navigator.mediaDevices.getUserMedia = async () => {{
            const camera = document.createElement("canvas");
            camera.getContext("2d").fillRect(0, 0, 10, 10);  // a frame, so that the video plays
            return camera.captureStream();
        }};
    """)
    phone = context.new_page()
    phone.goto(f"{live_server}/verify")
    phone.click("#scan-qr")
    expect(phone.locator("#scan-status")).to_contain_text("已读取二维码内容")
    phone.click("form.verify-form button[type=submit]")
    assert phone.locator("#verdict-result").inner_text().startswith("有效"), phone.locator("#verdict").inner_text()
    context.close()


def test_a_printed_verdict_is_legible_on_white_paper(browser: Browser, live_server: str, resident: DemoResident,
                                                       tmp_path: Path) -> None:
    """Printed on A4, as a bank files it: the site's name in ink (its red bar does not print: white
    text would vanish on the paper), and each check's result word whole, never broken over lines."""
    certificate = issued(live_server, resident)
    page = browser.new_page()
    assert submit(page, live_server, pdf=certificate["pdf"]) == 200  # no holder ID: 持有人核验 未检查
    page.emulate_media(media="print")
    brand = page.evaluate("getComputedStyle(document.querySelector('header.site .brand')).color")
    printed = page_texts(page.pdf(format="A4"), tmp_path)[0]
    page.close()
    assert brand not in ("rgb(255, 255, 255)", "rgba(255, 255, 255, 0.9)"), brand
    results = [line.split()[1] for line in printed.splitlines() if line.split()[:1] in (["持有人核验"], ["内容完整性"])]
    assert results == ["通过", "未检查"], printed


def test_the_page_says_how_to_trust_the_city_root(browser: Browser, live_server: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    root = x509.load_pem_x509_certificate(httpx.get(f"{live_server}/api/v1/trust/root.pem").content)
    page = browser.new_page()
    page.goto(f"{live_server}/verify")
    shown = page.locator("#root-fingerprint").inner_text().replace(":", "")
    assert shown == root.fingerprint(hashes.SHA256()).hex().upper()
    assert "可信" in page.locator("#trust").inner_text()
    assert page.locator("#status-updated").inner_text().startswith("20")
    page.close()


def test_a_pdf_dropped_on_the_page_is_verified(browser: Browser, live_server: str, resident: DemoResident) -> None:
    import base64

    certificate = issued(live_server, resident)
    page = browser.new_page()
    page.goto(f"{live_server}/verify")
    page.evaluate("""async (encoded) => {
      const bytes = Uint8Array.from(atob(encoded), c => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], "证明.pdf", {type: "application/pdf"}));
      const zone = document.getElementById("drop-zone");
      zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: transfer, bubbles: true, cancelable: true}));
      zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
    }""", base64.b64encode(certificate["pdf"]).decode())
    page.wait_for_selector("#verdict")
    assert page.locator("#verdict-result").inner_text().startswith("有效")
    assert "PDF 文件" in page.locator("#verdict").inner_text()
    page.close()


def _verify_upload(base: str, path: str, field: str, pdf: bytes) -> httpx.Response:
    return httpx.post(f"{base}{path}", files={field: ("证明.pdf", pdf, "application/pdf")}, timeout=60)


def test_a_damaged_file_is_called_unreadable_not_invalid(live_server: str, resident: DemoResident) -> None:
    """A genuine 无房证明 cut short (an interrupted download, a chat app's partial file): the clerk
    is told the file cannot be read and to ask for it again, not that a genuine certificate is
    invalid, and no Python error name is shown."""
    pdf = issued(live_server, resident)["pdf"]
    page = _verify_upload(live_server, "/verify", "pdf", pdf[:len(pdf) // 2]).text
    assert "无法读取" in page and "不能作为有效证明使用" not in page, page
    assert "Error" not in page and "重新发送" in page


def test_a_license_checked_on_the_certificates_page_gets_the_license_verdict(
        live_server: str, resident: DemoResident) -> None:
    """A bank clerk given a 结婚证 PDF goes to 证明核验, the page the site links everywhere: the
    genuine license is checked as a license (有效), not declared invalid; and a 无房证明 taken to
    电子证照核验 is checked as the certificate it is."""
    assertion = httpx.post(f"{live_server}/dev-idp/token",
                           json={"name": resident.name, "id_number": resident.id_number}).json()["assertion"]
    me = {"Authorization": f"Bearer {assertion}"}
    [held, *_] = httpx.get(f"{live_server}/api/v1/me/licenses", headers=me).json()
    license_pdf = httpx.get(live_server + held["links"]["pdf"], headers=me, timeout=30).content
    on_certificates = _verify_upload(live_server, "/verify", "pdf", license_pdf)
    assert on_certificates.status_code == 200 and "有效" in on_certificates.text, on_certificates.text
    assert "无效" not in on_certificates.text and held["license_name_zh"] in on_certificates.text
    certificate = issued(live_server, resident)
    on_licenses = _verify_upload(live_server, "/verify/licenses", "file", certificate["pdf"])
    assert on_licenses.status_code == 200 and "真实、有效的电子证明" in on_licenses.text, on_licenses.text
    pasted = httpx.post(f"{live_server}/verify/licenses", data={"license": certificate["jws"].decode()}, timeout=60)
    assert pasted.status_code == 200 and "真实、有效的电子证明" in pasted.text, pasted.text
