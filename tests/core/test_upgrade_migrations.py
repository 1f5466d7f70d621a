"""An installation made before issue 11 split `apps/knowledge` into index, bible and
knowledge (main at 186520f) upgrades with nothing lost, and can go back and forth.

A throwaway database on the test PostgreSQL server is migrated to the leaf migrations that
main had then, gets a row in every table through the models of that state, and is migrated
to the latest state with `manage.py migrate`'s code (post_migrate included), back, and
forward again. Every row must survive each step unchanged and be readable through today's
models; the only change is the passage content type, which follows the model to `index`.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from django.apps import apps as current_apps
from django.core.management import call_command
from django.core.management.sql import emit_post_migrate_signal
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from psycopg import sql

# The leaf migrations of Theo's apps on main before the split (git show 186520f:apps/<app>/migrations/).
OLD_LEAVES = [
    ("core", "0002_audit_event"),
    ("users", "0001_initial"),
    ("knowledge", "0002_knowledge_entry"),
    ("documents", "0002_note_reference_length"),
    ("chat", "0002_seed_personas"),
]
EMBEDDING = [(i % 16) / 16 for i in range(384)]  # exact in float4: read back unchanged
ALIAS = "upgrade"

# Rows in these tables may change by design: migrations are recorded; the passage content
# type moves to the index app (checked on its own); new models would add content types and
# permissions.
GROWING_TABLES = {"django_migrations", "django_content_type", "auth_permission"}
# What data migrations write: they must write it into the database being migrated.
SEEDED_TABLES = ["django_content_type", "chat_persona"]


def _server_connection() -> psycopg.Connection:
    """An autocommit connection to the maintenance database of the test server."""
    params = connections["default"].get_connection_params()
    keys = ("host", "port", "user", "password")
    return psycopg.connect(dbname="postgres", autocommit=True, **{k: params[k] for k in keys if params.get(k)})


@pytest.fixture
def upgrade_db(django_db_setup: Any, django_db_blocker: Any) -> Iterator[str]:
    """A database alias of a fresh, empty database of its own; dropped afterwards."""
    name = f"theo_upgrade_{secrets.token_hex(4)}"
    config = copy.deepcopy(connections["default"].settings_dict)
    config["NAME"] = name
    config["OPTIONS"].pop("pool", None)
    with django_db_blocker.unblock():
        with _server_connection() as server:
            server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        connections.settings[ALIAS] = config
        shared_before = snapshot("default", SEEDED_TABLES)
        try:
            yield ALIAS
            # Data migrations wrote to the database being migrated, never the test session's.
            assert snapshot("default", SEEDED_TABLES) == shared_before
        finally:
            connections[ALIAS].close()
            del connections[ALIAS]
            del connections.settings[ALIAS]
            with _server_connection() as server:
                server.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def migrate_to_old_main(alias: str) -> Any:
    """Apply what main had before the split, and what `migrate` did after it (content types
    and permissions of that state's models). Returns that state's historical apps."""
    connection = connections[alias]
    executor = MigrationExecutor(connection)
    graph = executor.loader.graph
    theo_apps = {config.label for config in current_apps.get_app_configs() if config.name.startswith("apps.")}
    third_party = [leaf for leaf in graph.leaf_nodes() if leaf[0] not in theo_apps]
    targets = third_party + OLD_LEAVES
    plan = executor.migration_plan(targets)
    state = executor.migrate(targets, plan=plan)
    state.clear_delayed_apps_cache()
    emit_post_migrate_signal(verbosity=0, interactive=False, db=alias, apps=state.apps, plan=plan)
    applied = MigrationRecorder(connection).applied_migrations()
    assert not {app for app, _ in applied} & {"index", "bible"}
    assert state.apps.get_model("chat.Persona").objects.using(alias).exists(), "personas seeded elsewhere"
    return state.apps


class Maker:
    """Creates rows in the upgrade database through the historical models of `old`."""

    def __init__(self, old: Any, alias: str) -> None:
        self.old, self.alias = old, alias

    def objects(self, label: str) -> Any:
        return self.old.get_model(label).objects.using(self.alias)

    def __call__(self, label: str, **fields: Any) -> Any:
        return self.objects(label).create(**fields)


def seed_old_state(old: Any, alias: str) -> dict[str, Any]:
    """One row (at least) in every table of the old state, written by its historical models."""
    make = Maker(old, alias)
    content_type = make.objects("contenttypes.ContentType").get(app_label="knowledge", model="passage")
    permissions = list(make.objects("auth.Permission").filter(content_type=content_type))
    group = make("auth.Group", name="Passage editors")
    group.permissions.set(permissions)
    user = make("users.User", email="reader@example.org", display_name="Reader", password="!", status="approved")
    user.groups.add(group)
    user.user_permissions.add(permissions[0])
    make("core.AuditEvent", actor=user, actor_email=user.email, action="user.approve", data={"why": "test"})
    passage, note = seed_document_with_passage(make, owner=user)
    entry = make("knowledge.KnowledgeEntry", title="Logos", body="The Word.", tags=["christology"], author=user)
    persona = make.objects("chat.Persona").order_by("sort_order").first()
    conversation = make("chat.Conversation", owner=user, title="John 1", persona=persona)
    message = make("chat.Message", conversation=conversation, role="assistant", content="It is.", citations=[{"n": 1}])
    make("chat.AIUsage", user=user, message=message, model="claude", input_tokens=3, cost_usd=Decimal("0.000123"))
    log = make(
        "admin.LogEntry",
        user=user,
        content_type=content_type,
        object_id=str(passage.pk),
        object_repr="John 1:1",
        action_flag=2,
        change_message="[]",
        action_time=timezone.now(),
    )
    seed_sessions_tokens_and_schedules(make, user=user)
    return {
        "user": user.pk,
        "group": group.pk,
        "passage": passage.pk,
        "note": note.pk,
        "entry": entry.pk,
        "log": log.pk,
        "content_type": content_type.pk,
        "permissions": {p.codename: p.pk for p in permissions},
    }


def seed_document_with_passage(make: Maker, *, owner: Any) -> tuple[Any, Any]:
    """A shared document, one of its passages (vector, arrays, pages) and a note on it."""
    sharee = make("users.User", email="sharee@example.org", display_name="Sharee", password="!")
    document = make(
        "documents.Document",
        owner=owner,
        title="Institutes",
        file_type="pdf",
        original_filename="institutes.pdf",
        size_bytes=1234,
        sha256="0" * 64,
        status="completed",
        stage="done",
        stage_log=[{"stage": "done"}],
        themes=["grace"],
    )
    make("documents.DocumentAccess", document=document, user=sharee, created_by=owner)
    passage = make(
        "knowledge.Passage",
        source_kind="document",
        source_id=document.pk,
        chunk_index=0,
        title="Book I",
        text="In the beginning was the Word, and the Word was with God.",
        embedding=EMBEDDING,
        embedding_model="all-MiniLM-L6-v2",
        page_start=1,
        page_end=2,
        reference="John 1:1",
        scripture_references=["John 1:1", "Genesis 1:1"],
        verse_ids=[43001001, 1001001],
        owner_id=owner.pk,
        shared_with=[sharee.pk],
    )
    note = make("documents.DocumentNote", document=document, author=owner, passage=passage, page=1, body="Logos")
    return passage, note


def seed_sessions_tokens_and_schedules(make: Maker, *, user: Any) -> None:
    now = timezone.now()
    make("sessions.Session", session_key="s" * 32, session_data="e30:", expire_date=now + timedelta(days=1))
    token = make(
        "token_blacklist.OutstandingToken", user=user, jti="j" * 32, token="a.b.c", created_at=now, expires_at=now
    )
    make("token_blacklist.BlacklistedToken", token=token)
    interval = make("django_celery_beat.IntervalSchedule", every=1, period="days")
    make("django_celery_beat.CrontabSchedule", minute="0", hour="3", timezone="UTC")
    make("django_celery_beat.SolarSchedule", event="sunrise", latitude=Decimal("51.5"), longitude=Decimal("0.1"))
    make("django_celery_beat.ClockedSchedule", clocked_time=now)
    make("django_celery_beat.PeriodicTask", name="nightly", task="theo.nightly", interval=interval)
    make("django_celery_beat.PeriodicTasks", ident=1, last_update=now)


def table_columns(alias: str) -> dict[str, list[str]]:
    """Every table's columns, in order."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        return {
            table: [column.name for column in connection.introspection.get_table_description(cursor, table)]
            for table in connection.introspection.table_names(cursor)
        }


