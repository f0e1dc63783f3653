"""The document form of the catalog's dataclasses: members at their default are left out of a
document and come back as the default; a reader's view shows every member."""

from __future__ import annotations

from types import MappingProxyType

from catalog.documents import built, document_of, members_of
from catalog.model import DataItem, ItemType, MatterProof, Mode, Scope


def test_a_member_at_its_default_is_left_out_and_read_back_as_the_default() -> None:
    item = DataItem("has_registered_property", "是否有不动产登记", ItemType.BOOLEAN)
    assert document_of(item) == {"name": "has_registered_property", "name_zh": "是否有不动产登记", "type": "boolean"}
    assert built(DataItem, document_of(item)) == item


def test_a_member_set_otherwise_is_written_by_value_and_read_back_typed() -> None:
    entry = MatterProof("NO_HOUSING", ("has_registered_property",), Scope.APPLICANT, mode=Mode.COMMITMENT,
                        commitment_fallback=True)
    document = document_of(entry)
    assert document == {"proof": "NO_HOUSING", "fields": ["has_registered_property"], "scope": "applicant",
                        "mode": "commitment", "commitment_fallback": True}
    again = built(MatterProof, document)
    assert again == entry and again.mode is Mode.COMMITMENT and again.fields == ("has_registered_property",)


def test_a_readers_view_shows_every_member() -> None:
    item = DataItem("marital_status", "婚姻状况", ItemType.ENUM, MappingProxyType({"married": "已婚"}), printed=False)
    assert members_of(item) == {"name": "marital_status", "name_zh": "婚姻状况", "type": "enum",
                                "values": {"married": "已婚"}, "printed": False}
    plain = DataItem("full_name", "姓名", ItemType.STRING)
    assert members_of(plain)["values"] == {} and members_of(plain)["printed"] is True
