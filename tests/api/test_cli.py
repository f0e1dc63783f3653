"""The `mianzheng` command as an operator uses it: set-up, catalog validation, publication
and display, with exit codes scripts can rely on and one-line errors."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from typing import Any
from pathlib import Path

import pytest

from api.cli.context import EXIT_NOT_READY
from api.settings import Settings
from catalog.loading import bundled_catalog_path
from catalog.model import Catalog
from tests.support.cli import cli_environment, run_cli


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return cli_environment(database_url, tmp_path / "var")


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(bundled_catalog_path(), target)
    return target


def test_init_is_safe_to_repeat(env: dict[str, str]) -> None:
    result = run_cli(env, "init")
    assert result.returncode == 0, result.stderr
    assert "现行目录为第 1 版，保持不变" in result.stdout


def test_init_without_the_key_files_says_what_is_missing(env: dict[str, str], tmp_path: Path) -> None:
    """A database restored without `var/keys` (the seal and root keys are files beside it): init
    says which file is missing and where the keys belong, in one line, not a traceback."""
    shutil.rmtree(tmp_path / "var" / "keys")
    result = run_cli(env, "init")
    assert result.returncode == EXIT_NOT_READY, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("错误：") and ".key" in line and "keys" in line, line


def test_init_on_a_database_restored_without_its_secrets_makes_none_and_says_to_restore_them(
        env: dict[str, str], tmp_path: Path) -> None:
    """ID numbers are looked up under the subject hash key and personal data is sealed under the
    encryption keys. A database restored without `var/secrets` and given new ones would pass every
    check and read nothing: a consent list would say 没有任何授权记录. init refuses, in one line,
    a missing secret, another installation's, and a lost key that data is sealed under."""
    secrets = tmp_path / "var" / "secrets"
    kept = tmp_path / "kept-secrets"
    shutil.move(secrets, kept)

    def refused(*words: str) -> None:
        result = run_cli(env, "init")
        assert result.returncode == EXIT_NOT_READY, result.stdout + result.stderr
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("错误：") and all(word in line for word in words), line

    refused("subject-hash-key", "key-passphrase", "备份")
    assert not secrets.exists() or not any(secrets.rglob("*"))  # nothing generated
    shutil.copytree(kept, secrets)
    (secrets / "subject-hash-key").write_text("another installation's key")
    refused("subject-hash-key", "不符", "备份")
    shutil.rmtree(secrets)
    shutil.copytree(kept, secrets)
    for key in (secrets / "encryption-keys").iterdir():
        key.unlink()
    refused("加密密钥 1", "备份")
    shutil.rmtree(secrets)
    shutil.copytree(kept, secrets)
    restored = run_cli(env, "init")
    assert restored.returncode == 0, restored.stderr


def test_a_restore_refused_half_way_records_nothing_the_right_secrets_would_be_refused_by(
        env: dict[str, str], database_url: str, tmp_path: Path) -> None:
    """A database from before the fingerprints, restored beside another installation's secrets:
    init stops at the key files its passphrase does not open, and must not have taken that
    installation's keys for this one's, nor its address: the right secrets, put back, are taken."""
    from sqlalchemy import delete

    from api.database import standalone_session
    from api.setup_steps import SetupStep

    with standalone_session(database_url) as session:  # as a database from before the fingerprints
        session.execute(delete(SetupStep).where(SetupStep.name.startswith("secret:")))
    secrets, kept = tmp_path / "var" / "secrets", tmp_path / "kept-secrets"
    shutil.move(secrets, kept)
    (secrets / "encryption-keys").mkdir(parents=True)
    for name in ("key-passphrase", "subject-hash-key", "encryption-keys/1"):
        (secrets / name).write_text(os.urandom(16).hex())
    (tmp_path / "var" / "public-url").unlink()
    refused = run_cli({**env, "MIANZHENG_PUBLIC_URL": "http://127.0.0.1:8000"}, "init")
    assert refused.returncode == EXIT_NOT_READY, refused.stdout + refused.stderr
    assert not (tmp_path / "var" / "public-url").exists()
    shutil.rmtree(secrets)
    shutil.copytree(kept, secrets)
    restored = run_cli(env, "init")
    assert restored.returncode == 0 and "轮换" not in restored.stdout, restored.stdout + restored.stderr


