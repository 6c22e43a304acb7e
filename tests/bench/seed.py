"""A big catalog in seconds: catalog entries and guides made by Postgres itself (INSERT ... SELECT generate_series).

Used by the `pages` benchmark (100,000 entries, 10,000 guides) and by tests/portal/test_big_catalog.py. Each entry
has four of 40 topic words (in its name, tags, summary and body) and 12 filler words from a vocabulary of 3,001, so
a one-word search finds about a tenth of the catalog and a two-word one about a hundredth (not everything matches).
Rows are named `big-<n>`; filling again adds only what is missing.
"""

from __future__ import annotations

TOPICS = (  # noqa: SIM905 (forty words read better as one string)
    "notebook gpu training storage bucket database python model data pipeline monitoring kubernetes slurm cluster "
    "jupyter terraform network security backup archive imaging genomics microscopy simulation climate chemistry "
    "physics statistics visualisation dashboard workflow container registry identity access compute scheduler "
    "queue metrics logging"
).split()
KINDS = ["service", "tool", "library", "api", "dataset", "link"]
LIFECYCLES = ["production", "production", "experimental", "deprecated"]

_TOPIC = "(%(topics)s::text[])[1 + ({expr}) %% 40]"
# Twelve filler words per row out of a vocabulary of 3,001 (a real catalog's words repeat; millions of distinct
# words would make the full-text index, and the load, many times bigger than any real catalog's).
_FILLER = " || ' ' || ".join(
    f"'w' || ((g::bigint * {prime} + {k}) %% 3001)"
    for k, prime in enumerate(
        (7919, 104729, 1299709, 15485863, 179424673, 2038074743, 7907, 104723, 1299689, 15485857, 179424691, 2038074751)
    )
)

ENTRIES_SQL = f"""
INSERT INTO catalog_entry (created_at, updated_at, slug, name, kind, summary, body, owner_label, tags, lifecycle,
    links, featured, annotations, system)
SELECT now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval, 'big-' || g,
    initcap({_TOPIC.format(expr="g")}) || ' ' || (%(kinds)s::text[])[1 + g %% 6] || ' ' || g,
    (%(kinds)s::text[])[1 + g %% 6],
    'About ' || {_TOPIC.format(expr="g * 7 + 3")} || ' for ' || {_TOPIC.format(expr="g * 13 + 5")} || ' work',
    {_TOPIC.format(expr="g")} || ' ' || {_TOPIC.format(expr="g * 31 + 11")} || ' ' || {_FILLER},
    'Research computing',
    ARRAY[{_TOPIC.format(expr="g")}, {_TOPIC.format(expr="g * 7 + 3")}],
    (%(lifecycles)s::text[])[1 + g %% 4],
    '[]'::jsonb, g %% 5000 = 0, '{{}}'::jsonb, ''
FROM generate_series(%(start)s, %(stop)s) AS g
"""

GUIDES_SQL = f"""
INSERT INTO guides_guide (created_at, updated_at, slug, title, kind, summary, body, steps, owner_label, reviewed_at,
    review_every_days, tags, source_path, source_hash, published)
SELECT now(), now(), 'big-' || g, 'How to use ' || {_TOPIC.format(expr="g")} || ' ' || g,
    CASE WHEN g %% 2 = 0 THEN 'guide' ELSE 'article' END,
    'A guide to ' || {_TOPIC.format(expr="g * 7 + 3")},
    '## Start' || E'\\n\\n' || {_TOPIC.format(expr="g")} || ' ' || {_FILLER} || E'\\n\\n## Next\\n\\n' ||
        {_TOPIC.format(expr="g * 13 + 5")},
    '[{{"id": "start", "title": "Start"}}, {{"id": "next", "title": "Next"}}]'::jsonb, 'Research computing',
    current_date, 180, ARRAY[{_TOPIC.format(expr="g")}], '', '', true
FROM generate_series(%(start)s, %(stop)s) AS g
"""


def fill(connection, *, entries: int, guides: int, analyze: bool = True) -> tuple[int, int]:
    """Make sure there are `entries` big-* catalog entries and `guides` big-* guides; VACUUM ANALYZE after (as
    autovacuum would in a while) so the planner sees the real sizes. Returns the numbers of rows of each table."""
    params = {"topics": list(TOPICS), "kinds": KINDS, "lifecycles": LIFECYCLES}
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM catalog_entry WHERE slug LIKE 'big-%%'")
        have = cursor.fetchone()[0]
        if have < entries:
            cursor.execute(ENTRIES_SQL, {**params, "start": have, "stop": entries - 1})
        cursor.execute("SELECT count(*) FROM guides_guide WHERE slug LIKE 'big-%%'")
        have = cursor.fetchone()[0]
        if have < guides:
            cursor.execute(GUIDES_SQL, {**params, "start": have, "stop": guides - 1})
        if analyze:
            # VACUUM cannot run inside a transaction (a test's); ANALYZE can, and is what the planner needs.
            for table in ("catalog_entry", "guides_guide"):
                cursor.execute(f"{'VACUUM ' if connection.get_autocommit() else ''}ANALYZE {table}")
        cursor.execute("SELECT (SELECT count(*) FROM catalog_entry), (SELECT count(*) FROM guides_guide)")
        return cursor.fetchone()
