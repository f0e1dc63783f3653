"""The offline verifiers' trust directory, read as every `verify` command needs it: the trust
material and the exchange it names, or a Chinese error saying how to export it again."""

from __future__ import annotations

from pathlib import Path

from api.cli.context import CliError
from exchange.certificates.issuer_list import ISSUER_LIST_FILE, IssuerListError
from exchange.certificates.offline_trust import EXCHANGE_FILE, OfflineTrust, load_offline_trust
from seals.trust import EXPORTED_AT_FILE, ExportTimeUnreadable


def load_offline_trust_of_exchange(directory: Path) -> tuple[OfflineTrust, str]:
    """`load_offline_trust` and the exchange's USCC, refusing (CliError) a directory without
    usable trust material or without that USCC (exported before it was written)."""
    try:
        trust = load_offline_trust(directory)
    except IssuerListError as unusable:
        raise CliError(f"{directory} 中的出具单位清单 {ISSUER_LIST_FILE} 不可用（{unusable}）："
                       f"请用 mianzheng seal export-trust {directory} 重新导出。") from None
    except ExportTimeUnreadable:
        raise CliError(f"{directory} 中的导出时间 {EXPORTED_AT_FILE} 不可用（应为带时区的时间，如 2026-12-07T08:00:00+00:00）："
                       f"请用 mianzheng seal export-trust {directory} 重新导出。") from None
    except (OSError, ValueError):
        raise CliError(f"{directory} 中没有可用的信任材料（请用 mianzheng seal export-trust 导出）。") from None
    if trust.exchange_uscc is None:
        raise CliError(f"{directory} 缺少 {EXCHANGE_FILE}（交换平台的统一社会信用代码，用于确认状态列表和回执由其签发）："
                       f"请用 mianzheng seal export-trust {directory} 重新导出。")
    return trust, trust.exchange_uscc