def test_a_key_removed_before_anything_was_sealed_under_it_may_be_made_again(env: dict[str, str],
                                                                             tmp_path: Path) -> None:
    keys = tmp_path / "var" / "secrets" / "encryption-keys"
    stray = keys / str(max(int(path.name) for path in keys.iterdir()) + 1)
    stray.write_text(os.urandom(16).hex())
    assert run_cli(env, "init").returncode == 0  # the stray key is seen (and is the current key now)
    stray.unlink()
    assert run_cli(env, "keys", "rotate").returncode == 0  # the same id, another key
    assert run_cli(env, "keys", "reencrypt").returncode == 0
    again = run_cli(env, "init")
    assert again.returncode == 0, again.stderr


def test_validate_the_bundled_catalog(env: dict[str, str]) -> None:
    result = run_cli(env, "catalog", "validate", str(bundled_catalog_path()))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("目录有效")


def test_a_broken_catalog_is_refused_whole_and_changes_nothing(env: dict[str, str], catalog_copy: Path) -> None:
    proofs = catalog_copy / "proofs.yaml"
    proofs.write_text(proofs.read_text(encoding="utf-8").replace("department: BDC", "department: NOWHERE", 1),
                      encoding="utf-8")
    for command in ("validate", "publish"):
        result = run_cli(env, "catalog", command, str(catalog_copy))
        assert result.returncode == 1
        assert "proofs.yaml: " in result.stderr and "NOWHERE" in result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith("错误：目录无效")
    versions = run_cli(env, "catalog", "versions")
    assert versions.stdout.count("第 ") == 1


def test_a_department_a_publication_adds_is_told_to_need_its_seal(env: dict[str, str], catalog_copy: Path) -> None:
    """A publication that adds a department (体育局) says it cannot sign anything until its seal is
    issued; publishing said nothing, and the department first got a seal at the next init."""
    from catalog.credit_code import complete_uscc

    departments = catalog_copy / "departments.yaml"
    departments.write_text(departments.read_text(encoding="utf-8") + (
        f"\n- code: TY\n  name_zh: 体育局\n  name_en: Sports Bureau\n  legal_name_zh: 金华市体育局\n"
        f"  uscc: {complete_uscc('11330700MB000099')}\n"), encoding="utf-8")
    published = run_cli(env, "catalog", "publish", str(catalog_copy))
    assert published.returncode == 0, published.stderr
    assert "TY" in published.stdout and "mianzheng seal issue TY" in published.stdout, published.stdout
    assert run_cli(env, "seal", "issue", "TY").returncode == 0
    again = run_cli(env, "catalog", "publish", str(catalog_copy))
    assert "seal issue" not in again.stdout, again.stdout


