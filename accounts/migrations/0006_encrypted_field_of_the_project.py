import common.fields
from django.db import migrations


class Migration(migrations.Migration):
    """
    The project's own encrypted field replaces django-cryptography's: the same binary column and the same
    stored form (a pickle, encrypted), so the values already there read as before (common/fields.py).
    """

    dependencies = [
        ('accounts', '0005_user_email_verified_at'),
    ]

    operations = [
        migrations.AlterField(
            model_name='user',
            name='phone',
            field=common.fields.EncryptedCharField(blank=True, default='', max_length=32),
        ),
    ]
