"""The citizen portal (市民服务), Chinese web pages: sign in, request an e-certificate of one's
own proof, see "my certificates", "who used my data" and "my consents" (withdraw one, or grant
one after seeing exactly what it releases), sign out.

Pages only: issuance, listing and the access log go through the same functions as the JSON
API (`api.certificate_services.issuance_context`, `api.presenters.certificate_views`,
`api.access_log_views.access_log_page`). The citizen is whoever `api.auth.current_citizen`
accepts from the identity cookie; the forms carry a token of that sign-in (`api.form_tokens`).
A successful request redirects to the certificate list (POST/redirect/GET).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, Response, redirect, request, url_for
from sqlalchemy.orm import Session

from api.access_log_views import access_log_page
from api.auth import IDENTITY_COOKIE, citizen_subject_key
from api.certificate_services import issuance_context
from api.ended_sessions import end_session
from api.form_submissions import new_submission, once_the_first_is_done, portal_request_id, submitted_id
from api.form_tokens import form_token_valid
from api.live_catalog import live_catalog, naming_catalog
from api.problems import PROBLEM_TYPES, Problem
from api.portal_session import citizen_page, signed_in_citizen, signed_out_page
from api.presenters import certificate_views, consent_view
from api.runtime import db, runtime
from api.schemas.me import MAX_OFFSET
from catalog.model import Catalog, Domain, ItemType, Proof
from core.canonical import canonical_sha256
from core.clock import utc_now
from core.validity import whole_second
from exchange.access_log import REASON_ZH
from exchange.answer_store import RequestIdConflict, answered_once
from exchange.asserted_facts import FactNotEstablished
from exchange.certificates.status_list import REVOCATION_REASONS
from exchange.consent import (
    MAX_CONSENT_DAYS, Channel, ConsentPreview, ConsentStatus, ConsentRequest, consentable_proofs, grant_consent, list_consents, preview_consent,
    withdraw_consent,
)
from exchange.errors import InvalidInput, NotPrintable
from exchange.identity import CitizenIdentity
from exchange.issuance import LICENSE_CHANGING, NotIssuable, holder_certificates, issuable_proofs, issue_certificate
from exchange.pull_service import PullRefused
from exchange.unit_of_work import UnitOfWork
from seals.fonts import missing_glyphs

bp = Blueprint("portal_pages", __name__, url_prefix="/portal")

MAX_PURPOSE_LENGTH = 100
DEFAULT_CONSENT_DAYS = 30
ACCESS_LOG_PAGE_SIZE = 20
"""Access-log reasons (a problem type, or "replayed") as the citizen reads them."""


class _FormRefused(Exception):
    """A request for a certificate that is refused, with the Chinese message, the status, the
    proof offered instead (a neutral document), if any, and the form field at fault, if one is."""

    def __init__(self, message_zh: str, status: int, alternative: Proof | None = None,
                 field: str | None = None) -> None:
        super().__init__(message_zh)
        self.message_zh = message_zh
        self.status = status
        self.alternative = alternative
        self.field = field


STALE_PAGE_ZH = "页面已过期（可能已在其他窗口重新登录），{what}。请在本页再点一次“{action}”。"
"""What a form from a page older than the sign-in it was sent with answers, instead of acting."""


@bp.route("")
def home() -> Response:
    """Greeting and the form to request an e-certificate (or how to sign in); `?proof=` chooses
    a proof (a form posted as the sign-in ended comes back so)."""
    citizen = signed_in_citizen()
    if citizen is None:
        return signed_out_page()
    return _request_page(citizen, proof_code=request.args.get("proof", "").strip()[:64], purpose="", error=None,
                         status=200)


@bp.route("/certificates", methods=["POST"])
def request_certificate() -> Response:
    """First a preview of what will be issued, whom the exchange will ask and what the page
    will state; once confirmed, issue it and show it in "my certificates". Errors on the form page."""
    citizen = signed_in_citizen()
    if citizen is None:
        return signed_out_page()
    proof_code = request.form.get("proof", "").strip()[:64]
    purpose = request.form.get("purpose", "").strip()
    try:
        if not form_token_valid():
            raise _FormRefused("页面已过期或来源不明，请刷新页面后重新提交。", 400)
        if request.form.get("confirmed") != "1":
            return _preview(citizen, proof_code, purpose)
        identifier = _issue(citizen, proof_code, purpose, submitted_id(request.form))
    except _FormRefused as refused:
        return _request_page(citizen, proof_code=proof_code, purpose=purpose[:MAX_PURPOSE_LENGTH],
                             error=refused.message_zh, status=refused.status, alternative=refused.alternative,
                             error_field=refused.field)
    return redirect(url_for("portal_pages.certificates", issued=identifier), 303)


@bp.route("/certificates")
def certificates() -> Response:
    """我的电子证明: the holder's certificates, newest first, with download links."""
    citizen = signed_in_citizen()
    if citizen is None:
        return signed_out_page()
    catalog = naming_catalog()  # a certificate keeps its issuer's name after a publication drops the code
    views = certificate_views(catalog, holder_certificates(db(), runtime().subject_hash_key, citizen.id_number))
    issued = request.args.get("issued", "")
    return citizen_page("portal_certificates.html", citizen, certificates=views, now=whole_second(datetime.now(timezone.utc)),
                        reasons=REVOCATION_REASONS,
                        issued=next((view for view in views if view["identifier"] == issued), None))


