"""Errors as a person in a browser reads them: a Chinese page with what happened and where to
go next, instead of the problem document an API client gets.

`wants_html` negotiates on the Accept header: a browser navigating to a page (or to a PDF
link after its sign-in expired) lists text/html first, an API client asks for JSON or for
anything (`*/*`, curl, fetch), and gets the RFC 9457 document as before. A request that sends a
token (`Authorization`) or a JSON body comes from a program, whatever its HTTP library puts in
Accept (Java's default lists text/html first), and so does one that ranks JSON as high as HTML.
At an API address only a browser's navigation (`Sec-Fetch-Mode: navigate`: a person opening a
PDF link after their sign-in expired) is a person's: a program asking anonymously, with
whatever Accept, gets the problem document.
"""

from __future__ import annotations

from flask import Response, render_template, request

from api.addresses import API_PREFIX

NEXT_STEPS_ZH = {
    "unauthenticated": ("您尚未登录或登录已过期。请重新登录后再试。", "/portal", "重新登录"),
    "not-found": ("您要访问的页面或文件不存在，可能链接有误或已被删除。", "/", "返回首页"),
    "method-not-allowed": ("该地址不支持这种访问方式。", "/", "返回首页"),
    "rate-limited": ("访问过于频繁，请稍候再试。", None, None),
    "internal-error": ("服务出现故障，我们已记录此问题。请稍后再试；如仍有问题，请拨打咨询电话。", "/", "返回首页"),
    "service-unavailable": ("服务暂时不可用，请稍后再试。", "/", "返回首页"),
    "source-unavailable": ("数据来源部门暂时无法访问，请稍后再试。", None, None),
    "source-error": ("数据来源部门的系统答复有误，我们已记录此问题。请稍后再试，或到窗口办理。", None, None),
}
DEFAULT_STEP_ZH = ("请求未能完成，请返回上一页检查后重试。", "/", "返回首页")


def wants_html() -> bool:
    """Whether the client is a person's browser that prefers an HTML page to a JSON problem document."""
    if "Authorization" in request.headers or request.is_json:
        return False
    if request.path.startswith(API_PREFIX) and request.headers.get("Sec-Fetch-Mode") != "navigate":
        return False
    accept = request.accept_mimetypes
    html = accept["text/html"]
    return html > 0 and html > max(accept["application/json"], accept["application/problem+json"])


def error_page(slug: str, status: int, title_zh: str, headers: dict[str, str],
               explanation_zh: str | None = None) -> Response:
    """The Chinese HTML page of a problem of kind `slug`; `explanation_zh` says what happened in
    place of the kind's general sentence, where the view knows better."""
    explanation, link, link_text = NEXT_STEPS_ZH.get(slug, DEFAULT_STEP_ZH)
    explanation = explanation_zh or explanation
    response = Response(render_template("error.html", status=status, title_zh=title_zh, explanation=explanation,
                                         link=link, link_text=link_text), status=status, mimetype="text/html")
    response.headers.update(headers)
    response.headers["Cache-Control"] = "no-store"
    return response
