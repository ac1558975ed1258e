"""The list of domains (``yingji.domains``) is the one place a domain is added: every package
that looks like a domain is in it, the import contracts name every domain in it, no two domains
declare the same permission or timer kind, and a worker built from it handles every timer the
code schedules."""

from __future__ import annotations

import ast
import sys
import tomllib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from yingji import domains
from yingji.app import timer_worker
from yingji.core import domain as declarations
from yingji.core.db import Database
from yingji.core.domain import Domain
from yingji.core.security import Permission, Role, role_permissions
from yingji.core.timers import TimerFiring
from yingji.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "yingji"
#: a package holding any of these is a domain (DESIGN.md §2, one file per role)
ROLE_FILES = ("api.py", "models.py", "service.py", "flows.py", "jobs.py")
NOT_DOMAINS = {"core"}  # the kernel: declared by core.domain.KERNEL


def unlisted_domains(src: Path, listed: Iterable[str]) -> list[str]:
    """Packages under ``src`` that look like a domain but are not in ``listed``."""
    return sorted(
        package.name
        for package in src.iterdir()
        if (package / "__init__.py").is_file()
        and package.name not in NOT_DOMAINS
        and any((package / role).is_file() for role in ROLE_FILES)
        and package.name not in set(listed)
    )


def contract_gaps(contracts: list[dict[str, Any]], names: Iterable[str], src: Path) -> list[str]:
    """Where a contract lists domains (``yingji.<domain>`` or ``yingji.<domain>.<module>`` for
    two domains or more) but leaves out a listed domain (one that has that module)."""
    names = set(names)
    gaps = []
    for contract in contracts:
        for key in ("containers", "source_modules", "forbidden_modules"):
            modules = contract.get(key, [])
            by_suffix: dict[str, set[str]] = {}
            for module in modules:
                parts = module.split(".")
                if parts[0] == "yingji" and len(parts) in (2, 3) and parts[1] in names:
                    by_suffix.setdefault(".".join(parts[2:]), set()).add(parts[1])
            for suffix, named in by_suffix.items():
                if len(named) < 2:
                    continue
                expected = {
                    name for name in names if not suffix or (src / name / f"{suffix}.py").is_file()
                }
                gaps += [
                    f"{contract['name']}: {key} lacks yingji.{name}{'.' + suffix if suffix else ''}"
                    for name in sorted(expected - named)
                ]
    return gaps


def unguarded(contracts: list[dict[str, Any]], names: Iterable[str], src: Path) -> list[str]:
    """What the layering contracts leave unchecked: a listed domain with tables whose ``models``
    no ``protected`` contract keeps to that domain, and the domains' cycles when no
    ``acyclic_siblings`` contract covers ``yingji``."""
    protected = {
        module
        for contract in contracts
        if contract.get("type") == "protected"
        for module in contract.get("protected_modules", [])
        if contract.get("allowed_importers") == [module.rsplit(".", 1)[0]]
    }
    gaps = [
        f"yingji.{name}.models is not protected"
        for name in sorted(names)
        if (src / name / "models.py").is_file() and f"yingji.{name}.models" not in protected
    ]
    if not any(
        c.get("type") == "acyclic_siblings" and "yingji" in c.get("ancestors", [])
        for c in contracts
    ):
        gaps.append("no acyclic_siblings contract covers yingji")
    return gaps


def declared_twice(listed: Iterable[Domain]) -> list[str]:
    """Permissions and timer kinds that more than one declaration names."""
    counts = Counter(
        name
        for domain in listed
        for name in [*map(str, domain.permissions), *domain.timer_handlers]
    )
    return sorted(name for name, count in counts.items() if count > 1)


def scheduled_timer_kinds(src: Path) -> set[str]:
    """The kinds in every ``timers.schedule(..., kind=...)`` call under ``src``."""
    kinds = set()
    for path in src.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "schedule"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "timers"
            ):
                continue
            for keyword in node.keywords:
                if keyword.arg == "kind":
                    value = keyword.value
                    if isinstance(value, ast.Constant):
                        kinds.add(value.value)
                    elif isinstance(value, ast.Name):
                        kinds.add(constants[value.id])
                    else:
                        pytest.fail(f"{path}: a timer kind that is not a constant")
    return kinds


def contracts() -> list[dict[str, Any]]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        found: list[dict[str, Any]] = tomllib.load(file)["tool"]["importlinter"]["contracts"]
        return found


LISTED = [domain.name for domain in domains.DOMAINS]


def test_every_package_that_looks_like_a_domain_is_listed() -> None:
    assert unlisted_domains(SRC, LISTED) == []
    assert all((SRC / name / "domain.py").is_file() for name in LISTED)


def test_a_new_package_left_out_of_the_list_is_found(tmp_path: Path) -> None:
    (tmp_path / "example").mkdir()
    (tmp_path / "example" / "__init__.py").touch()
    (tmp_path / "example" / "service.py").touch()
    (tmp_path / "data").mkdir()  # shipped files, no domain
    assert unlisted_domains(tmp_path, LISTED) == ["example"]


def test_every_contract_that_lists_domains_names_every_listed_domain() -> None:
    assert contract_gaps(contracts(), LISTED, SRC) == []