@bp.route("/access-log")
def access_log() -> Response:
    """谁用了我的数据: every access to the citizen's data, newest first, a page at a time."""
    citizen = signed_in_citizen()
    if citizen is None:
        return signed_out_page()
    given = request.args.get("offset", "")  # a page link's own number, 0-9: anything else is the first page
    offset = min(int(given), MAX_OFFSET) if given.isascii() and given.isdigit() else 0
    page = access_log_page(citizen_subject_key(citizen), limit=ACCESS_LOG_PAGE_SIZE, offset=offset)
    return citizen_page("portal_access_log.html", citizen, page=page, reasons_zh=REASON_ZH)


@bp.route("/consents")
def consents() -> Response:
    """我的授权: every consent the citizen gave, its status, and a button to withdraw it."""
    citizen = signed_in_citizen()
    if citizen is None:
        return signed_out_page()
    return _consents_page(citizen)


def _consents_page(citizen: CitizenIdentity, error: str | None = None, status: int = 200) -> Response:
    catalog = naming_catalog()  # a consent to a matter dropped since keeps its name
    views = [consent_view(catalog, c) for c in list_consents(db(), citizen_subject_key(citizen))]
    status_of = {view["id"]: view["status"] for view in views}  # the redirect names a consent: say what it is now
    response = citizen_page("portal_consents.html", citizen, consents=views, error=error,
                            withdrawn=status_of.get(request.args.get("withdrawn")) == ConsentStatus.WITHDRAWN,
                            granted=status_of.get(request.args.get("granted")) == ConsentStatus.ACTIVE,
                            cancelled=request.args.get("cancelled", ""))
    response.status_code = status
    return response


@bp.route("/consents/new")
def consent_preview() -> Response:
    """授权前预览: what a department's request for consent would release — to which department,
    for which matter and legal basis, which data items of which proofs from which source, for how
    long — with 同意授权 and 取消. Nothing is recorded here. A department's system links the
    citizen here (`?matter=&department=`, optionally `proof=` repeated and `days=`)."""
    citizen = signed_in_citizen()
    if citizen is None:
        return signed_out_page()
    return _preview_page(citizen, request.args)


def _preview_page(citizen: CitizenIdentity, values: Any, error: str | None = None, status: int = 200) -> Response:
    """The preview of the consent `values` ask for (query or posted form), with a fresh submission id."""
    preview = _consent_preview(values)
    response = citizen_page("portal_consent_preview.html", citizen, preview=preview, days_zh=f"{preview.request.days} 天",
                            submission=new_submission(), error=error)
    response.status_code = status
    return response


@bp.route("/consents", methods=["POST"])
def decide_consent() -> Response:
    """The citizen's decision on a previewed consent (POST/redirect/GET): `decision=release`
    records exactly the previewed consent; `cancel` records nothing. A release from a page
    without this sign-in's token (signed in again in another tab) records nothing either, and
    shows the preview again saying why, to agree on."""
    citizen = signed_in_citizen()
    if citizen is None:
        return signed_out_page()
    if request.form.get("decision") != "release":
        return redirect(url_for("portal_pages.consents", cancelled=1), 303)
    if not form_token_valid():
        return _preview_page(citizen, request.form, "页面已过期或来源不明，尚未授权。请核对以下内容后重新点击“同意授权”。", 400)
    submission = submitted_id(request.form)
    if submission is None:  # a page rendered before its form carried a submission id
        return redirect(url_for("portal_pages.consents", cancelled=1), 303)
    preview = _consent_preview(request.form)
    catalog, key = live_catalog().catalog, citizen_subject_key(citizen)
    terms = preview.request
    asked = canonical_sha256({"matter": terms.matter, "proofs": list(terms.proofs),
                              "department": terms.consumer_department, "days": terms.days})

    def grant(session: Session) -> dict[str, Any]:
        return {"consent_id": grant_consent(session, catalog, key, terms, channel=Channel.ONLINE).id}

    current = runtime()
    try:
        granted = once_the_first_is_done(lambda: answered_once(
            UnitOfWork(current.sessions), current.answer_box, f"holder:{key}", f"portal-consent-{submission}",
            asked, utc_now(), "grant-consent", grant))
    except RequestIdConflict:
        return redirect(url_for("portal_pages.consents"), 303)
    return redirect(url_for("portal_pages.consents", granted=granted["consent_id"]), 303)


