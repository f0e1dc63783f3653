"""What a catalog must also satisfy to be published on this installation, beyond being valid on
its own (`catalog.loading`): it names the exchange department the installation signs as, and
every text the certificates, licenses and usage copies print can be printed in the city's
typeface. Checked by `catalog validate`, `catalog publish` and the validation API alike, so
that what validates publishes.

A label with a character the typeface lacks (m³, a character of the extension blocks) would have every online
issuance of the proof refused (422 not-printable) until it was changed back; a name of
invisible characters only (a zero-width space) would print and list blank.

And what a publication leaves for others to do: a department renamed (legal name or credit code)
keeps a seal naming it as before until the seal officer rotates it (`seal_renames`); a matter
widened receives more than its running consents release, until the citizens consent again
(`consents_short`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from catalog.errors import Problem
from catalog.model import Catalog, DataItem
from exchange.applications.tenancies import tenancy_consents_short
from exchange.consent import consents_left_short
from seals.fonts import missing_glyphs
from seals.registry import list_seals, seals_named_otherwise


def publication_problems(catalog: Catalog, exchange_department: str) -> list[Problem]:
    """Every reason `catalog` cannot be published here (empty: it can)."""
    problems = []
    if exchange_department not in catalog.departments:
        problems.append(Problem("departments", exchange_department, "code",
                                f"the exchange department {exchange_department} is missing: its seal signs every "
                                "status list, receipt and 亮证"))
    for file, entry, field, text in _printed_texts(catalog):
        if missing := missing_glyphs(text):  # control and format characters too (a zero-width space)
            shown = ", ".join(f"U+{ord(char):04X}" for char in sorted(missing))
            problems.append(Problem(file, entry, field, f"cannot be printed: the certificates' typeface lacks {shown}"))
    return problems


def seal_renames(database: Session | Connection, catalog: Catalog) -> list[str]:
    """A notice for each department whose active seal names it otherwise than `catalog` does,
    naming the command that renames it (for `catalog publish` and `init`)."""
    named = seals_named_otherwise(database, catalog_names(catalog))
    return [f"注意：{code} 的电子印章仍署名“{name}”（统一社会信用代码 {uscc}），目录中为“"
            f"{catalog.departments[code].legal_name_zh}”（{catalog.departments[code].uscc}）；PDF 阅读器在该部门的文书上"
            f"显示印章上的名称。请由印章管理员运行 mianzheng seal rotate {code}，以目录中的名称换发印章。"
            for code, (name, uscc) in sorted(named.items())]


def departments_without_seals(session: Session, catalog: Catalog) -> list[str]:
    """A notice for each department of `catalog` that never had a seal (one a publication added):
    it signs nothing until the seal officer issues one (`init` issues first seals too)."""
    sealed = {seal.department_code for seal in list_seals(session)}
    return [f"注意：部门 {code}（{department.legal_name_zh}）尚无电子印章，在印章管理员运行 mianzheng seal issue {code}"
            "（或下次运行 mianzheng init）之前，不能出具电子证明、签发电子证照。"
            for code, department in catalog.departments.items() if code not in sealed]


def consents_short(session: Session, catalog: Catalog) -> list[str]:
    """A notice for each matter that receives more than running consents release (as after a
    publication widened it): accesses on them are refused until the citizens consent again."""
    now = datetime.now(timezone.utc)
    short = consents_left_short(session, catalog, now)
    notices = [f"注意：事项“{catalog.matters[code].name_zh}”（{code}）现在接收的数据项多于 {count} 份仍有效的授权所列；"
               "依这些授权的调取（年度复核的在内）将被拒绝（consent-mismatch），直至申请人在列出这些数据项的预览上重新授权。"
               for code, count in sorted(short.items())]
    for code, (count, proofs) in sorted(tenancy_consents_short(session, catalog, now).items()):
        named = "、".join(f"{catalog.proofs[proof].name_zh}（{proof}）" for proof in proofs)
        recheck = catalog.matters[code].recheck
        assert recheck is not None
        notices.append(f"注意：{recheck.name_zh}（{code}）现在读取{named}，"
                       f"{count} 份在册家庭登记时所作的授权未包括；复核时这些家庭将转人工审核（consent-required）。"
                       "若不希望如此，请发布不在年度复核中读取该证明的目录。")
    return notices


def catalog_names(catalog: Catalog) -> dict[str, tuple[str, str]]:
    """Each department's legal name and credit code, by code: as its seal must name it."""
    return {code: (department.legal_name_zh, department.uscc) for code, department in catalog.departments.items()}


def _printed_texts(catalog: Catalog) -> Iterator[tuple[str, str, str, str]]:
    """(file, entry, field, text) of everything of the catalog a sealed document prints."""
    for code, department in catalog.departments.items():
        yield "departments", code, "legal_name_zh", department.legal_name_zh
        yield "departments", code, "name_zh", department.name_zh
    for code, proof in catalog.proofs.items():
        yield "proofs", code, "name_zh", proof.name_zh
        yield from _items("proofs", code, proof.data_items)
    for code, license_type in catalog.licenses.items():
        yield "licenses", code, "name_zh", license_type.name_zh
        yield from _items("licenses", code, license_type.data_items)
    for code, matter in catalog.matters.items():  # a usage copy names the matter it was used in
        yield "matters", code, "name_zh", matter.name_zh


def _items(file: str, code: str, items: tuple[DataItem, ...]) -> Iterator[tuple[str, str, str, str]]:
    for item in items:
        if item.printed:
            yield file, code, f"data_items[{item.name}].name_zh", item.name_zh
            for value, label in item.values.items():
                yield file, code, f"data_items[{item.name}].values.{value}", label
