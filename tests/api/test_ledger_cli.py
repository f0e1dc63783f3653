"""The operators' commands for clients, consents and the audit of the access log, run as the
real `mianzheng` command with its exit codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.database import standalone_session
from exchange.access_log import AccessEntry, Outcome, append_access
from tests.support.cli import cli_environment, run_cli, run_cli_process
from tests.support.sql import empty_ledger, sql_rows

ID_NUMBER = "11010519491231002X"


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return cli_environment(database_url, tmp_path / "var")


def test_client_lifecycle(env: dict[str, str], database_url: str) -> None:
    added = run_cli(env, "client", "add", "ZJ", "公租房审批系统", "--scope", "exchange:request",
                    "--scope", "applications:write")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert token.startswith("mzc_") and "仅显示这一次" in added.stderr
    client_id = token.split("_")[1]
    assert not any(token.split("_", 2)[2] in str(v) for row in sql_rows(database_url, "SELECT * FROM exchange_clients")
                   for v in row)

    listed = run_cli(env, "client", "list")
    assert client_id in listed.stdout and "applications:write" in listed.stdout and token not in listed.stdout
    rotated = run_cli(env, "client", "rotate", client_id)
    assert rotated.returncode == 0 and rotated.stdout.strip() != token
    assert run_cli(env, "client", "revoke", client_id).returncode == 0
    assert "已吊销" in run_cli(env, "client", "list").stdout
    assert run_cli(env, "client", "rotate", client_id).returncode == 1
    assert run_cli(env, "client", "revoke", "ffffffffffffffff").returncode == 3
    assert run_cli(env, "client", "add", "NOWHERE", "系统").returncode == 3
    assert run_cli(env, "client", "add", "ZJ", "系统", "--scope", "everything").returncode == 2


def test_consent_commands(env: dict[str, str]) -> None:
    granted = run_cli(env, "consent", "grant", "--id-number", ID_NUMBER, "--matter", "PUBLIC_RENTAL_HOUSING",
                      "--proof", "NO_HOUSING", "--department", "ZJ", "--days", "30")
    assert granted.returncode == 0, granted.stderr
    assert "110105********002X" in granted.stdout and ID_NUMBER not in granted.stdout
    consent_id = granted.stdout.split("：", 1)[1].split()[0]
    listed = run_cli(env, "consent", "list", "--id-number", ID_NUMBER)
    assert consent_id in listed.stdout and "有效" in listed.stdout
    assert run_cli(env, "consent", "withdraw", consent_id).returncode == 0
    assert "已撤回" in run_cli(env, "consent", "list", "--id-number", ID_NUMBER).stdout
    assert run_cli(env, "consent", "withdraw", "00000000-0000-4000-8000-000000000000").returncode == 3
    bad_number = run_cli(env, "consent", "list", "--id-number", "110105194912310021")
    assert bad_number.returncode == 1 and bad_number.stderr.startswith("错误：身份证号无效")
    not_consumer = run_cli(env, "consent", "grant", "--id-number", ID_NUMBER, "--matter", "PUBLIC_RENTAL_HOUSING",
                           "--proof", "NO_HOUSING", "--department", "GA")
    assert not_consumer.returncode == 1
    assert not_consumer.stderr.strip() == "错误：授权无效：金华市公安局不办理事项「申请公租房一件事」。", not_consumer.stderr
    unknown = run_cli(env, "consent", "grant", "--id-number", ID_NUMBER, "--matter", "NO_SUCH_MATTER",
                      "--proof", "NO_HOUSING", "--department", "ZJ")
    assert unknown.returncode == 3
    assert unknown.stderr.strip() == "错误：现行目录中没有事项 NO_SUCH_MATTER。", unknown.stderr
    nowhere = run_cli(env, "consent", "grant", "--id-number", ID_NUMBER, "--matter", "PUBLIC_RENTAL_HOUSING",
                      "--proof", "NO_HOUSING", "--department", "NOWHERE")
    assert (nowhere.returncode, nowhere.stderr.strip()) == (3, "错误：现行目录中没有部门 NOWHERE。")
    foreign = run_cli(env, "consent", "grant", "--id-number", ID_NUMBER, "--matter", "PUBLIC_RENTAL_HOUSING",
                      "--proof", "NO_HOUSING", "--proof", "DRIVING_RECORD", "--department", "ZJ")
    assert foreign.returncode == 1
    assert foreign.stderr.strip() == "错误：授权无效：事项「申请公租房一件事」不需要 DRIVING_RECORD。", foreign.stderr


def test_an_id_number_left_off_the_command_line_is_read_from_standard_input(env: dict[str, str]) -> None:
    """Typed as an argument, an ID number stands in the process list, which every user of the
    machine can read, and in the shell's history. Left out, it is read from standard input."""
    granted = run_cli_process(env, "consent", "grant", "--matter", "PUBLIC_RENTAL_HOUSING", "--proof", "NO_HOUSING",
                              "--department", "ZJ", stdin=f"{ID_NUMBER}\n")
    assert granted.returncode == 0, granted.stderr
    assert "110105********002X" in granted.stdout and ID_NUMBER not in granted.stdout + granted.stderr
    consent_id = granted.stdout.split("：", 1)[1].split()[0]
    listed = run_cli_process(env, "consent", "list", stdin=f"{ID_NUMBER}\n")
    assert listed.returncode == 0 and consent_id in listed.stdout
    nothing = run_cli_process(env, "consent", "list")
    assert nothing.returncode == 2 and "--id-number" in nothing.stderr and nothing.stdout == ""