@bp.route("/consents/<consent_id>/withdrawal", methods=["POST"])
def withdraw(consent_id: str) -> Response:
    """Withdraw one of the citizen's consents (POST/redirect/GET); the department can no longer pull."""
    citizen = signed_in_citizen()
    if citizen is None:
        return signed_out_page()
    if not form_token_valid():
        return _consents_page(citizen, STALE_PAGE_ZH.format(what="授权未撤回", action="撤回"), 400)
    withdraw_consent(db(), consent_id, subject_key=citizen_subject_key(citizen))
    db().commit()
    return redirect(url_for("portal_pages.consents", withdrawn=consent_id), 303)


@bp.route("/sign-out", methods=["POST"])
def sign_out() -> Response:
    """End the session: its assertion is recorded as ended (`api.ended_sessions`), so a copy of the
    cookie acts for nobody, and the cookie is forgotten (a form token is required, so no other site
    can sign one out; a page whose token is stale, after a sign-in in another tab, says so and
    signs nobody out)."""
    response = redirect(url_for("portal_pages.home"), 303)
    if form_token_valid():
        citizen, assertion = signed_in_citizen(), request.cookies.get(IDENTITY_COOKIE)
        if citizen is not None and assertion:
            end_session(db(), assertion, citizen.expires_at)
            db().commit()
        response.delete_cookie(IDENTITY_COOKIE, httponly=True, samesite="Lax",  # as it was set
                               secure=runtime().settings.over_https)
        return response
    citizen = signed_in_citizen()
    if citizen is None:
        return response
    return _request_page(citizen, proof_code="", purpose="", status=400,
                         error=STALE_PAGE_ZH.format(what="未能退出登录", action="退出登录"))


def _consent_preview(values: Any) -> ConsentPreview:
    """The preview of the consent `values` (query or form) asks for; 400 naming the parameter."""
    matter, department = values.get("matter", ""), values.get("department", "")
    proofs = values.getlist("proof") or consentable_proofs(live_catalog().catalog, matter, department)
    days_text = values.get("days", str(DEFAULT_CONSENT_DAYS))
    if not days_text.isascii() or not days_text.isdigit() or len(days_text) > len(str(MAX_CONSENT_DAYS)):
        raise _bad_link("days", f"a whole number of days from 1 to {MAX_CONSENT_DAYS}")
    try:
        return preview_consent(live_catalog().catalog, ConsentRequest(matter=matter, proofs=proofs,
                                                                      consumer_department=department,
                                                                      days=int(days_text)))
    except InvalidInput as invalid:
        raise _bad_link("proof" if invalid.field == "proofs" else invalid.field, invalid.detail) from None


def _bad_link(name: str, detail: str) -> Problem:
    """The consent link a department sent is wrong in parameter `name`: a problem naming it, whose
    page tells the citizen (who came from the department's site) that the link is at fault."""
    return Problem("invalid-request", f"{name}: {detail}", errors=[{"parameter": name, "detail": detail}],
                   extensions={"detail_zh": "部门发来的授权链接有误，无法显示要您授权的内容。"
                                            "请联系发来链接的部门，请其重新发送。"})


def _check_request(proof_code: str, purpose: str) -> None:
    """`_FormRefused` unless a proof is chosen and the purpose has the right length."""
    if not proof_code:
        raise _FormRefused("请选择要开具的证明。", 400)
    if not purpose or len(purpose) > MAX_PURPOSE_LENGTH:
        raise _FormRefused(f"请填写用途（1 至 {MAX_PURPOSE_LENGTH} 个字）。", 400, field="purpose")
    if missing := missing_glyphs(purpose):
        raise _FormRefused(f"用途中有证明无法打印的字：「{''.join(sorted(missing))}」，请修改。", 400, field="purpose")


