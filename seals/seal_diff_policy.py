"""What may be appended to a sealed PDF: pyHanko's difference policy, narrowed to PAdES needs.

A seal may be followed by document security store (DSS) updates and document time-stamp
signatures (B-LT, B-LTA). pyHanko's default policy also accepts any change of the Info
dictionary and of the XMP metadata — a PDF reader shows the forged title of such a document —
and form filling. `SEAL_DIFF_POLICY` accepts an Info or XMP update only when nothing but the
modification dates changed (a time-stamping writer refreshes those), and no field other than
signature fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.reader import HistoricalResolver
from pyhanko.sign.diff_analysis import (
    CatalogModificationRule,
    DocInfoRule,
    DSSCompareRule,
    FormUpdatingRule,
    MetadataUpdateRule,
    ModificationLevel,
    ObjectStreamRule,
    ReferenceUpdate,
    SigFieldCreationRule,
    SigFieldModificationRule,
    StandardDiffPolicy,
    XrefStreamRule,
)
from pyhanko.sign.diff_analysis.policy_api import SuspiciousModification

_INFO_DATES = frozenset({"/ModDate"})
_XMP_DATES = re.compile(rb"<xmp:(ModifyDate|MetadataDate)>[^<]*</xmp:\1>|xmp:(ModifyDate|MetadataDate)=\"[^\"]*\"")


class DatesOnlyInfoRule(DocInfoRule):
    """An Info update whose only change is /ModDate."""

    def apply(self, old: HistoricalResolver, new: HistoricalResolver) -> Iterable[ReferenceUpdate]:
        new_info = _resolved(new, new.trailer_view.get("/Info"))
        old_info = _resolved(old, old.trailer_view.get("/Info"))
        if new_info is not None and _without_dates(new_info) != _without_dates(old_info):
            raise SuspiciousModification("the Info dictionary changed after signing")
        yield from super().apply(old, new)


class DatesOnlyMetadataRule(MetadataUpdateRule):
    """An XMP metadata update whose only change is xmp:ModifyDate and xmp:MetadataDate."""

    def apply(self, old: HistoricalResolver, new: HistoricalResolver) -> Iterable[ReferenceUpdate]:
        new_xmp, old_xmp = _xmp(new), _xmp(old)
        if new_xmp is not None and (old_xmp is None or _XMP_DATES.sub(b"", new_xmp) != _XMP_DATES.sub(b"", old_xmp)):
            raise SuspiciousModification("the XMP metadata changed after signing")
        yield from super().apply(old, new)


def _resolved(revision: HistoricalResolver, value: object) -> object:
    """`value` as it was in `revision` (an indirect object resolves in the newest revision)."""
    return revision.get_object(value.reference) if isinstance(value, generic.IndirectObject) else value


def _without_dates(info: object) -> dict[str, object] | None:
    if not isinstance(info, generic.DictionaryObject):
        return None
    return {key: value for key, value in info.items() if key not in _INFO_DATES}


def _xmp(revision: HistoricalResolver) -> bytes | None:
    stream = _resolved(revision, revision.root.get("/Metadata"))
    if not isinstance(stream, generic.StreamObject):
        return None
    return stream.read_data(DecodePurpose.XMP_METADATA)


SEAL_DIFF_POLICY = StandardDiffPolicy(
    global_rules=[
        CatalogModificationRule(),
        DatesOnlyInfoRule().as_qualified(ModificationLevel.LTA_UPDATES),
        XrefStreamRule().as_qualified(ModificationLevel.LTA_UPDATES),
        ObjectStreamRule().as_qualified(ModificationLevel.LTA_UPDATES),
        DSSCompareRule().as_qualified(ModificationLevel.LTA_UPDATES),
        DatesOnlyMetadataRule().as_qualified(ModificationLevel.LTA_UPDATES),
    ],
    form_rule=FormUpdatingRule(field_rules=[SigFieldCreationRule(), SigFieldModificationRule()]),
)
