"""Allocations hold per municipality across dataset versions; decisions are append-only.

- ``datasets.municipality``: the municipality a dataset is of (the manifest's
  ``[municipality] code``, else its name), filled in for datasets already registered by reading
  their manifest when the folder is still there, else from the dataset's name.
- ``dataset_dwellings``: the dwelling ids of a dataset, so that a decision naming a dwelling
  that is in no dataset is refused.
- ``allocations.municipality`` and the double-booking guard on (municipality, dwelling) and
  (municipality, household) instead of (dataset, ...): an approval on one version of the data
  holds on the next one. Where an older database already holds one dwelling (or household)
  twice in a municipality (possible before this revision, once an input file changed), the
  earliest allocation is kept and every later one is released by an ``undo`` decision of
  ``placement db upgrade`` that names the allocation it clashed with, logged in the audit log.
- Triggers refuse UPDATE and DELETE on ``decisions`` (and TRUNCATE on PostgreSQL).
- ``audit_log`` indexed by (action, at), for counting recent failed sign-ins.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

ID = sa.String(200)
UPGRADE_USER = "placement db upgrade"

_datasets = sa.table(
    "datasets",
    sa.column("id", sa.Integer),
    sa.column("name", ID),
    sa.column("source_path", sa.Text),
    sa.column("municipality", ID),
)
_allocations = sa.table(
    "allocations",
    sa.column("id", sa.Integer),
    sa.column("dataset_id", sa.Integer),
    sa.column("municipality", ID),
    sa.column("household_id", ID),
    sa.column("dwelling_id", ID),
    sa.column("action", sa.String(10)),
    sa.column("decision_id", sa.Integer),
    sa.column("active", sa.Boolean),
    sa.column("released_by_decision_id", sa.Integer),
    sa.column("released_at", sa.DateTime(timezone=True)),
)
_decisions = sa.table(
    "decisions",
    sa.column("id", sa.Integer),
    sa.column("dataset_id", sa.Integer),
    sa.column("run_id", sa.Integer),
    sa.column("household_id", ID),
    sa.column("dwelling_id", ID),
    sa.column("action", sa.String(10)),
    sa.column("decided_by", ID),
    sa.column("decided_at", sa.DateTime(timezone=True)),
    sa.column("reason", sa.Text),
)
_audit = sa.table(
    "audit_log",
    sa.column("id", sa.Integer),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("user", ID),
    sa.column("action", sa.String(60)),
    sa.column("entity", sa.String(60)),
    sa.column("entity_id", ID),
    sa.column("details", sa.JSON),
)


def _manifest_municipality(source_path: str | None, name: str) -> str:
    """The manifest's municipality code when the folder can still be read, else ``name``."""
    try:
        manifest = Path(str(source_path)) / "dataset.toml"
        content = tomllib.loads(manifest.read_text(encoding="utf-8"))
        code = str(content.get("municipality", {}).get("code") or "").strip()
    except (OSError, ValueError, AttributeError):
        code = ""
    return code or name


def _fill_municipality() -> None:
    if context.is_offline_mode():
        op.execute("UPDATE datasets SET municipality = name")
    else:
        bind = op.get_bind()
        for row in bind.execute(sa.select(_datasets.c.id, _datasets.c.name,
                                          _datasets.c.source_path)).all():
            bind.execute(
                _datasets.update()
                .where(_datasets.c.id == row.id)
                .values(municipality=_manifest_municipality(row.source_path, row.name))
            )
    op.execute(
        "UPDATE allocations SET municipality = "
        "(SELECT datasets.municipality FROM datasets WHERE datasets.id = allocations.dataset_id)"
    )