def test_a_publication_that_another_overtakes_is_refused_in_one_line(
        env: dict[str, str], database_url: str, catalog_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two catalog administrators publish at once: the one that read the live version before the
    other's version was committed publishes nothing, and is told so in one line, not a traceback."""
    from api.database import standalone_session
    from catalog import versions
    from catalog.loading import load_catalog

    departments = catalog_copy / "departments.yaml"
    departments.write_text(departments.read_text(encoding="utf-8").replace("公安局", "市公安局", 1), encoding="utf-8")
    reading, overtakes = versions.latest_version, [load_catalog(catalog_copy)]

    def overtaken(session):  # type: ignore[no-untyped-def]
        live = reading(session)
        if overtakes:  # the other administrator publishes now
            with standalone_session(database_url) as other:
                versions.publish(other, overtakes.pop(), "另一管理员")
        return live

    monkeypatch.setattr(versions, "latest_version", overtaken)
    result = run_cli(env, "catalog", "publish", str(catalog_copy))
    assert result.returncode == 5, result.stdout + result.stderr  # a conflict, not invalid input
    assert len(result.stderr.strip().splitlines()) == 1 and "未发布" in result.stderr, result.stderr
    monkeypatch.setattr(versions, "latest_version", reading)
    listing = run_cli(env, "catalog", "versions").stdout.splitlines()
    assert listing[0].startswith("第 2 版") and "另一管理员" in listing[0]


def test_a_publication_edited_from_a_version_no_longer_live_is_refused(env: dict[str, str],
                                                                       catalog_copy: Path) -> None:
    """Two administrators edit version 1; the first publishes version 2. The second, naming the
    version it edited from, is told and publishes nothing, instead of replacing version 2."""
    departments = catalog_copy / "departments.yaml"
    text = departments.read_text(encoding="utf-8")
    departments.write_text(text.replace("公安局", "市公安局", 1), encoding="utf-8")
    first = run_cli(env, "catalog", "publish", str(catalog_copy), "--base", "1")
    assert first.returncode == 0 and "第 2 版" in first.stdout, first.stderr
    departments.write_text(text.replace("民政局", "市民政局", 1), encoding="utf-8")
    second = run_cli(env, "catalog", "publish", str(catalog_copy), "--base", "1")
    assert second.returncode == 5 and "现行目录已是第 2 版" in second.stderr, second.stderr
    assert run_cli(env, "catalog", "versions").stdout.count("第 ") == 2


def test_publish_creates_a_version_only_for_new_content(env: dict[str, str], catalog_copy: Path) -> None:
    same = run_cli(env, "catalog", "publish", str(catalog_copy))
    assert same.returncode == 0 and "未新建版本" in same.stdout
    departments = catalog_copy / "departments.yaml"
    departments.write_text(departments.read_text(encoding="utf-8").replace("公安局", "市公安局", 1), encoding="utf-8")
    changed = run_cli(env, "catalog", "publish", str(catalog_copy), "--by", "目录管理员", "--note", "更名")
    assert changed.returncode == 0, changed.stderr
    assert "已发布目录第 2 版" in changed.stdout
    listing = run_cli(env, "catalog", "versions").stdout.splitlines()
    assert listing[0].startswith("第 2 版") and "目录管理员" in listing[0]
    assert "市公安局" in run_cli(env, "catalog", "show", "GA").stdout


def test_a_department_renamed_in_the_catalog_is_told_to_have_its_seal_renamed(env: dict[str, str],
                                                                           catalog_copy: Path) -> None:
    """A department's legal name changes (机构改革): its seal still names the old one, so a PDF
    reader shows the old name on what the new name issues. Publishing says so and names the
    command; the jobs say so on every pass until it is done; rotating takes the catalog's name."""
    departments = catalog_copy / "departments.yaml"
    departments.write_text(departments.read_text(encoding="utf-8").replace("legal_name_zh: 金华市公安局",
                                                                        "legal_name_zh: 金华市公安局（新）", 1),
                           encoding="utf-8")
    published = run_cli(env, "catalog", "publish", str(catalog_copy))
    assert published.returncode == 0, published.stderr
    assert "金华市公安局（新）" in published.stdout and "mianzheng seal rotate GA" in published.stdout, published.stdout
    assert "mianzheng seal rotate GA" in run_cli(env, "init").stdout
    rotated = run_cli(env, "seal", "rotate", "GA")
    assert rotated.returncode == 0 and "金华市公安局（新）" in rotated.stdout, rotated.stdout + rotated.stderr
    listed = [line for line in run_cli(env, "seal", "list", "GA").stdout.splitlines() if "active" in line or "有效" in line]
    assert listed and "金华市公安局（新）" in listed[0], listed
    assert "seal rotate" not in run_cli(env, "init").stdout


def test_an_earlier_version_is_exported_and_published_again_to_roll_back(env: dict[str, str], catalog_copy: Path,
                                                                         tmp_path: Path) -> None:
    """A bad publication is rolled back from the catalog's own history, not from files someone
    kept: version 1 is exported and published again (as version 3, the history only grows)."""
    departments = catalog_copy / "departments.yaml"
    departments.write_text(departments.read_text(encoding="utf-8").replace("公安局", "市公安局", 1), encoding="utf-8")
    assert run_cli(env, "catalog", "publish", str(catalog_copy), "--base", "1").returncode == 0
    exported = run_cli(env, "catalog", "export", str(tmp_path / "v1.json"), "--version", "1")
    assert exported.returncode == 0 and "--base 1" in exported.stdout, exported.stderr
    rolled_back = run_cli(env, "catalog", "publish", str(tmp_path / "v1.json"), "--base", "2", "--note", "回退")
    assert rolled_back.returncode == 0 and "第 3 版" in rolled_back.stdout, rolled_back.stderr
    listing = run_cli(env, "catalog", "versions").stdout.splitlines()
    assert listing[0].split("sha256:")[1][:16] == listing[2].split("sha256:")[1][:16]  # version 3 is version 1 again
    assert "（公安局，" in run_cli(env, "catalog", "show", "GA").stdout  # the short name as version 1 had it
    missing = run_cli(env, "catalog", "export", str(tmp_path / "v9.json"), "--version", "9")
    assert missing.returncode == 3 and "第 9 版" in missing.stderr and not (tmp_path / "v9.json").exists()
    nowhere = run_cli(env, "catalog", "export", str(tmp_path / "no-such-folder" / "v1.json"))
    assert nowhere.returncode == EXIT_NOT_READY and "Traceback" not in nowhere.stderr, nowhere.stderr
    assert nowhere.stderr.startswith("错误：无法写入") and "文件夹不存在" in nowhere.stderr, nowhere.stderr
    for command in (["seal", "image", "BDC", "--out", str(tmp_path / "no-such-folder" / "seal.png")],
                    ["seal", "export-trust", "/proc/no-such-folder"]):
        refused = run_cli(env, *command)
        assert refused.returncode == EXIT_NOT_READY and "Traceback" not in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1 and refused.stderr.startswith("错误：无法写入"), refused.stderr


def test_show_an_entry_and_an_unknown_code(env: dict[str, str]) -> None:
    shown = run_cli(env, "catalog", "show", "TEACHER_QUALIFICATION")
    assert shown.returncode == 0
    assert "无犯罪记录证明：告知承诺" in shown.stdout
    unknown = run_cli(env, "catalog", "show", "NO_SUCH_CODE")
    assert unknown.returncode == 3
    assert len(unknown.stderr.strip().splitlines()) == 1


def test_show_says_how_a_matter_is_decided(env: dict[str, str], bundled: Catalog) -> None:
    housing = bundled.matters["PUBLIC_RENTAL_HOUSING"]
    shown = run_cli(env, "catalog", "show", housing.code).stdout
    single = housing.entry("SINGLE_DECLARATION")
    assert f"条件：{single.condition_zh}（{single.when}）" in shown
    assert "婚姻状况证明（婚姻登记记录）：电子证照" in shown and "数据无法获取时可告知承诺替代" in shown
    assert all(f"资格条件：{rule.name_zh}" in shown for rule in housing.rules)
    assert housing.recheck is not None and f"{housing.recheck.name_zh}：规则 {'、'.join(housing.recheck.rules)}" in shown
    assert "办理选项：申请优先配租（priority_allocation，默认 否）" in shown
    newborn = run_cli(env, "catalog", "show", "NEWBORN_BIRTH").stdout
    assert all(f"联办部门：{service.name_zh}" in newborn for service in bundled.matters["NEWBORN_BIRTH"].services)
    income = run_cli(env, "catalog", "show", "INCOME").stdout
    assert "告知承诺的事后核查：调取收入证明（家庭经济状况），按规则核对：" in income
    line = bundled.city["public_housing_income_line_monthly"]
    assert f"城市标准：{line.name_zh} {line.value:g} {line.unit_zh}" in run_cli(env, "catalog", "show").stdout


def test_commands_refuse_an_uninitialised_database(tmp_path: Path) -> None:
    env = cli_environment(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path / "var")
    result = run_cli(env, "catalog", "show")
    assert result.returncode == 4
    assert "mianzheng init" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.postgres
def test_a_database_that_cannot_be_reached_or_does_not_exist_is_not_told_to_run_init(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """init cannot mend a database server that is down, nor create a PostgreSQL database: telling
    the operator to run init (from init itself) sends them in a circle."""
    from tests.support.postgres import free_port

    down = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/mianzheng"
    cluster = request.getfixturevalue("postgres_cluster")
    nobody = cluster.database_url("mianzheng").replace("postgres@", "no_such_role@")
    for url, words in ((down, ("无法连接数据库", "127.0.0.1")), (cluster.database_url("no_such_database"),
                                                               ("不存在", "no_such_database", "创建")),
                       (nobody, ("拒绝登录", "用户名")),
                       (f"sqlite:///{tmp_path / 'no-such-folder' / 'mz.db'}", ("无法打开数据库文件", "文件夹"))):
        for command in (["init"], ["seal", "list"]):
            result = run_cli(cli_environment(url, tmp_path / "var"), *command)
            assert result.returncode == EXIT_NOT_READY and "Traceback" not in result.stderr, result.stderr
            [line] = result.stderr.strip().splitlines()
            assert all(word in line for word in words) and "请先运行 mianzheng init" not in line, line


def test_a_read_only_database_is_said_to_be_read_only_not_uninitialised(settings: Settings, database_url: str) -> None:
    """An auditor's read-only copy, or var/ mounted read-only: a command that writes says the
    database cannot be written to, not to run init (which would fail the same way)."""
    if not database_url.startswith("sqlite"):
        pytest.skip("a read-only file is SQLite's")
    path = database_url.removeprefix("sqlite:///")
    env = cli_environment(f"sqlite:///file:{path}?mode=ro&uri=true", settings.var_dir)
    assert run_cli(env, "client", "list").returncode == 0  # reading works
    result = run_cli(env, "client", "add", "ZJ", "只读测试", "--scope", "exchange:request")
    assert result.returncode == 4 and "只读" in result.stderr and "mianzheng init" not in result.stderr, result.stderr


def test_init_where_var_cannot_be_written_names_the_folder_and_why(tmp_path: Path) -> None:
    """var/ on a read-only mount, a full disk or a path through a file: init says in one line
    which path it could not write and why, not a traceback."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    var = blocker / "var"
    result = run_cli(cli_environment(f"sqlite:///{tmp_path / 'mz.db'}", var), "init")
    assert result.returncode == 4 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("错误：无法写入") and str(var) in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_init_where_var_is_a_file_says_so(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.write_text("")
    result = run_cli(cli_environment(f"sqlite:///{tmp_path / 'mz.db'}", var), "init")
    assert result.returncode == 4 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith(f"错误：无法写入 {var}：") and "不是目录" in result.stderr, result.stderr


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """A tmpfs of the given size and options, unmounted after the test (mounting takes root)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a file system takes root")
    mounted: list[Path] = []

    def mount(options: str) -> Path:
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)]).returncode != 0:
            pytest.skip("this machine lets no file system be mounted")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=True)


