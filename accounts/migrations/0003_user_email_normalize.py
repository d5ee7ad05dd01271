"""
Stored addresses in the one normalised form (common.crypto.normalize_email: NFKC, case fold, the dotted-i
look-alikes as "i"), now that every lookup is an exact match on it. Addresses that were ASCII and lower
case already (all that user_create has ever written for ASCII input) are untouched.

On a collision (two stored rows that fold to one address, e.g. "lockss@x" and "lockſs@x") the row
already in normalised form, or else the oldest, keeps the address; the other is left as it is and
listed: it can no
longer log in by address, which is the point (it was a look-alike of another account), and an admin
decides what becomes of it. Nothing is deleted or merged automatically.
"""

from django.db import migrations

from common.crypto import normalize_email


def normalize_stored_emails(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    users = User.objects.using(schema_editor.connection.alias)
    taken = set(users.values_list("email", flat=True))
    collisions = []
    for pk, email in users.values_list("pk", "email").order_by("created_at"):
        folded = normalize_email(email)
        if folded == email:
            continue
        if folded in taken:
            collisions.append(str(pk))
            continue
        users.filter(pk=pk).update(email=folded)
        taken.discard(email)
        taken.add(folded)
    if collisions:
        print(
            "\n  accounts.0003: these users' addresses fold onto another user's and were left as they are "
            f"(they cannot log in by address until an admin changes them): {', '.join(collisions)}"
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_alter_user_preferences")]

    operations = [migrations.RunPython(normalize_stored_emails, migrations.RunPython.noop, elidable=True)]