def _release_double_bookings() -> None:
    """Keep the earliest active allocation per municipality and dwelling/household."""
    if context.is_offline_mode():
        return
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_allocations).where(_allocations.c.active.is_(True)).order_by(_allocations.c.id)
    ).all()
    by_dwelling: dict[tuple[str, str], object] = {}
    by_household: dict[tuple[str, str], object] = {}
    now = datetime.now(UTC)
    for row in rows:
        kept = by_dwelling.get((row.municipality, row.dwelling_id)) or by_household.get(
            (row.municipality, row.household_id)
        )
        if kept is None:
            by_dwelling[(row.municipality, row.dwelling_id)] = row
            by_household[(row.municipality, row.household_id)] = row
            continue
        reason = (
            f"released by the database upgrade: dwelling {row.dwelling_id} / household "
            f"{row.household_id} was also held by allocation {kept.id} (household "
            f"{kept.household_id}, dwelling {kept.dwelling_id}, decision {kept.decision_id}), "
            "which is kept; decide again if this one should stand"
        )
        decision_id = bind.execute(
            _decisions.insert()
            .values(dataset_id=row.dataset_id, run_id=None, household_id=row.household_id,
                    dwelling_id=row.dwelling_id, action="undo", decided_by=UPGRADE_USER,
                    decided_at=now, reason=reason)
            .returning(_decisions.c.id)
        ).scalar_one()
        bind.execute(
            _allocations.update()
            .where(_allocations.c.id == row.id)
            .values(active=False, released_by_decision_id=decision_id, released_at=now)
        )
        bind.execute(
            _audit.insert().values(
                at=now, user=UPGRADE_USER, action="decision.undo", entity="decision",
                entity_id=str(decision_id),
                details={"dataset_id": row.dataset_id, "run_id": None,
                         "household_id": row.household_id, "dwelling_id": row.dwelling_id,
                         "reason": reason, "released_allocation_id": row.id,
                         "kept_allocation_id": kept.id},
            )
        )


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    op.add_column("datasets", sa.Column("municipality", ID, nullable=True))
    op.create_index("ix_datasets_municipality", "datasets", ["municipality"])
    op.create_table(
        "dataset_dwellings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("dwelling_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dataset_dwellings"),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            ondelete="CASCADE",
            name="fk_dataset_dwellings_dataset_id_datasets",
        ),
        sa.UniqueConstraint(
            "dataset_id", "dwelling_id", name="uq_dataset_dwellings_dataset_id_dwelling_id"
        ),
    )
    # NOT NULL at once (a server default fills existing rows, then the real values follow), so
    # SQLite needs no table rebuild.
    op.add_column(
        "allocations", sa.Column("municipality", ID, nullable=False, server_default="")
    )
    _fill_municipality()
    if dialect == "postgresql":
        op.alter_column("allocations", "municipality", server_default=None)
    _release_double_bookings()
    op.drop_index("uq_allocations_active_household", table_name="allocations")
    op.drop_index("uq_allocations_active_dwelling", table_name="allocations")
    for name, column in (
        ("uq_allocations_active_municipality_dwelling", "dwelling_id"),
        ("uq_allocations_active_municipality_household", "household_id"),
    ):
        op.create_index(
            name,
            "allocations",
            ["municipality", column],
            unique=True,
            sqlite_where=sa.text("active = 1"),
            postgresql_where=sa.text("active"),
        )
    _create_decisions_guard(dialect)
    op.create_index("ix_audit_log_action_at", "audit_log", ["action", "at"])


def _create_decisions_guard(dialect: str) -> None:
    """Refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) on decisions."""
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER decisions_no_{verb.lower()} BEFORE {verb} ON decisions "
                f"BEGIN SELECT RAISE(ABORT, 'decisions are append-only: {verb} refused'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION placement_decisions_append_only() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'decisions are append-only: % refused', TG_OP; "
            "END $$"
        )
        op.execute(
            "CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON decisions "
            "FOR EACH ROW EXECUTE FUNCTION placement_decisions_append_only()"
        )
        op.execute(
            "CREATE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON decisions "
            "FOR EACH STATEMENT EXECUTE FUNCTION placement_decisions_append_only()"
        )


def _drop_decisions_guard(dialect: str) -> None:
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS decisions_no_update")
        op.execute("DROP TRIGGER IF EXISTS decisions_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS decisions_append_only ON decisions")
        op.execute("DROP TRIGGER IF EXISTS decisions_no_truncate ON decisions")
        op.execute("DROP FUNCTION IF EXISTS placement_decisions_append_only()")


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    op.drop_index("ix_audit_log_action_at", table_name="audit_log")
    _drop_decisions_guard(dialect)
    op.drop_index("uq_allocations_active_municipality_household", table_name="allocations")
    op.drop_index("uq_allocations_active_municipality_dwelling", table_name="allocations")
    for name, column in (
        ("uq_allocations_active_dwelling", "dwelling_id"),
        ("uq_allocations_active_household", "household_id"),
    ):
        op.create_index(
            name,
            "allocations",
            ["dataset_id", column],
            unique=True,
            sqlite_where=sa.text("active = 1"),
            postgresql_where=sa.text("active"),
        )
    op.drop_column("allocations", "municipality")
    op.drop_table("dataset_dwellings")
    op.drop_index("ix_datasets_municipality", table_name="datasets")
    op.drop_column("datasets", "municipality")