def test_a_domain_left_out_of_a_contract_is_found() -> None:
    gaps = contract_gaps(contracts(), [*LISTED, "example"], SRC)
    assert "core imports no domain: forbidden_modules lacks yingji.example" in gaps
    assert any(gap.endswith("containers lacks yingji.example") for gap in gaps)
    assert all(gap.endswith("lacks yingji.example") for gap in gaps)


def test_every_domain_keeps_its_models_to_itself_and_no_domains_form_a_cycle() -> None:
    assert unguarded(contracts(), LISTED, SRC) == []


def test_a_domain_whose_models_no_contract_protects_is_found(tmp_path: Path) -> None:
    (tmp_path / "example").mkdir()
    (tmp_path / "example" / "models.py").write_text("")
    assert unguarded(contracts(), ["example"], tmp_path) == [
        "yingji.example.models is not protected"
    ]
    no_cycles_checked = [c for c in contracts() if c.get("type") != "acyclic_siblings"]
    assert unguarded(no_cycles_checked, [], tmp_path) == [
        "no acyclic_siblings contract covers yingji"
    ]


def test_no_two_domains_declare_the_same_permission_or_timer_kind() -> None:
    assert declared_twice(domains.EVERYTHING) == []
    assert {p for domain in domains.EVERYTHING for p in domain.permissions} == set(Permission)


def test_a_permission_or_timer_kind_declared_twice_is_found() -> None:
    async def fire(_session: object, _firing: TimerFiring) -> None:
        return None

    first = Domain(name="a", permissions={Permission.KPI_READ: frozenset()})
    second = Domain(
        name="b", permissions={Permission.KPI_READ: frozenset()}, timer_handlers={"k": fire}
    )
    third = Domain(name="c", timer_handlers={"k": fire})
    assert declared_twice([first, second, third]) == ["k", "kpi.read"]

    async def other(_session: object, _firing: TimerFiring) -> None:
        return None

    with pytest.raises(ValueError, match="declared twice"):
        declarations.timer_handlers([Domain(name="x", timer_handlers={"k": other}), second])


def test_no_package_shadows_a_standard_library_module() -> None:
    packages = [path.name for path in SRC.iterdir() if (path / "__init__.py").is_file()]
    assert "core" in packages
    assert [name for name in packages if name in sys.stdlib_module_names] == []
    assert "warnings" in sys.stdlib_module_names  # hence `warning`, the singular


async def test_a_worker_built_from_the_list_handles_every_timer_kind_the_code_schedules(
    settings: Settings,
) -> None:
    scheduled = scheduled_timer_kinds(SRC)
    assert {"audit.anchor", "dispatch.deadline", "incidents.first_report_due"} <= scheduled
    db = Database(settings.database_url)
    try:
        handlers = timer_worker(db, settings).handler_map
    finally:
        await db.dispose()
    assert handlers is not None
    assert scheduled - set(handlers) == set()


#: what each role held when the grants were one table in core.security (2026-12-06), with the
#: resources domain's grants since (issue 18) and the warning domain's (issue 19)
ROLE_PERMISSIONS_BEFORE = {
    Role.ADMIN: set(Permission),
    Role.COMMANDER: {
        "org.read", "events.read", "incident.read", "kpi.read",
        "incident.write", "dispatch.write", "report.create", "audit.read",
        "resource.read", "resource.write", "resource.request", "resource.approve",
        "warning.read", "warning.draft", "warning.review", "warning.sign", "warning.publish",
        "warning.manage", "warning.check",
        "duty.read", "duty.roster", "duty.write", "duty.check", "duty.report", "duty.approve",
        "archive.read", "archive.write",
    },
    Role.DUTY_LEADER: {
        "org.read", "events.read", "incident.read", "kpi.read",
        "incident.write", "dispatch.write", "report.create", "audit.read",
        "resource.read", "resource.write", "resource.request", "resource.approve",
        "warning.read", "warning.draft", "warning.review", "warning.publish",
        "warning.manage", "warning.check",
        "duty.read", "duty.roster", "duty.write", "duty.check", "duty.report", "duty.approve",
        "archive.read", "archive.write",
    },
    Role.DUTY_OFFICER: {
        "org.read", "events.read", "incident.read", "kpi.read",
        "incident.write", "dispatch.write", "report.create",
        "resource.read", "resource.request",
        "warning.read", "warning.draft", "warning.publish", "warning.check",
        "duty.read", "duty.write", "duty.report", "archive.read", "archive.write",
    },
    Role.UNIT_LIAISON: {
        "org.read", "events.read", "incident.read", "kpi.read", "order.act", "report.create",
        "resource.read", "warning.read",
    },
    Role.FIELD_WORKER: {
        "org.read", "events.read", "incident.read", "report.create", "order.act", "resource.read",
        "warning.read",
    },
    Role.EXPERT: {
        "org.read", "events.read", "incident.read", "kpi.read", "resource.read", "warning.read",
    },
    Role.VIEWER: {
        "org.read", "events.read", "incident.read", "kpi.read", "resource.read", "warning.read",
        "duty.read",
    },
}  # fmt: skip


def test_the_domains_grant_each_role_what_it_held_before() -> None:
    declarations.install(domains.EVERYTHING)
    assert {role: set(held) for role, held in role_permissions().items()} == (
        ROLE_PERMISSIONS_BEFORE
    )
