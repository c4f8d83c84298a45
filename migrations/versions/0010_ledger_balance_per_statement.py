"""the ledger's balance check once per statement, not once per line at commit

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 17:00:00

0008 checked each entry's balance by a deferred constraint trigger FOR EACH ROW of
``ledger_lines``: at commit, one plpgsql call and one aggregate per line (measured: a sixth of
the daily earning job, 200,000 calls for 100,000 policies), and in a transaction that never
commits (the API's tests) never. Now an AFTER INSERT trigger FOR EACH STATEMENT with the
statement's new lines as a transition table checks, in one query, that every entry the
statement touched balances in every currency. A statement must therefore write all the lines of
an entry (the ledger's repository writes an entry's lines in one INSERT, a batch's by one
COPY); lines added to an entry later must balance on their own. Stricter than before, and
checked at once instead of at commit.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PER_STATEMENT = """
CREATE FUNCTION check_entries_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    unbalanced text;
BEGIN
    SELECT string_agg(entry_id || ' (' || currency || ' ' || total || ')', ', ') INTO unbalanced
    FROM (
        SELECT l.entry_id, l.currency, sum(l.amount_minor) AS total FROM ledger_lines l
        WHERE l.entry_id IN (SELECT DISTINCT entry_id FROM new_lines)
        GROUP BY l.entry_id, l.currency HAVING sum(l.amount_minor) <> 0
        ORDER BY l.entry_id, l.currency LIMIT 5
    ) AS sums;
    IF unbalanced IS NOT NULL THEN
        RAISE EXCEPTION 'ledger entries do not balance: %', unbalanced
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$
"""

_PER_ROW = """
CREATE FUNCTION check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    unbalanced text;
BEGIN
    SELECT string_agg(currency || ' ' || total, ', ') INTO unbalanced FROM (
        SELECT currency, sum(amount_minor) AS total FROM ledger_lines
        WHERE entry_id = NEW.entry_id GROUP BY currency HAVING sum(amount_minor) <> 0
    ) AS sums;
    IF unbalanced IS NOT NULL THEN
        RAISE EXCEPTION 'ledger entry % does not balance: %', NEW.entry_id, unbalanced
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.execute("DROP TRIGGER ledger_lines_balanced ON ledger_lines")
    op.execute("DROP FUNCTION check_entry_balanced()")
    op.execute(_PER_STATEMENT)
    op.execute(
        "CREATE TRIGGER ledger_lines_balanced AFTER INSERT ON ledger_lines"
        " REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT"
        " EXECUTE FUNCTION check_entries_balanced()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER ledger_lines_balanced ON ledger_lines")
    op.execute("DROP FUNCTION check_entries_balanced()")
    op.execute(_PER_ROW)
    op.execute(
        "CREATE CONSTRAINT TRIGGER ledger_lines_balanced AFTER INSERT ON ledger_lines"
        " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_entry_balanced()"
    )
