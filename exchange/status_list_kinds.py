"""Every status list the city publishes, in one place: list 1 of e-certificates
(`exchange.status_lists.CERTIFICATES`) and list 2 of e-license versions
(`exchange.licenses.service.LICENSES`). The jobs and set-up keep each one signed."""

from __future__ import annotations

from exchange.licenses.service import LICENSES
from exchange.status_lists import CERTIFICATES

STATUS_LISTS = (CERTIFICATES, LICENSES)
STATUS_LIST_NAMES_ZH = {CERTIFICATES.list_id: "电子证明", LICENSES.list_id: "电子证照"}