def test_init_on_a_read_only_mount_says_it_is_read_only(small_disk: Callable[[str], Path], tmp_path: Path) -> None:
    result = run_cli(cli_environment(f"sqlite:///{tmp_path / 'mz.db'}", small_disk("size=1m,ro")), "init")
    assert result.returncode == 4 and "只读" in result.stderr and "Traceback" not in result.stderr, result.stderr


@pytest.mark.parametrize("size", ["8k", "12k", "24k", "30m"])  # a secret, a key, the database, demo data
def test_init_on_a_full_disk_says_so_and_leaves_no_partial_file(small_disk: Callable[[str], Path], size: str) -> None:
    var = small_disk(f"size={size}") / "var"
    result = run_cli(cli_environment(f"sqlite:///{var / 'mz.db'}", var), "init")
    assert result.returncode == 4 and "Traceback" not in result.stderr, result.stderr
    assert "磁盘" in result.stderr and "请先运行 mianzheng init" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not list(var.rglob("*.partial"))


def test_a_trust_export_that_runs_out_of_disk_leaves_the_last_one_whole(
        env: dict[str, str], small_disk: Callable[[str], Path], tmp_path: Path) -> None:
    """A verifier refreshing its trust folder on a disk that fills: the export must not leave its new
    export time beside the old seals (a genuine QR code of a newer seal would read forged), nor a
    seal certificate cut short (the folder would not load at all). The folder stays as it was."""
    first = tmp_path / "first"
    assert run_cli(env, "seal", "export-trust", str(first)).returncode == 0
    trust = small_disk("size=300k") / "trust"
    shutil.copytree(first, trust)  # room for one export, not for a second beside it
    before = {path.relative_to(trust): path.read_bytes() for path in trust.rglob("*") if path.is_file()}
    result = run_cli(env, "seal", "export-trust", str(trust))
    assert result.returncode == EXIT_NOT_READY and "Traceback" not in result.stderr, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"错误：无法写入 {trust}") and "磁盘已满" in line, line
    assert {path.relative_to(trust): path.read_bytes() for path in trust.rglob("*") if path.is_file()} == before