def test_audit_verify_says_when_consents_were_changed_beside_the_chain(env: dict[str, str], database_url: str) -> None:
    """An insider sets a withdrawal back and inserts a consent: the chain is whole, the exchange
    relies on it and refuses both, and the auditor's check says the table disagrees, exit 1."""
    given = run_cli(env, "consent", "grant", "--id-number", ID_NUMBER, "--matter", "PUBLIC_RENTAL_HOUSING",
                    "--proof", "NO_HOUSING", "--department", "ZJ", "--days", "30")
    assert given.returncode == 0, given.stderr
    [consent_id] = re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", given.stdout)
    assert run_cli(env, "consent", "withdraw", consent_id).returncode == 0
    agreeing = run_cli(env, "audit", "verify")
    assert agreeing.returncode == 0 and "条均与访问日志中的授权、撤回记录一致" in agreeing.stdout, agreeing.stdout
    assert agreeing.stdout.strip().splitlines()[-1].startswith("链头："), agreeing.stdout

    sql_rows(database_url, f"UPDATE consents SET withdrawn_at = NULL WHERE id = '{consent_id}'")
    sql_rows(database_url, "INSERT INTO consents (id, subject_key, matter, proofs, consumer_department, channel, "
                           "granted_at, expires_at, items) SELECT '00000000-0000-4000-8000-000000000003', subject_key, "
                           f"matter, proofs, consumer_department, channel, granted_at, expires_at, items "
                           f"FROM consents WHERE id = '{consent_id}'")
    changed = run_cli(env, "audit", "verify")
    assert changed.returncode == 1 and "访问日志完整" in changed.stdout, changed.stdout + changed.stderr
    assert "授权表有 2 处与访问日志不符" in changed.stderr and "1 条在日志中没有条件相同的授权记录" in changed.stderr
    assert "1 条日志记载已撤回或已随申请结束而授权表未记载" in changed.stderr, changed.stderr

    sql_rows(database_url, f"DELETE FROM consents WHERE id IN ('{consent_id}', '00000000-0000-4000-8000-000000000003')")
    deleted = run_cli(env, "audit", "verify")
    assert deleted.returncode == 1 and "1 项日志记载的授权在授权表中已不存在" in deleted.stderr, deleted.stderr


def test_audit_verify_names_the_first_bad_entry(env: dict[str, str], database_url: str) -> None:
    empty_ledger(database_url)
    with standalone_session(database_url) as session:
        for n in range(4):
            append_access(session, AccessEntry(outcome=Outcome.ALLOWED, request_id=f"req-{n}", purpose="审核"))
    intact = run_cli(env, "audit", "verify")
    assert intact.returncode == 0 and "共 6 条" in intact.stdout  # the catalog's, the demo system's, then these
    head = intact.stdout.strip().splitlines()[-1].split("：", 1)[1]
    assert run_cli(env, "audit", "verify", "--head", head).returncode == 0

    sql_rows(database_url, "UPDATE access_log SET purpose = '篡改' WHERE seq = 4")
    tampered = run_cli(env, "audit", "verify")
    assert tampered.returncode == 1
    assert tampered.stderr.strip() == "错误：访问日志第 4 条内容与其摘要不符（条目被修改或调换位置）；此前 3 条完整。"