def _preview(citizen: CitizenIdentity, proof_code: str, purpose: str) -> Response:
    """What will be issued, before anything is pulled: the proof, the issuing department asked
    for the record, the items the page will state, validity, purpose, and when it is refused."""
    _check_request(proof_code, purpose)
    catalog = live_catalog().catalog
    proof = next((p for p in issuable_proofs(catalog) if p.code == proof_code), None)
    if proof is None:
        raise _FormRefused("所选证明不能网上开具，请从列表中选择。", 400)
    items = [item.name_zh for item in proof.data_items if item.printed and item.type is not ItemType.ID_NUMBER]
    # the choice's own submission id: a preview shown again (Back, and the choice resent) confirms
    # the certificate the first one issued
    return citizen_page("portal_preview.html", citizen, proof=proof, department=catalog.departments[proof.department],
                        items=items, purpose=purpose, submission=submitted_id(request.form) or new_submission())


def _issue(citizen: CitizenIdentity, proof_code: str, purpose: str, submission: str | None) -> str:
    """Issue the certificate, once for the submission id of the confirmed form however often it
    is submitted (`api.form_submissions`); its identifier, or `_FormRefused` with the reason in
    Chinese."""
    _check_request(proof_code, purpose)
    if submission is None:
        raise _FormRefused("页面已过期，请重新填写后提交。", 400)
    context = issuance_context()
    try:
        return once_the_first_is_done(lambda: issue_certificate(
            context, citizen.name, citizen.id_number, proof_code, purpose,
            idempotency_key=portal_request_id(submission, proof_code, purpose))).identifier
    except RequestIdConflict:
        raise _FormRefused("这份申请已在办理，请到“我的电子证明”查看结果。", 409) from None
    except NotIssuable:
        raise _FormRefused("所选证明不能网上开具，请从列表中选择。", 400) from None
    except PullRefused as refused:
        raise _FormRefused(_refusal_zh(context.catalog, proof_code, refused), PROBLEM_TYPES[refused.kind].status) \
            from None
    except FactNotEstablished as refused:
        raise _FormRefused(refused.refusal_zh, PROBLEM_TYPES["fact-not-established"].status, refused.alternative) \
            from None
    except NotPrintable as refused:
        raise _FormRefused(refused.detail_zh, PROBLEM_TYPES["not-printable"].status) from None


def _refusal_zh(catalog: Catalog, proof_code: str, refused: PullRefused) -> str:
    if refused.kind == "source-unavailable":
        return "数据源部门暂时无法访问，请稍后再试。"
    if refused.reason == LICENSE_CHANGING:
        return f"开具{catalog.proofs[proof_code].name_zh}所依据的电子证照正在由发证机关变更，请稍后再开具。"
    if refused.kind == "source-error":
        return "数据源部门的系统答复有误，暂时无法开具该证明。我们已记录此问题；请稍后再试，或到窗口办理。"
    if refused.kind == "subject-not-found":
        department = catalog.departments[catalog.proofs[proof_code].department]
        return f"{department.name_zh}没有您的相关记录，无法开具该证明。如有疑问，请咨询该部门。"
    return f"未能开具：{PROBLEM_TYPES[refused.kind].title_zh}。"


def _request_page(citizen: CitizenIdentity, *, proof_code: str, purpose: str, error: str | None,
                  status: int, alternative: Proof | None = None, error_field: str | None = None) -> Response:
    catalog = live_catalog().catalog
    response = citizen_page("portal.html", citizen, groups=_life_event_groups(catalog), proof_code=proof_code, purpose=purpose,
                            error=error, error_field=error_field, submission=new_submission(),
                            alternative=alternative, max_purpose_length=MAX_PURPOSE_LENGTH)
    response.status_code = status
    return response


def _life_event_groups(catalog: Catalog) -> list[dict[str, Any]]:
    """The proofs a citizen can have issued, each under the first life event (a matter's domain,
    in the catalog's order of domains) that needs it; the rest under 其他证明."""
    domains = {proof.code: [matter.domain for matter in catalog.matters.values()
                            if any(entry.proof == proof.code for entry in matter.proofs)]
               for proof in catalog.proofs.values()}
    groups: dict[str, dict[str, Any]] = {}
    for proof in issuable_proofs(catalog):
        needed_by = sorted(domains[proof.code], key=list(Domain).index)
        label = needed_by[0].label_zh if needed_by else "其他证明"
        group = groups.setdefault(label, {"label_zh": label, "order": list(Domain).index(needed_by[0])
                                          if needed_by else len(Domain), "proofs": []})
        group["proofs"].append({"code": proof.code, "name_zh": proof.name_zh, "mode": proof.mode.value,
                                "mode_zh": proof.mode.label_zh,
                                "department_name_zh": catalog.departments[proof.department].name_zh})
    return sorted(groups.values(), key=lambda group: group["order"])
