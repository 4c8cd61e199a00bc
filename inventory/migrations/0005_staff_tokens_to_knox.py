"""The warehouse API's staff tokens move from DRF's authtoken (kept in clear) to knox (kept as a
hash). Each existing token is kept working: its hash is stored by knox, then the clear copy is deleted."""

from django.db import migrations


def to_knox(apps, schema_editor):
    from knox.crypto import hash_token
    from knox.settings import CONSTANTS

    Token = apps.get_model("authtoken", "Token")
    AuthToken = apps.get_model("knox", "AuthToken")
    AuthToken.objects.bulk_create([
        AuthToken(digest=hash_token(token.key), token_key=token.key[:CONSTANTS.TOKEN_KEY_LENGTH],
                  user_id=token.user_id, expiry=None)
        for token in Token.objects.all()])
    Token.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0004_movement_plain_indexes"),
        ("authtoken", "0003_tokenproxy"),
        ("knox", "0009_extend_authtoken_field"),
    ]

    operations = [
        migrations.RunPython(to_knox, migrations.RunPython.noop),
        migrations.CreateModel(
            name="StaffToken",
            fields=[],
            options={"verbose_name": "warehouse API token", "verbose_name_plural": "warehouse API tokens",
                     "proxy": True, "indexes": [], "constraints": []},
            bases=("knox.authtoken",),
        ),
    ]
