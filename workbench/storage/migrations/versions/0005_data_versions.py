"""data versions: the event table version each stored result was computed on, and each ingest made

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 19:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_TABLES = ("analysis_results", "predictions", "reports")


def upgrade() -> None:
    for table in _TABLES:
        op.add_column(table, sa.Column('data_version', sa.Integer(), nullable=True))
    op.add_column('ingests', sa.Column('table_version', sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column('ingests', 'table_version')
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column('data_version')
