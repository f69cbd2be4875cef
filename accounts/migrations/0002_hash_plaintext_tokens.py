"""Carry the plaintext tokens of rest_framework.authtoken over to hashed API keys, then drop
their table.

Each token becomes a key of the same user whose hash is of the token's string, so the
integration sending it goes on working until the key is revoked; its prefix is the token's
first eight characters (what `accounts.models.prefix_of` looks up for a key without a dot).
rest_framework.authtoken is no longer installed, so its table is read with plain SQL, and only
where it exists (a new installation never had it). Its migration records go too, so that
installing the app again would create the table afresh. Keys cannot be turned back into
tokens: the reverse does nothing.
"""

import datetime as dt
import hashlib

from django.conf import settings
from django.db import migrations

LEGACY_TABLE = "authtoken_token"
PREFIX_LENGTH = 8


def _hashed(key: str) -> str:
    # The format of rest_framework_api_key's Sha512ApiKeyHasher, frozen here.
    return "sha512$$" + hashlib.sha512(key.encode()).hexdigest()


def hash_plaintext_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    ApiKey = apps.get_model("accounts", "ApiKey")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote('key')}, {quote('user_id')}, {quote('created')} FROM {quote(LEGACY_TABLE)}"
        )
        rows = cursor.fetchall()
    users = set(User.objects.filter(pk__in={row[1] for row in rows}).values_list("pk", flat=True))
    taken = set(ApiKey.objects.values_list("prefix", flat=True))
    for key, user_id, created in rows:
        prefix = key[:PREFIX_LENGTH]
        if user_id not in users:
            continue
        if prefix in taken:
            # Two tokens sharing their first eight characters (one chance in 4 billion per
            # pair): the second cannot be told apart by prefix and is not carried over.
            print(f"\n  Token of user #{user_id} not carried over (prefix clash): issue a new key.")
            continue
        taken.add(prefix)
        hashed = _hashed(key)
        ApiKey.objects.create(
            id=f"{prefix}.{hashed}",
            prefix=prefix,
            hashed_key=hashed,
            name="Token (carried over)",
            user_id=user_id,
        )
        if isinstance(created, dt.datetime):
            if created.tzinfo is None:
                created = created.replace(tzinfo=dt.UTC)
            ApiKey.objects.filter(prefix=prefix).update(created=created)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {quote(LEGACY_TABLE)}")
        cursor.execute(f"DELETE FROM {quote('django_migrations')} WHERE app = %s", ["authtoken"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(hash_plaintext_tokens, migrations.RunPython.noop)]
