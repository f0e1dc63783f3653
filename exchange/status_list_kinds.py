"""Every kind of status list the city publishes, in one place: the lists of e-certificates (list 1
and those opened after it, `exchange.status_lists.CERTIFICATES`) and list 2 of e-license versions
(`exchange.licenses.service.LICENSES`). The jobs and set-up keep each list of each kind signed."""

from __future__ import annotations

from exchange.licenses.service import LICENSES
from exchange.status_lists import CERTIFICATES

STATUS_LISTS = (CERTIFICATES, LICENSES)
STATUS_LIST_NAMES_ZH = {CERTIFICATES.name: "电子证明", LICENSES.name: "电子证照"}