def test_a_certificate_issued_at_the_counter_onto_a_full_disk_is_said_issued_and_leaves_no_file_cut_short(
        env: dict[str, str], small_disk: Callable[[str], Path], tmp_path: Path) -> None:
    """The certificate is issued and logged before its files are written: a disk that fills then
    must not leave a PDF cut short, and the caseworker must hear it was issued and where the
    holder finds it, not a traceback."""
    from demo.data import sample_residents

    resident = sample_residents(tmp_path / "var" / "sources", 1)[0]
    out = small_disk("size=16k") / "out"
    result = run_cli(env, "certificate", "issue", "--id-number", resident.id_number, "--name", resident.name,
                     "--proof", "NO_HOUSING", "--purpose", "申请公共租赁住房", "--out", str(out), "--operator", "GK-0007")
    assert result.returncode == EXIT_NOT_READY and "Traceback" not in result.stderr, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "已开具" in line and "磁盘已满" in line and "我的电子证明" in line and str(out) in line, line
    assert resident.id_number not in line
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.parametrize("command", [[], ["init"], ["serve"], ["catalog"], ["catalog", "validate"],
                                     ["catalog", "publish"], ["catalog", "show"], ["catalog", "versions"]])
def test_help_everywhere(tmp_path: Path, command: list[str]) -> None:
    result = run_cli(cli_environment(f"sqlite:///{tmp_path / 'x.db'}", tmp_path), *command, "--help")
    assert result.returncode == 0
    assert "用法：" in result.stdout and "Usage" not in result.stdout


