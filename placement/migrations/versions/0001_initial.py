"""Initial schema: every placement table, the double-booking guard and the audit-log guard.

Tables: datasets, dataset_files, scenarios, runs, proposals, decisions, allocations, audit_log,
residence_history.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

ID = sa.String(200)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", ID, nullable=False),
        sa.Column("source_path", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", ID, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_datasets"),
    )
    op.create_index("ix_datasets_content_sha256", "datasets", ["content_sha256"])

    op.create_table(
        "dataset_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dataset_files"),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            ondelete="CASCADE",
            name="fk_dataset_files_dataset_id_datasets",
        ),
        sa.UniqueConstraint("dataset_id", "path", name="uq_dataset_files_dataset_id_path"),
    )

    op.create_table(
        "scenarios",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", ID, nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=True),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", ID, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scenarios"),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name="fk_scenarios_dataset_id_datasets"
        ),
    )
    op.create_index("ix_scenarios_dataset_id", "scenarios", ["dataset_id"])

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("scenario_id", sa.Integer(), nullable=True),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("objective", sa.Double(), nullable=True),
        sa.Column("bound", sa.Double(), nullable=True),
        sa.Column("gap", sa.Double(), nullable=True),
        sa.Column("build_s", sa.Double(), nullable=True),
        sa.Column("solve_s", sa.Double(), nullable=True),
        sa.Column("term_columns", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("n_households", sa.Integer(), nullable=False),
        sa.Column("n_placed", sa.Integer(), nullable=False),
        sa.Column("package_version", sa.String(40), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", ID, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name="fk_runs_dataset_id_datasets"
        ),
        sa.ForeignKeyConstraint(
            ["scenario_id"], ["scenarios.id"], name="fk_runs_scenario_id_scenarios"
        ),
    )
    op.create_index("ix_runs_dataset_id", "runs", ["dataset_id"])
    op.create_index("ix_runs_scenario_id", "runs", ["scenario_id"])

    op.create_table(
        "proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("household_id", ID, nullable=False),
        sa.Column("dwelling_id", ID, nullable=True),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("unplaced_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_proposals"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], ondelete="CASCADE", name="fk_proposals_run_id_runs"
        ),
        sa.UniqueConstraint("run_id", "household_id", name="uq_proposals_run_id_household_id"),
    )

    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("household_id", ID, nullable=False),
        sa.Column("dwelling_id", ID, nullable=True),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("decided_by", ID, nullable=False),
        sa.Column("decided_at", TS, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_decisions"),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name="fk_decisions_dataset_id_datasets"
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_decisions_run_id_runs"),
        sa.CheckConstraint(
            "action IN ('approve', 'reject', 'lock', 'undo')", name=op.f("ck_decisions_action")
        ),
    )
    op.create_index("ix_decisions_dataset_id", "decisions", ["dataset_id"])
    op.create_index("ix_decisions_run_id", "decisions", ["run_id"])

    op.create_table(
        "allocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("household_id", ID, nullable=False),
        sa.Column("dwelling_id", ID, nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("released_by_decision_id", sa.Integer(), nullable=True),
        sa.Column("released_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_allocations"),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name="fk_allocations_dataset_id_datasets"
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decisions.id"], name="fk_allocations_decision_id_decisions"
        ),
        sa.ForeignKeyConstraint(
            ["released_by_decision_id"],
            ["decisions.id"],
            name="fk_allocations_released_by_decision_id_decisions",
        ),
        sa.CheckConstraint("action IN ('approve', 'lock')", name=op.f("ck_allocations_action")),
    )
    # The guard against double booking: one active allocation per dwelling and per household.
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

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("user", ID, nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("entity", sa.String(60), nullable=False),
        sa.Column("entity_id", ID, nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    _create_append_only_guard()

    op.create_table(
        "residence_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("person_id", ID, nullable=True),
        sa.Column("household_id", ID, nullable=True),
        sa.Column("placement_date", sa.Date(), nullable=False),
        sa.Column("dwelling_id", ID, nullable=True),
        sa.Column("area_id", ID, nullable=True),
        sa.Column("integration_end", sa.Date(), nullable=True),
        sa.Column("moved_out_date", sa.Date(), nullable=True),
        sa.Column("destination", sa.String(40), nullable=True),
        sa.Column("household_type", sa.String(40), nullable=True),
        sa.Column("persons", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_residence_history"),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name="fk_residence_history_dataset_id_datasets"
        ),
    )
    op.create_index("ix_residence_history_dataset_id", "residence_history", ["dataset_id"])


def _create_append_only_guard() -> None:
    """Refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) on audit_log."""
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: {verb} refused'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION placement_audit_log_append_only() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP; "
            "END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION placement_audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION placement_audit_log_append_only()"
        )


def _drop_append_only_guard() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS placement_audit_log_append_only()")


def downgrade() -> None:
    op.drop_index("ix_residence_history_dataset_id", table_name="residence_history")
    op.drop_table("residence_history")
    _drop_append_only_guard()
    op.drop_table("audit_log")
    op.drop_index("uq_allocations_active_household", table_name="allocations")
    op.drop_index("uq_allocations_active_dwelling", table_name="allocations")
    op.drop_table("allocations")
    op.drop_index("ix_decisions_run_id", table_name="decisions")
    op.drop_index("ix_decisions_dataset_id", table_name="decisions")
    op.drop_table("decisions")
    op.drop_table("proposals")
    op.drop_index("ix_runs_scenario_id", table_name="runs")
    op.drop_index("ix_runs_dataset_id", table_name="runs")
    op.drop_table("runs")
    op.drop_index("ix_scenarios_dataset_id", table_name="scenarios")
    op.drop_table("scenarios")
    op.drop_table("dataset_files")
    op.drop_index("ix_datasets_content_sha256", table_name="datasets")
    op.drop_table("datasets")