def test_an_emptied_log_is_not_called_checked_without_an_anchor(env: dict[str, str], database_url: str) -> None:
    """Deleting every entry leaves no chain to compare: the check says the log is empty and that
    only a head kept before can tell an emptied log from a new one, and with that head it fails.
    Even without one, the catalog version whose publication the log recorded is now unrecorded."""
    empty_ledger(database_url)
    with standalone_session(database_url) as session:
        for n in range(2):
            append_access(session, AccessEntry(outcome=Outcome.ALLOWED, request_id=f"req-{n}", purpose="审核"))
    head = run_cli(env, "audit", "verify").stdout.strip().splitlines()[-1].split("：", 1)[1]
    sql_rows(database_url, "DELETE FROM access_log")
    emptied = run_cli(env, "audit", "verify")
    assert emptied.returncode == 1 and "访问日志为空" in emptied.stdout, emptied.stdout
    assert "校验通过" not in emptied.stdout and "--head" in emptied.stdout, emptied.stdout
    assert "1 个目录版本与日志中的发布记录不同或没有发布记录" in emptied.stderr, emptied.stderr
    assert run_cli(env, "audit", "verify", "--head", head).returncode == 1


def test_audit_verify_does_not_vouch_for_what_an_insider_rewrote(env: dict[str, str], database_url: str) -> None:
    """An insider edits entry 5 and recomputes its hash. Without an anchor the broken link after it
    shows, and only the entries before the edited one are called intact. An anchor kept at entry 4
    vouches for entries 1-4; what follows it is only linked up, and the command says so."""
    from sqlalchemy import select

    from exchange.access_log import AccessRecord, entry_hash

    empty_ledger(database_url)
    with standalone_session(database_url) as session:
        for n in range(2):
            append_access(session, AccessEntry(outcome=Outcome.ALLOWED, request_id=f"req-{n}", purpose="审核"))
    anchored = run_cli(env, "audit", "verify").stdout.strip().splitlines()[-1].split("：", 1)[1]
    with standalone_session(database_url) as session:
        for n in range(2, 5):
            append_access(session, AccessEntry(outcome=Outcome.ALLOWED, request_id=f"req-{n}", purpose="审核"))
    later = run_cli(env, "audit", "verify", "--head", anchored)
    assert later.returncode == 0 and "第 1–4 条与锚定的链头一致；其后 3 条首尾衔接" in later.stdout, later.stdout
    assert "完整" not in later.stdout
    # the head it prints is not offered as the next anchor before it is compared with one kept elsewhere
    assert "可作为锚定值另行保存" not in later.stdout and "核对一致后" in later.stdout.splitlines()[-2]

    with standalone_session(database_url) as session:
        entry = session.scalars(select(AccessRecord).where(AccessRecord.seq == 5)).one()
        entry.purpose = "内部核查"
        entry.entry_hash = entry_hash(entry.prev_hash, entry.seq, entry.recorded_at, entry.values())
        session.commit()
    broken = run_cli(env, "audit", "verify")
    assert broken.returncode == 1 and broken.stderr.strip().startswith("错误：访问日志第 6 条"), broken.stderr
    assert broken.stderr.strip().endswith("此前 4 条完整。"), broken.stderr


def test_every_scope_can_be_given_and_listed(env: dict[str, str]) -> None:
    from exchange.clients import ClientScope

    for scope in ClientScope:
        added = run_cli(env, "client", "add", "MZ", "某系统", "--scope", scope.value)
        assert added.returncode == 0 and added.stdout.strip().startswith("mzc_"), added.stderr
        assert "权限：" + scope.value + "（" in added.stderr
    assert run_cli(env, "client", "list").returncode == 0