def test_a_seal_command_before_init_says_to_run_init(tmp_path: Path) -> None:
    """A fresh folder has no key passphrase yet: the seal officer is told what to do, not shown a traceback."""
    var = tmp_path / "fresh-var"
    result = run_cli({**cli_environment(f"sqlite:///{tmp_path / 'fresh.db'}", var), "MIANZHENG_DEV_IDP": "0"},
                     "seal", "init-ca")
    assert result.returncode == EXIT_NOT_READY
    assert "缺少密钥材料，请先运行 mianzheng init" in result.stderr and "Traceback" not in result.stderr


def _edit(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    import yaml

    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    path.write_text(yaml.safe_dump(change(entries), allow_unicode=True), encoding="utf-8")


def test_a_catalog_text_the_certificates_cannot_print_is_refused(env: dict[str, str], catalog_copy: Path) -> None:
    """A label with a character the certificates' typeface lacks (m³), or a name of invisible
    characters only: published, every online issuance of the proof would be refused (422) and
    the name blank on the public 清单."""
    def relabel(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for proof in entries:
            if proof["code"] == "REAL_ESTATE_CERT":
                next(i for i in proof["data_items"] if i["name"] == "area_sqm")["name_zh"] = "建筑面积（m³）"
            if proof["code"] == "NO_HOUSING":
                proof["name_zh"] = "\u200b\u200b"
        return entries

    _edit(catalog_copy / "proofs.yaml", relabel)
    for command in ("validate", "publish"):
        result = run_cli(env, "catalog", command, str(catalog_copy))
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert "REAL_ESTATE_CERT.data_items[area_sqm].name_zh: cannot be printed" in result.stderr, result.stderr
        assert "U+00B3" in result.stderr and "NO_HOUSING.name_zh: cannot be printed" in result.stderr
        assert "U+200B" in result.stderr
    assert run_cli(env, "catalog", "versions").stdout.count("第 ") == 1


@pytest.mark.parametrize("case", ["no_exchange", "validity_days", "huge_number", "deep_yaml"])
def test_a_catalog_that_would_break_the_service_is_refused_in_one_line(env: dict[str, str], catalog_copy: Path,
                                                                     case: str) -> None:
    """Each of these was published before, then every verification of a license (no SJ), every
    无房证明 issuance (10^9 days) or the validation itself (10^400, nesting) answered 500."""
    if case == "no_exchange":
        _edit(catalog_copy / "departments.yaml", lambda entries: [e for e in entries if e["code"] != "SJ"])
    elif case == "validity_days":
        _edit(catalog_copy / "proofs.yaml",
              lambda entries: [{**e, "validity_days": 10**9} if e["code"] == "NO_HOUSING" else e for e in entries])
    elif case == "huge_number":
        city = catalog_copy / "city.yaml"
        city.write_text(city.read_text(encoding="utf-8").replace("value: 1205.0", "value: 1" + "0" * 400, 1),
                        encoding="utf-8")
    else:
        (catalog_copy / "city.yaml").write_text("- " * 20_000 + "x\n", encoding="utf-8")
    validated = run_cli(env, "catalog", "validate", str(catalog_copy))  # the check says what publishing would
    assert validated.returncode == 1 and validated.stderr.strip().splitlines()[-1].startswith("错误："), validated
    result = run_cli(env, "catalog", "publish", str(catalog_copy))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-300:]
    assert result.stderr.strip().splitlines()[-1].startswith("错误：")
    assert run_cli(env, "catalog", "versions").stdout.count("第 ") == 1