def snapshot(
    alias: str, tables: list[str] | None = None, *, columns: dict[str, list[str]] | None = None
) -> dict[str, list[str]]:
    """Every row of every table (or of `tables`), as text, sorted (of django_migrations:
    which ones, not when). `columns`: only these columns of the tables named (those of the
    old state: a later migration may add columns, with defaults, to an old table)."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        tables = tables or connection.introspection.table_names(cursor)
        rows = {}
        for table in tables:
            columns_sql: sql.Composable = sql.SQL("*")
            if table == "django_migrations":
                columns_sql = sql.SQL("app, name")
            elif columns and table in columns:
                columns_sql = sql.SQL(", ").join(sql.Identifier(name) for name in columns[table])
            query = sql.SQL("SELECT {} FROM {}").format(columns_sql, sql.Identifier(table))
            cursor.execute(query.as_string(cursor.connection))
            rows[table] = sorted(repr(row) for row in cursor.fetchall())
    return rows


def assert_rows_kept(before: dict[str, list[str]], after: dict[str, list[str]]) -> None:
    missing_tables = set(before) - set(after)
    assert not missing_tables, f"tables dropped: {missing_tables}"
    for table, rows in before.items():
        if table in GROWING_TABLES:
            lost = set(rows) - set(after[table])
            if table == "django_content_type":
                lost = {row for row in lost if "'passage'" not in row}
            assert not lost, f"{table} lost rows: {lost}"
        else:
            assert after[table] == rows, f"{table} changed"


def assert_readable_by_current_models(alias: str, old_tables: dict[str, list[str]]) -> None:
    """Every table of the old state has a model today, which reads all its rows."""
    models = {model._meta.db_table: model for model in current_apps.get_models(include_auto_created=True)}
    unmodelled = set(old_tables) - set(models) - {"django_migrations"}
    assert not unmodelled, f"no current model reads {unmodelled}"
    for table, model in models.items():
        if table in old_tables:
            rows = list(model._base_manager.using(alias).all())
            assert len(rows) >= len(old_tables[table]) > 0, table


def assert_passage_belongs_to_index(alias: str, ids: dict[str, Any]) -> None:
    from django.contrib.admin.models import LogEntry
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    from apps.documents.models import DocumentNote
    from apps.index.models import Passage
    from apps.knowledge.models import KnowledgeEntry
    from apps.users.models import User

    passage = Passage.objects.using(alias).get(pk=ids["passage"])
    assert list(passage.embedding) == EMBEDDING
    assert passage.scripture_references == ["John 1:1", "Genesis 1:1"]
    assert passage.verse_ids == [43001001, 1001001]
    assert passage.owner_id == ids["user"]
    assert "word" in passage.search_vector  # the generated column is still computed
    # Stored before page labels: its page number stands as its label until it is reprocessed.
    assert (passage.page_label, passage.section) == (str(passage.page_start), "")
    assert DocumentNote.objects.using(alias).get(pk=ids["note"]).passage == passage
    assert KnowledgeEntry.objects.using(alias).get(pk=ids["entry"]).author_id == ids["user"]

    ContentType.objects.clear_cache()
    content_type = ContentType.objects.using(alias).get(pk=ids["content_type"])
    assert (content_type.app_label, content_type.model) == ("index", "passage")
    assert content_type.model_class() is Passage
    assert not ContentType.objects.using(alias).filter(app_label="knowledge", model="passage").exists()
    assert ContentType.objects.db_manager(alias).get_for_model(Passage) == content_type
    log = LogEntry.objects.using(alias).get(pk=ids["log"])
    assert log.content_type.get_object_for_this_type(using=alias, pk=log.object_id) == passage

    permissions = Permission.objects.using(alias).filter(content_type=content_type)
    assert {p.codename: p.pk for p in permissions} == ids["permissions"]
    group = Group.objects.using(alias).get(pk=ids["group"])
    assert set(group.permissions.values_list("pk", flat=True)) == set(ids["permissions"].values())
    user = User.objects.using(alias).get(pk=ids["user"])
    assert user.user_permissions.get().content_type == content_type
    assert list(user.groups.values_list("pk", flat=True)) == [ids["group"]]


def assert_rolled_back_to(old: dict[str, list[str]], rolled_back: dict[str, list[str]]) -> None:
    """Every table as it was, except that content types and permissions of models added
    since (e.g. chat.Digest) stay: Django never deletes them when a migration is unapplied."""
    stays = {"django_content_type", "auth_permission"}
    assert {t: rows for t, rows in rolled_back.items() if t not in stays} == {
        t: rows for t, rows in old.items() if t not in stays
    }
    for table in stays:
        assert set(old[table]) <= set(rolled_back[table]), table


def test_a_database_of_main_before_the_split_upgrades_with_every_row_readable(upgrade_db: str) -> None:
    alias = upgrade_db
    old_apps = migrate_to_old_main(alias)
    ids = seed_old_state(old_apps, alias)
    old = snapshot(alias)
    old_columns = table_columns(alias)
    empty = sorted(table for table, rows in old.items() if not rows)
    assert not empty, f"the test writes no row into {empty}: add one to seed_old_state"

    call_command("migrate", database=alias, verbosity=0, interactive=False)
    upgraded = snapshot(alias)
    assert_rows_kept(old, snapshot(alias, columns=old_columns))  # later migrations may add columns
    assert_readable_by_current_models(alias, old)
    assert_passage_belongs_to_index(alias, ids)

    # Back to main's state (unapplying index 0001 unapplies what depends on it) ...
    call_command("migrate", "index", "zero", database=alias, verbosity=0, interactive=False)
    for app, leaf in OLD_LEAVES:  # and what later migrations of the old apps added
        call_command("migrate", app, leaf, database=alias, verbosity=0, interactive=False)
    assert_rolled_back_to(old, snapshot(alias))

    # ... and forward again.
    call_command("migrate", database=alias, verbosity=0, interactive=False)
    assert snapshot(alias) == upgraded
    assert_passage_belongs_to_index(alias, ids)


@pytest.mark.django_db
def test_the_models_need_no_migration_that_is_not_written() -> None:
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
