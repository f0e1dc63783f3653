"""The operations the access log's chain records besides accesses and consents: each change an
operator or a department system makes to what the exchange vouches for (`exchange.operations`
appends them). An operation's entry carries its code as `reason`."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class Operation(StrEnum):
    CERTIFICATE_REVOKED = "certificate-revoked"
    """An e-certificate revoked by its issuer (`case_number`: its identifier; `purpose`: the reason code)."""
    LICENSE_ISSUED = "license-issued"
    """A license issued (`case_number`: its first version's identifier; `purpose`: the department's reference)."""
    LICENSE_AMENDED = "license-amended"
    """A license's next version (`case_number`: the new version; `purpose`: the version it supersedes)."""
    LICENSE_RESEALED = "license-resealed"
    """A license issued again unchanged under its department's new seal, after a seal was revoked for
    key compromise (`case_number`: the new version; `purpose`: the version it supersedes)."""
    LICENSE_REVOKED = "license-revoked"
    """A license revoked with every certificate read from it (`case_number`: its current version; `purpose`:
    the reason code)."""
    LICENSES_IMPORTED = "licenses-imported"
    """A batch of a department's licenses imported from its export (`case_number`: its lines, `A-B`;
    `purpose`: how many were issued)."""
    SEAL_ISSUED = "seal-issued"
    """A department's seal issued (`case_number`: its certificate's serial; `purpose`: its use)."""
    SEAL_ROTATED = "seal-rotated"
    """A department's seal given a new key and certificate (`case_number`: the new serial; `purpose`:
    `public-address-changed` when init rotated it for that)."""
    SEAL_REVOKED = "seal-revoked"
    """A seal revoked (`case_number`: its serial; `purpose`: the reason code)."""
    CITY_ROOT_SET_UP = "city-root-set-up"
    """The city's root certificate created or imported (`case_number`: its serial; `purpose`:
    `created` or `imported`)."""
    CLIENT_ADDED = "client-added"
    """A department system registered (`case_number`: its client id; `consumer_department`: its
    department; `purpose`: its credentials, `exchange.clients.credentials_detail`)."""
    CLIENT_ROTATED = "client-rotated"
    """A department system given a new token (`case_number`: its client id; `purpose`: its
    credentials after the rotation, as a registration's)."""
    CLIENT_CREDENTIALS_CHAINED = "client-credentials-chained"
    """A department system's credentials as its row held them when the chain began to record them
    (an upgrade; `case_number`: its client id; `purpose`: as a registration's)."""
    CLIENT_REVOKED = "client-revoked"
    """A department system revoked (`case_number`: its client id)."""
    CATALOG_PUBLISHED = "catalog-published"
    """A catalog version published (`case_number`: its number; `purpose`: canonical JSON of its
    `content_hash`, `note` and `published_by`)."""
    CRL_SIGNED = "crl-signed"
    """The seals' CRL signed again by the city root outside a revocation (`case_number`: its CRL
    number; `purpose`: `forced` when signed before it was due)."""
    STATUS_LISTS_REBUILT = "status-lists-rebuilt"
    """The certificates' status lists signed again from the revocations (`case_number`: their
    numbers, comma-separated)."""
    ENCRYPTION_KEY_ADDED = "encryption-key-added"
    """A new encryption key made current (`case_number`: its key id)."""
    VALUES_REENCRYPTED = "values-reencrypted"
    """Sealed values moved to the current encryption key (`case_number`: its key id; `purpose`:
    how many)."""
    ENCRYPTION_KEY_RETIRED = "encryption-key-retired"
    """An encryption key nothing is sealed under any more deleted (`case_number`: its key id)."""


OPERATION_ZH: Mapping[str, str] = MappingProxyType({
    Operation.CERTIFICATE_REVOKED: "撤销电子证明", Operation.LICENSE_ISSUED: "签发电子证照",
    Operation.LICENSE_AMENDED: "换发电子证照", Operation.LICENSE_RESEALED: "以新印章重新签发电子证照",
    Operation.LICENSE_REVOKED: "撤销电子证照",
    Operation.LICENSES_IMPORTED: "批量导入电子证照", Operation.SEAL_ISSUED: "签发电子印章",
    Operation.SEAL_ROTATED: "轮换电子印章", Operation.SEAL_REVOKED: "吊销电子印章",
    Operation.CITY_ROOT_SET_UP: "设立城市根证书", Operation.CLIENT_ADDED: "登记部门业务系统",
    Operation.CLIENT_ROTATED: "轮换业务系统访问令牌", Operation.CLIENT_REVOKED: "吊销部门业务系统",
    Operation.CLIENT_CREDENTIALS_CHAINED: "记入部门业务系统的现行凭据",
    Operation.CATALOG_PUBLISHED: "发布目录版本", Operation.CRL_SIGNED: "重新签发印章吊销列表",
    Operation.STATUS_LISTS_REBUILT: "按撤销记录重新签发电子证明状态列表",
    Operation.ENCRYPTION_KEY_ADDED: "生成新的加密密钥", Operation.VALUES_REENCRYPTED: "以当前密钥重新加密存储数据",
    Operation.ENCRYPTION_KEY_RETIRED: "停用旧加密密钥",
})
"""What each operation is called, for operators and auditors."""
